/* CNI plugin logic that needs no kernel or agent: parsing the runtime's environment and
 * network configuration, naming endpoints, building results and errors, and judging what
 * CHECK found in the container's namespace. CNI specification 1.0.0 / 1.1.0. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "cidr.h"
#include "endpoint.h"

/* Error codes from the CNI specification; 100 and up are petrel's own. */
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
	CNI_ERR_PLUGIN = 100,        /* the agent refused the request (details: its message) */
	CNI_ERR_CHECK = 101,         /* CHECK: the container's networking is not as it should be */
};

#define CNI_DEFAULT_SOCKET "/run/petrel/petreld.sock"
#define CNI_GW4 "169.254.1.1"
#define CNI_GW6 "fe80::1"
/* Labels every CNI endpoint carries: GC only touches endpoints of its own network. */
#define CNI_LABEL_MARK "petrel.io/cni"
#define CNI_LABEL_NETWORK "petrel.io/cni-network"
#define CNI_LABEL_CONTAINER "petrel.io/container"

struct cni_attachment {
	char container_id[256];
	char ifname[16];
};

struct cni_env {
	char command[16];
	char container_id[256];
	char netns[512];
	char ifname[16];
	char args[1024];              /* CNI_ARGS, "K=V;K=V" (optional) */
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
	/* Addresses the runtime asks for (runtimeConfig.ips, or CNI_ARGS IP=): Podman restoring
	 * a checkpoint asks for the ones it had. Family 0: none. */
	struct ip_addr want4, want6;
	bool has_valid;               /* GC: cni.dev/valid-attachments was given */
	int n_valid;
	struct cni_attachment *valid;
};

struct cni_error {
	int code;
	char msg[256];
	char details[512];
};

/* What CHECK found inside the container's namespace (filled by cni/nsquery.c). */
#define CNI_NS_MAX_ADDRS  16
#define CNI_NS_MAX_ROUTES 32
struct cni_ns_route {
	struct cidr dst;
	struct ip_addr gw;            /* family 0: no gateway */
};

struct cni_ns_state {
	bool link_found, link_up;
	uint8_t mac[6];
	int n_addrs, n_routes;
	struct cidr addrs[CNI_NS_MAX_ADDRS];
	struct cni_ns_route routes[CNI_NS_MAX_ROUTES];   /* main table, out of the interface */
};

bool cni_version_supported(const char *v);
/* Compare "x.y.z" versions like strcmp; unparsable parts count as 0. */
int cni_version_cmp(const char *a, const char *b);
/* getenv-like lookup, so tests can supply their own environment. */
typedef const char *(*cni_getenv_fn)(const char *name);
int cni_env_parse(cni_getenv_fn get, struct cni_env *env, struct cni_error *e);
int cni_conf_parse(const char *text, size_t len, struct cni_conf *conf, struct cni_error *e);
/* Labels from CNI_ARGS (Kubernetes' K8S_POD_NAMESPACE and K8S_POD_NAME). */
int cni_conf_apply_args(struct cni_conf *conf, const char *cni_args, struct cni_error *e);
void cni_conf_free(struct cni_conf *conf);
/* Deterministic endpoint name for one attachment (network, container id, ifname):
 * "cni-" + 16 hex digits. */
void cni_endpoint_name(const char *network, const char *container_id, const char *ifname,
		       char out[EP_NAME_MAX]);
/* The agent request for ADD. Caller decrefs. */
json_t *cni_add_request(const struct cni_conf *conf, const struct cni_env *env);
/* Result for ADD from the endpoint the agent returned, appended to prevResult if there is
 * one. Returns NULL (with *e set) when the endpoint lacks its address or MAC. */
json_t *cni_result(const struct cni_conf *conf, const struct cni_env *env,
		   const struct endpoint *ep, struct cni_error *e);
/* CHECK: does the namespace state match the agent's endpoint and the prevResult? */
int cni_check(const struct cni_conf *conf, const struct cni_env *env, const struct endpoint *ep,
	      const struct cni_ns_state *st, struct cni_error *e);
/* GC: is this endpoint of `node` an attachment of this network the runtime no longer lists? */
bool cni_gc_stale(const struct cni_conf *conf, const char *node, const struct endpoint *ep);
json_t *cni_error_json(const char *version, const struct cni_error *e);
int cni_fail(struct cni_error *e, int code, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
