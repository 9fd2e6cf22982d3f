/* The container model: a plain struct, its stored JSON form (/petrel/containers/NAME), and
 * validation of `run` requests. Pure code (no kernel access), unit-tested and fuzzed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "cidr.h"
#include "endpoint.h"

#define CT_MAX_ARGS   32        /* cmd and env entries */
#define CT_ARG_MAX    256       /* bytes per cmd/env entry, NUL included */
#define CT_PATH_MAX   512
#define CT_IMAGE_ID_MAX 80          /* "sha256:" and 64 hex digits */

/* Lifecycle states; "migrating" belongs to the migration code. */
#define CT_CREATING  "creating"
#define CT_RUNNING   "running"
#define CT_STOPPED   "stopped"    /* stopped by `petrel stop` */
#define CT_EXITED    "exited"     /* its process ended on its own */
#define CT_ERROR     "error"
#define CT_MIGRATING "migrating"

struct container {
	char name[EP_NAME_MAX];
	char node[EP_NAME_MAX];
	char state[16];
	int pid;                              /* host pid of the container's init, 0 if none */
	char rootfs[CT_PATH_MAX];             /* read-only lower layer (absolute path), or "" */
	char image[CT_PATH_MAX];              /* or an OCI image: the reference as given, */
	char image_id[CT_IMAGE_ID_MAX];       /* and its config digest, "sha256:<hex>" */
	char cwd[CT_PATH_MAX];                /* working directory ("" is /) */
	uint32_t uid, gid;                    /* the process's user (the image's User) */
	char netns[256];                      /* the endpoint's netns name (/run/netns/NAME) */
	int n_cmd, n_env, n_labels, n_publish;
	char cmd[CT_MAX_ARGS][CT_ARG_MAX];
	char env[CT_MAX_ARGS][CT_ARG_MAX];    /* "KEY=VALUE" */
	struct ep_label labels[EP_MAX_LABELS];
	struct ep_publish publish[EP_MAX_PUBLISH];
	uint64_t memory;                      /* memory limit in bytes, 0: none */
	struct ip_addr ip4, ip6;              /* family 0 when unknown */
	int64_t created;                      /* unix time */
	int exit_code;                        /* -1 while unknown; 128+N after signal N */
};

/* POST /v1/containers body: {name, rootfs | image, cmd[], env[], labels{}, publish[],
 * memory}; cmd may be empty with an image (its Cmd then). Fills the request fields of c
 * (state "creating", exit_code -1); -EINVAL with a message naming the field. */
int container_request_parse(json_t *body, struct container *c, char *err, size_t errlen);
/* "KEY=VALUE" with KEY of [A-Za-z_][A-Za-z0-9_]* and the whole under CT_ARG_MAX. */
bool container_env_valid(const char *s);
/* Absolute, no "..", ',', ':' or whitespace (it goes into overlay mount options). */
bool container_path_valid(const char *s);
/* A rootfs: a valid path that is neither / nor one of the host's own top-level trees
 * (/etc, /usr, /var, ...), which would hand the host's files to a container. */
bool container_rootfs_valid(const char *s);
bool container_state_valid(const char *s);
/* An image reference: "oci:DIR[:TAG]" or a name in containers-storage (no spaces, ',',
 * or control characters; under CT_PATH_MAX). */
bool container_image_ref_valid(const char *s);

json_t *container_to_json(const struct container *c);
int container_from_json(json_t *obj, struct container *c);   /* -EINVAL on bad fields */
char *container_encode(const struct container *c);            /* stored form; caller frees */
int container_decode(const char *text, struct container *c);

/* Container output (any bytes) as a JSON string: valid UTF-8 is kept, every byte of an
 * invalid sequence (and NUL) becomes U+FFFD. */
json_t *container_log_string(const void *data, size_t n);
