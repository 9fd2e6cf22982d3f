/* petreld's shared state: one node's configuration, store, datapath and endpoints.
 * HTTP handlers and the cluster watch thread both work under agent.lock. */
#pragma once
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <time.h>
#include <jansson.h>
#include "config.h"
#include "store.h"
#include "endpoint.h"
#include "datapath.h"

#define VXLAN_DEV     "petrel_vxlan"
#define VXLAN_PORT    4789
#define VXLAN_OVERHEAD 50

/* Store layout (keys under one prefix, values JSON). */
#define KEY_NODES     "/petrel/nodes/"
#define KEY_ALIVE     "/petrel/alive/"
#define KEY_BLOCKS    "/petrel/blocks/"
#define KEY_ENDPOINTS "/petrel/endpoints/"
#define KEY_PORTS     "/petrel/ports/"
#define NODE_LEASE_TTL 10

struct agent {
	struct petreld_config cfg;
	struct store *store;
	struct datapath *dp;
	pthread_mutex_t lock;
	uint64_t block_index;
	struct cidr block4, block6;
	int64_t lease;
	time_t started;
	volatile int stopping;
	pthread_t watch_thread, keepalive_thread;
	bool threads_started;
};

/* An error for the API layer: HTTP status + message + optional hint. */
struct api_error {
	int status;
	char msg[512];
	char hint[256];
};

int api_fail(struct api_error *e, int status, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* api.c: HTTP+JSON server on the Unix socket. Route modules see only this request view. */
struct api_request {
	const char *method;
	const char *path;
	json_t *body;                /* parsed JSON body, or NULL (then body_error says why) */
	char body_error[256];
};
/* Returns an HTTP status with *resp set, -1 with *e filled, or 0 when the path is not its. */
typedef int (*api_route_fn)(struct agent *a, const struct api_request *rq, json_t **resp,
			    struct api_error *e);

/* node.c: bring-up of this node: block claim, registry, vxlan, nft, datapath. */
int node_start(struct agent *a, struct api_error *e);
int node_status_json(struct agent *a, json_t **out);
void node_stop(struct agent *a);

/* cluster.c: make the datapath's location map match cluster state; watch for changes. */
int cluster_sync(struct agent *a);
int cluster_threads_start(struct agent *a);
void cluster_threads_stop(struct agent *a);
/* Every endpoint in the cluster (sorted by name); caller frees. */
int cluster_endpoints(struct agent *a, struct endpoint **eps, size_t *n);
int cluster_endpoint_get(struct agent *a, const char *name, struct endpoint *ep);

/* endpoint.c: local endpoint lifecycle. */
int endpoint_create(struct agent *a, const struct ep_request *req, struct endpoint *out,
		    struct api_error *e);
int endpoint_delete(struct agent *a, const char *name, struct api_error *e);
/* Re-establish datapath state for local endpoints after an agent restart. */
int endpoints_restore(struct agent *a);
json_t *endpoint_json_with_counters(struct agent *a, const struct endpoint *ep);

/* identity.c: label set → identity, cluster-wide and reference-counted per endpoint. */
int identity_acquire(struct agent *a, const struct endpoint *ep, uint32_t *id);
int identity_release(struct agent *a, const struct endpoint *ep);

/* policy.c: policies compiled into the datapath, and the flow log. */
int policy_sync(struct agent *a);
int policy_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);
uint32_t policy_id_of(const char *name);
int flows_start(struct agent *a);
void flows_stop(struct agent *a);
char *flows_next(uint64_t *cursor, const char *endpoint, const char *verdict, int wait_ms);
uint64_t flows_oldest(void);
uint64_t flows_now(void);

/* classic.c: the iptables-on-a-bridge baseline (policy-backend = iptables). */
#define CLASSIC_BRIDGE "petrel0"
struct classic_peers {
	struct { struct cidr prefix; uint32_t identity; } *v;
	size_t n;
};
int classic_setup(struct agent *a);
const uint8_t *classic_gateway_mac(void);
int classic_endpoint_attach(struct agent *a, const struct endpoint *ep);
int classic_route_block(const struct cidr *block, const struct ip_addr *node);
int classic_policy_apply(struct agent *a, const struct dp_policy_entry *in, size_t n,
			 const struct dp_enforce *enforce, size_t n_enforce,
			 const struct endpoint *local, size_t n_local, const struct classic_peers *peers);

/* ioam.c: IPv6 IOAM (native mode): config in cluster state, programs on the underlay. */
int ioam_start(struct agent *a);
void ioam_stop(struct agent *a);
int ioam_sync(struct agent *a);
int ioam_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);
char *ioam_traces_next(uint64_t *cursor, const char *unused1, const char *unused2, int wait_ms);
uint64_t ioam_traces_cursor(bool now);
void ioam_metrics(struct agent *a, FILE *f);

/* metrics.c */
char *metrics_prometheus(struct agent *a);


struct api_server;
int api_start(struct agent *a, struct api_server **srv);
void api_stop(struct api_server *srv);
