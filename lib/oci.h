/* OCI runtime configuration (config.json, runtime-spec 1.0) for a petrel container: pure
 * code from the container model to a jansson object, unit-tested. */
#pragma once
#include <jansson.h>
#include "container.h"

struct oci_opts {
	const char *netns_path;     /* "/run/netns/<netns>": the endpoint's network namespace */
	const char *cgroups_path;   /* "/petrel/<node>/<name>" */
	const char *latency_dir;    /* host dir bind-mounted read-only at /run/petrel; NULL: none */
	const char *criu_config;    /* CRIU options file runc hands to CRIU; NULL: runc's default */
};

#define OCI_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OCI_NOFILE 1024

/* The masked paths that are directories on Linux: runc hides each under an empty
 * read-only tmpfs (a file is hidden under a bind of /dev/null). */
extern const char *const oci_masked_dirs[];

/* The config for c (process from c->cmd and c->env, hostname c->name, rootfs "rootfs"
 * relative to the bundle, memory limit from c->memory). NULL when out of memory. */
json_t *oci_config(const struct container *c, const struct oci_opts *o);
