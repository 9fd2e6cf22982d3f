/* OCI images for `petrel run --image`: the parts that are pure code. Reading an image
 * layout's index and manifest, an image config's process fields (Entrypoint, Cmd, Env,
 * WorkingDir, User), and applying them to a container. Unit-tested and fuzzed. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "container.h"

#define IMAGE_MAX_LAYERS 64
#define IMAGE_DIGEST_MAX 80                   /* "sha256:" + 64 hex */

struct image_config {
	int n_entrypoint, n_cmd, n_env;
	char entrypoint[CT_MAX_ARGS][CT_ARG_MAX];
	char cmd[CT_MAX_ARGS][CT_ARG_MAX];
	char env[CT_MAX_ARGS][CT_ARG_MAX];
	char workdir[CT_PATH_MAX];
	char user[128];
};

/* An image resolved on a node: its id (config digest), its layers as an overlay lowerdir
 * list (top first, ':'-separated), and its config. */
#define IMAGE_LOWER_MAX 3072                  /* the kernel takes a page of mount options */
struct image_info {
	char id[IMAGE_DIGEST_MAX];
	char lower[IMAGE_LOWER_MAX];
	struct image_config cfg;
};

/* The "config" object of an OCI image config (or Podman's inspect "Config"): absent fields
 * stay empty. -EINVAL with err naming the field. */
int image_config_parse(json_t *config, struct image_config *ic, char *err, size_t len);

/* "sha256:<64 lowercase hex>" */
bool image_digest_valid(const char *d);

/* From an image layout's index.json: the manifest for tag (NULL: the only one). */
int image_layout_pick(const char *index_json, const char *tag, char digest[IMAGE_DIGEST_MAX],
		      char *err, size_t len);

struct image_manifest {
	char config[IMAGE_DIGEST_MAX];
	int n_layers;
	struct {
		char digest[IMAGE_DIGEST_MAX];
		bool gzip;                        /* tar+gzip, else plain tar */
	} layers[IMAGE_MAX_LAYERS];            /* base first */
};
int image_manifest_parse(const char *text, struct image_manifest *m, char *err, size_t len);

/* The image's User as uid/gid: numbers, or names looked up in the image's /etc/passwd and
 * /etc/group texts (either may be NULL). */
int image_user_resolve(const char *user, const char *passwd, const char *group, uint32_t *uid,
		       uint32_t *gid, char *err, size_t len);

/* The container's process from the image: Entrypoint then c's own cmd (given on the
 * command line) or the image's Cmd; the image's Env under c's own; WorkingDir. */
int image_apply(const struct image_config *ic, struct container *c, char *err, size_t len);
