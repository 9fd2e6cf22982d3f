/* CNI plugin logic that needs no kernel or agent: parsing the runtime's environment and
 * network configuration, naming endpoints, and building spec-conformant results and errors.
 * CNI specification 1.0.0 / 1.1.0. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "endpoint.h"

/* Error codes from the CNI specification. */
enum {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_LATER = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_PLUGIN = 100,        /* petrel's own: the agent refused the request */
};

#define CNI_DEFAULT_SOCKET "/run/petrel/petreld.sock"
#define CNI_MAX_ATTACH 256

struct cni_attachment {
	char container_id[256];
	char ifname[16];
};

struct cni_env {
	char command[16];
	char container_id[256];
	char netns[512];
	char ifname[16];
};

struct cni_conf {
	char version[16];
	char name[128];
	char socket[256];
	int n_labels, n_publish;
	struct ep_label labels[EP_MAX_LABELS];
	struct ep_publish publish[EP_MAX_PUBLISH];
	json_t *prev_result;          /* owned; NULL if absent */
	json_t *dns;                  /* owned; {} if absent */
	int n_valid;                  /* GC: cni.dev/valid-attachments */
	struct cni_attachment *valid;
};

struct cni_error {
	int code;
	char msg[256];
	char details[512];
};

bool cni_version_supported(const char *v);
/* getenv-like lookup, so tests can supply their own environment. */
typedef const char *(*cni_getenv_fn)(const char *name);
int cni_env_parse(cni_getenv_fn get, struct cni_env *env, struct cni_error *e);
int cni_conf_parse(const char *text, size_t len, struct cni_conf *conf, struct cni_error *e);
void cni_conf_free(struct cni_conf *conf);
/* Deterministic endpoint name for (container id, ifname): "cni-" + 16 hex digits. */
void cni_endpoint_name(const char *container_id, const char *ifname, char out[EP_NAME_MAX]);
/* The agent request for ADD. Caller decrefs. */
json_t *cni_add_request(const struct cni_conf *conf, const struct cni_env *env);
/* Result for ADD from the endpoint the agent returned. Caller decrefs. */
json_t *cni_result(const struct cni_conf *conf, const struct cni_env *env, json_t *endpoint);
json_t *cni_error_json(const char *version, const struct cni_error *e);
int cni_fail(struct cni_error *e, int code, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
