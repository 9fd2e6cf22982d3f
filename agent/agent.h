/* petreld's shared state: one node's configuration, store, datapath and endpoints.
 * API writes and migrations work under agent.lock; cluster state reaches subsystems as
 * deltas from the cache (cluster.c) on its own thread, which never takes agent.lock. */
#pragma once
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <time.h>
#include <jansson.h>
#include "config.h"
#include "store.h"
#include "endpoint.h"
#include "container.h"
#include "datapath.h"

#define VXLAN_DEV     "petrel_vxlan"
#define VXLAN_PORT    4789
#define VXLAN_OVERHEAD 50

/* Store layout (keys under one prefix, values JSON). */
#define KEY_NODES     "/petrel/nodes/"
#define KEY_ALIVE     "/petrel/alive/"
#define KEY_BLOCKS    "/petrel/blocks/"
#define KEY_ENDPOINTS "/petrel/endpoints/"   /* NODE/NAME: each node writes its own */
#define KEY_NAMES     "/petrel/names/"       /* NAME: an endpoint name's cluster-wide claim */
#define KEY_PORTS     "/petrel/ports/"
#define KEY_POLICIES  "/petrel/policies/"
#define KEY_IOAM      "/petrel/ioam/"
#define NODE_LEASE_TTL 10

struct agent {
	struct petreld_config cfg;
	struct store *store;
	/* Where policies and IOAM configuration are written: an operator's etcd user when
	 * configured (etcd-operator-user), else store. */
	struct store *operator_store;
	struct datapath *dp;
	pthread_mutex_t lock;
	uint64_t block_index;
	struct cidr block4, block6;
	int64_t lease;
	time_t started;
	uint64_t host_netns;            /* inode of the network namespace petreld started in */
	volatile int stopping;
	pthread_t watch_thread, apply_thread, keepalive_thread;
	bool threads_started;
	struct cluster_cache *cache;    /* cluster state, fed by the watch (cluster.c) */
	volatile bool watching;         /* the watch feeds the cache (etcd) */
	int64_t loaded_rev;             /* the store revision of the first full listing */
	struct peer *peer;              /* agent-to-agent TLS channel (NULL: not configured) */
	volatile bool api_up;           /* the API answers (Podman's CNI plugin calls it) */
};

/* An error for the API layer: HTTP status + message + optional hint. */
struct api_error {
	int status;
	char msg[512];
	char hint[256];
};

int api_fail(struct api_error *e, int status, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A write of an operator's (policies, IOAM configuration) that failed with ret: 403 with
 * the way out when the store's roles refuse this node's user, 503 otherwise. what is the
 * message's start ("cannot delete policy 'x'"). */
int api_operator_write_fail(struct api_error *e, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The hint for a store call that failed with ret: a store that did not answer within the
 * request's budget is worth saying so (NULL otherwise). */
#define STORE_HINT(ret) ((ret) == -ETIMEDOUT ? "the cluster store (etcd) did not answer within " \
	"the request's 4 s; reads still answer from this node's cache" : NULL)

/* api.c: HTTP+JSON server on the Unix socket. Route modules see only this request view. */
struct api_request {
	const char *method;
	const char *path;
	json_t *body;                /* parsed JSON body, or NULL (then body_error says why) */
	const char *node;            /* the ?node= query argument, or NULL */
	char body_error[256];
};
/* Returns an HTTP status with *resp set, -1 with *e filled, or 0 when the path is not its. */
typedef int (*api_route_fn)(struct agent *a, const struct api_request *rq, json_t **resp,
			    struct api_error *e);

/* node.c: bring-up of this node: block claim, registry, vxlan, nft, datapath. */
int node_start(struct agent *a, struct api_error *e);
int node_status_json(struct agent *a, json_t **out);
void node_stop(struct agent *a);

/* cluster.c: this node's cache of cluster state, fed by a watch; subsystems subscribe to
 * its deltas (lib/cluster_cache.h) instead of reading the store. */
struct cc_listener;
struct cc_entry;
enum cc_kind;
int cluster_cache_open(struct agent *a);
void cluster_cache_close(struct agent *a);
/* Before cluster_load: the listener then sees every record as an add. */
int cluster_subscribe(struct agent *a, const struct cc_listener *l);
/* List all of cluster state into the cache and apply it (start-up, SIGHUP, SQLite). */
int cluster_load(struct agent *a);
/* Wait until this thread's own last store write has reached the cache and its
 * subscribers (bounded); without a watch (SQLite), load again. */
int cluster_catch_up(struct agent *a);
/* The same with its own bound, for writes whose delivery takes longer (a large file). */
int cluster_catch_up_within(struct agent *a, int ms);
/* A node record's underlay addresses (ipv6 only when it has one); -EINVAL without ipv4. */
int cluster_node_addrs(const json_t *node, struct ip_addr *ip4, struct ip_addr *ip6);
int cluster_threads_start(struct agent *a);
void cluster_threads_stop(struct agent *a);
/* Endpoints from the cache, sorted by name; caller frees. */
int cluster_endpoints(struct agent *a, struct endpoint **eps, size_t *n);
int cluster_local_endpoints(struct agent *a, struct endpoint **eps, size_t *n);
int cluster_node_endpoints(struct agent *a, const char *node, struct endpoint **eps, size_t *n);
int cluster_endpoint_get(struct agent *a, const char *name, struct endpoint *ep);
/* The endpoint's current record from the store itself, for decisions a stale cache must
 * not make (the cache says which node's record is current). */
int cluster_endpoint_read(struct agent *a, const char *name, struct endpoint *ep);
/* The record node writes of endpoint name, from the store (not the cache): -ENOENT. */
int cluster_endpoint_read_at(struct agent *a, const char *node, const char *name, struct endpoint *ep);
/* The store key of node's record of endpoint name. */
void endpoint_key(char *buf, size_t len, const char *node, const char *name);
/* Whether node's record of endpoint name (into *ep, from the store) is the current one:
 * it exists, and no record the cache knows has a higher epoch. */
bool endpoint_current_at(struct agent *a, const char *node, const char *name, struct endpoint *ep);
/* Remove this node's record of endpoint name, at epoch or below, which another node's
 * outranks (a migration away committed); the janitor retries while the store does not
 * answer. */
void endpoint_remove_stale(struct agent *a, const char *name, uint32_t epoch);
/* At start: every record of this node that another node's outranks goes. */
void endpoints_sweep_stale(struct agent *a);
/* Wait until the cache holds the store's current revision of key prefix+name. */
int cluster_catch_up_key(struct agent *a, const char *prefix, const char *name);
/* Entries of one kind under the cache's read lock (cb must not call back into cluster_). */
int cluster_foreach(struct agent *a, enum cc_kind kind,
		    int (*cb)(const struct cc_entry *e, void *arg), void *arg);
size_t cluster_count(struct agent *a, enum cc_kind kind);
/* Records of one kind whose key starts with prefix, as the store would list them (sorted
 * by nothing); caller frees with store_kvs_free. For the small kinds (policies, IOAM). */
int cluster_list(struct agent *a, enum cc_kind kind, const char *prefix, struct store_kv **kvs,
		 size_t *n);
/* One record's value by name within its kind ("roles/NODE/DEV" for IOAM); -ENOENT. */
int cluster_get(struct agent *a, enum cc_kind kind, const char *name, char **value);
/* The node whose underlay IPv4 is ip4 (name into name); false if none is. */
bool cluster_node_at(struct agent *a, const struct ip_addr *ip4, char *name, size_t len);

/* locations.c: the location map and routes to moved endpoints, kept by node and endpoint
 * deltas. */
int locations_subscribe(struct agent *a);
/* After a full load: remove pinned entries that cluster state no longer has. */
int locations_sweep(struct agent *a);
/* An endpoint now runs on the node with underlay addresses to4/to6 (a migration's commit):
 * point its addresses there in this node's datapath (with location flags) and kernel
 * routes at once; the endpoint's record, when it arrives, agrees. */
int cluster_point_endpoint(struct agent *a, const struct endpoint *ep, const struct ip_addr *to4,
			   const struct ip_addr *to6, unsigned int flags);
/* A migration's hold on endpoint NAME (DP_LOC_HOST, | DP_LOC_FROZEN; 0 lets go): its
 * location entries carry these flags, here and, FROZEN only, once it runs elsewhere. */
void cluster_hold(struct agent *a, const char *name, unsigned int flags);
unsigned int cluster_held(const char *name);
/* Point NAME's location at what the cache says again (after cluster_point_endpoint). */
void cluster_refresh_endpoint(struct agent *a, const char *name);

/* endpoint.c: local endpoint lifecycle. */
int endpoint_create(struct agent *a, const struct ep_request *req, struct endpoint *out,
		    struct api_error *e);
int endpoint_delete(struct agent *a, const char *name, struct api_error *e);
/* Migration: this node's half of an existing endpoint (see endpoint.c). */
int endpoint_adopt(struct agent *a, struct endpoint *ep, struct api_error *e);
/* The same in a namespace a runtime made (req->netns, not petrel's to delete): a Podman
 * container's restore (migrate/podman.c). Its traffic only once CRIU restored its sockets
 * (endpoint_datapath_attach): a packet before would meet no socket and reset the flow. */
int endpoint_adopt_at(struct agent *a, struct endpoint *ep, const struct ep_request *req,
		      struct api_error *e);
void endpoint_release_local(struct agent *a, const struct endpoint *ep);
int endpoint_publish(struct agent *a, const struct endpoint *ep, bool add);
int endpoint_datapath_detach(struct agent *a, const struct endpoint *ep);
int endpoint_datapath_attach(struct agent *a, const struct endpoint *ep);
/* endpoint_record.c: this node's endpoint records and the janitor that settles them. */
/* This node's record of ep; create also claims its name cluster-wide (-EEXIST: taken). */
int endpoint_record_store(struct agent *a, const struct endpoint *ep, bool create);
/* This node's record of ep and its name's claim: the endpoint is gone. */
int endpoint_record_remove(struct agent *a, const struct endpoint *ep);
/* A record whose write or removal the store did not answer: the janitor settles it. */
void endpoint_record_abandon(const struct endpoint *ep);
/* The thread that removes records a failed add may have left (the store timed out). */
int endpoints_janitor_start(struct agent *a);
void endpoints_janitor_stop(struct agent *a);
/* Re-establish datapath state for local endpoints after an agent restart. */
int endpoints_restore(struct agent *a);
json_t *endpoint_json_with_counters(struct agent *a, const struct endpoint *ep);

/* identity.c: label set → identity, cluster-wide and reference-counted per endpoint. */
int identity_acquire(struct agent *a, const struct endpoint *ep, uint32_t *id);
int identity_release(struct agent *a, const struct endpoint *ep);

/* policy.c: policies compiled into the datapath, and the flow log. */
int policy_subscribe(struct agent *a);
/* policy_sync.c: the last compile's result (0 or -errno), its counters, and the names the
 * flow log gives identities, endpoints and policies (false when unknown). */
int policy_last_error(void);
void policy_sync_metrics(struct agent *a, FILE *f);
bool policy_name_of(uint32_t id, char *buf, size_t len);
bool policy_endpoint_name(uint32_t ep_id, char *buf, size_t len);
bool policy_identity_labels(uint32_t identity, char *buf, size_t len);
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

/* container.c: containers run with runc on this node (docs/containers.md). Records live at
 * KEY_CONTAINERS NAME; bundles at <state-dir>/containers/NAME; runc's root is
 * <state-dir>/runc. Call with a->lock held. */
#define KEY_CONTAINERS "/petrel/containers/"
#define RUNC_PATH      "/usr/sbin/runc"
#define CT_PID_FILE    "init.pid"    /* in the bundle: pass `--pid-file <bundle>/init.pid` to runc */
#define CT_CRIU_CONF   "criu.conf"   /* in the bundle: CRIU options for its next checkpoint/restore */
int container_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);
int container_get(struct agent *a, const char *name, struct container *c);   /* -ENOENT */
int container_put(struct agent *a, const struct container *c);
int container_bundle_dir(struct agent *a, const char *name, char *buf, size_t len);
void container_runc_root(struct agent *a, char *buf, size_t len);
/* cgroupsPath: /petrel/<node>/<netns>, unique on the machine (lab nodes share names). */
void container_cgroup_path(struct agent *a, const struct container *c, char *buf, size_t len);
/* Its memory as a checkpoint holds it (anonymous and shared, in bytes): one read of its
 * cgroup's memory.stat, or a walk of its processes where no memory controller counts it. */
uint64_t container_memory(struct agent *a, const struct container *c);
/* config.json (netns /run/netns/<c->netns>), upper/, work/, rootfs/ with the overlay mounted
 * (no-op if it already is), and its latency directory (latency_dir). */
/* lower: the image's layers when the caller has just resolved them (NULL: resolved here). */
int container_write_bundle(struct agent *a, const struct container *c, const char *lower,
			   struct api_error *e);
/* The same without the overlay: config.json, the directories and the latency directory. */
int container_write_config(struct agent *a, const struct container *c, struct api_error *e);
int container_unmount(struct agent *a, const char *name);                     /* 0 if not mounted */
bool container_mounted(struct agent *a, const char *name);                   /* its overlay */
/* Remove the bundle directory; never crosses into a still-mounted rootfs. */
int container_remove_bundle(struct agent *a, const char *name);
/* runc --root R --log <bundle>/runc.log --log-format json ARGS..., with fresh pipes as its
 * stdin and stdout+stderr: the container inherits them, NAME's log pump (replacing any
 * earlier one) appends what they carry to <bundle>/log and holds the stdin write end open.
 * Waits for runc; on failure e carries runc's error messages. For `run --detach` and
 * `restore --detach`. */
int container_runc_attached(struct agent *a, const char *name, char *const runc_args[],
			    struct api_error *e);
/* The same in steps: runc started with its stdio pipes (our ends in *in_w, *out_r; its
 * pid, or -1 with e set; niced: at nice 19, taking only what CPU the node leaves idle,
 * see restore_gate.c); the ends handed to NAME's log pump; runc waited for. */
#define NICE_PATH "/usr/bin/nice"
pid_t container_runc_spawn_attached(struct agent *a, const char *name, char *const runc_args[],
				     bool niced, int *in_w, int *out_r, struct api_error *e);
void container_stdio_adopt(struct agent *a, const char *name, int in_w, int out_r);
/* runc's list of NAME's stdio ("pipe:[N]", "/dev/null"), as its state has it and as
 * runc checkpoint writes it to descriptors.json; NULL when runc has no state of it. */
json_t *container_runc_descriptors(struct agent *a, const char *name);
int container_runc_attached_wait(struct agent *a, const char *name, pid_t pid,
				 char *const runc_args[], struct api_error *e);
/* runc --root R ARGS... with stdin /dev/null; *out (may be NULL) gets stdout, caller frees;
 * on failure e carries runc's stderr. */
int container_runc(struct agent *a, char *const runc_args[], char **out, struct api_error *e);
/* The same call started in the background, "NAME=value" extra_env entries added to its
 * environment, keep_fd (-1: none) as its fd 3 and its output into the file out_path (pid
 * or -errno); then waited for, its failure turned into e with what it printed. */
pid_t container_runc_start(struct agent *a, char *const runc_args[], char *const extra_env[],
			   int keep_fd, const char *out_path);
int container_runc_finish(pid_t pid, char *const runc_args[], const char *out_path,
			  int timeout_ms, struct api_error *e);
/* `runc --criu CRIU checkpoint|restore [options] NAME`: the one place these arguments are
 * built, for local checkpoints and both sides of a migration. NULL strings and false flags
 * are left out. */
struct criu_opts {
	const char *criu;                    /* CRIU binary */
	const char *images, *work;           /* --image-path, --work-path */
	const char *page_server;             /* checkpoint: --page-server ADDR:PORT */
	const char *pid_file, *bundle;       /* restore: --pid-file, --bundle */
	bool leave_running;                  /* checkpoint: the caller decides the source's end */
	bool lazy_pages;                     /* post-copy, on either side */
	bool empty_netns;                    /* checkpoint: petrel rebuilds the namespace */
	bool status_fd;                      /* checkpoint: readiness byte on fd 3 */
	bool detach;                         /* restore */
};
#define CRIU_ARGS_MAX 24
/* Fills out (CRIU_ARGS_MAX entries, NULL-terminated) for container_runc* calls. */
void criu_args(const char *verb, const char *name, const struct criu_opts *o, char **out);
/* RUNC_PATH --root R ARGS... for callers that start runc themselves; count or -E2BIG. */
int container_runc_argv(struct agent *a, char *const runc_args[], char *root, size_t rootlen,
			char **argv, size_t max);
/* After `runc run|restore --detach`: read the pid from <bundle>/init.pid (or `runc state`), set node, state
 * "running" and pid in *c, store it, and watch the process (its exit sets "exited" with
 * exit_code, unless the record's state is no longer "running", e.g. "migrating"). */
int container_started(struct agent *a, struct container *c, struct api_error *e);
/* Its two halves, for a caller that records c itself (a migration's commit): the pid and
 * "running" into c; then the exit watch. */
int container_read_pid(struct agent *a, struct container *c, struct api_error *e);
void container_watch(struct agent *a, const struct container *c);
/* After an agent restart: watch local running containers again and resume capturing
 * their output; record the ones that ended meanwhile as exited (exit code unknown). */
int containers_restore(struct agent *a);
/* SIGTERM, SIGKILL after timeout_s; records "stopped". 0 if it was not running. */
int container_stop(struct agent *a, const char *name, int timeout_s, struct api_error *e);
/* runc delete, unmount, bundle, endpoint and record; a running one needs force. */
int container_remove(struct agent *a, const char *name, bool force, struct api_error *e);

/* Local checkpoint (runc checkpoint --tcp-established into image_dir; the container ends
 * as "stopped" unless leave_running) and restore from such images (runc restore
 * --detach, attached to the log pump, then container_started). */
#define CRIU_PATH      "/opt/petrel/criu/bin/criu"
const char *container_criu_path(void);
/* CRIU's options for the container's next checkpoint/restore: a migration's (with the
 * action script hook, when not NULL), or none. */
int container_criu_options(struct agent *a, const char *name, bool migrating, const char *hook);
/* A migration's options as text (caller frees; NULL when out of memory). */
char *container_criu_options_text(struct agent *a, const char *hook);
int container_freeze(struct agent *a, const struct container *c, bool freeze, struct api_error *e);
int container_checkpoint(struct agent *a, const char *name, const char *image_dir,
			 bool leave_running, struct api_error *e);
int container_restore(struct agent *a, const char *name, const char *image_dir, struct api_error *e);

/* peer.c: the agent-to-agent channel (mutual TLS on the underlay, port peer-port). */
#include <openssl/ssl.h>
typedef void (*peer_handler)(struct agent *a, SSL *ssl, const char *peer, json_t *hello);
/* Serve operation op of other agents' hellos with fn (before peer_start). */
int peer_register(const char *op, peer_handler fn);
int peer_start(struct agent *a);
void peer_stop(struct agent *a);
int peer_node_address(struct agent *a, const char *node, char *ip, size_t len);
/* Connect to node's agent and send hello (the operation line); NULL with e filled. */
SSL *peer_dial(struct agent *a, const char *node, const json_t *hello, struct api_error *e);
int peer_send(SSL *ssl, json_t *msg);          /* one JSON line; steals msg */
json_t *peer_recv(SSL *ssl);                   /* one JSON line, NULL on EOF/garbage */
int peer_reply_error(SSL *ssl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* hold.c: packets for a container held (NFQUEUE in its netns) during a migration. */
struct hold;
/* Queue every packet reaching this node's stack for the endpoint's addresses, or for its
 * ports published on node4/node6 (iptables raw NFQUEUE), passing them on at first: the
 * rules take tens of ms to install, so they go in before the freeze. */
int hold_start(const struct endpoint *ep, const struct ip_addr *node4,
	       const struct ip_addr *node6, struct hold **h);
void hold_begin(struct hold *h);                     /* from now on, hold what arrives */
int hold_release(struct hold *h, uint64_t *held);   /* deliver in order, then stop holding */
void hold_abort(struct hold *h);                    /* stop holding, drop what was held */
void hold_cleanup_stale(void);                      /* rules of a hold whose agent died */

/* migrate.c: live migration of containers between nodes. Registers its peer operations
 * (probe, migrate, stream). */
int migrate_register(struct agent *a);
/* POST /v1/containers/NAME/migrate {"to": NODE, "lazy": bool}: checks, then runs the
 * migration in its own thread; *fd streams its progress and report as JSON lines. */
int migrate_start(struct agent *a, const char *name, json_t *body, int *fd, struct api_error *e);
/* At start, with a->lock held: settle migrations this node was the source of when its
 * agent stopped (resume the container, or remove the committed copy). */
void migrate_recover(struct agent *a);
/* petrel_migrations_total{result}, and the freeze and total times of those that committed. */
void migrate_metrics(struct agent *a, FILE *f);
/* migrate/podman.c: migrating Podman's containers on a petrel network (docs/migration.md).
 * The endpoint of Podman container name on this node (petrel-cni's labels); -ENOENT. */
int podman_endpoint(struct agent *a, const char *name, struct endpoint *ep);
int podman_migrate_start(struct agent *a, const char *container, const struct endpoint *ep,
			 const char *to, int *fd, struct api_error *e);
int podman_register(struct agent *a);              /* the "podman" peer operation */
/* A Podman container on a petrel network anywhere in the cluster, by its name (for the
 * CLI to find its node): {"name", "runtime": "podman", "node", "endpoint"}, or NULL. */
json_t *podman_container_json(struct agent *a, const char *name);
/* A Podman container name that petrel cannot migrate, with the reason (-1), or 0. */
int podman_refusal(struct agent *a, const char *name, struct api_error *e);
/* Podman's CNI requests for an endpoint under a Podman migration here: ADD adopts it
 * (1; 0 when no such migration; -1 with e), DEL unplugs only this node's half (true). */
int podman_mig_cni_add(struct agent *a, const struct ep_request *req, struct endpoint *out,
		       struct api_error *e);
bool podman_mig_cni_del(struct agent *a, const char *name);
/* relays.c: flows a migrated endpoint still sends through the node that translates them
 * (NAT in conntrack), checked against that node's conntrack until they end. */
int relays_register(struct agent *a);              /* the "relay-check" peer operation */
int relays_start(struct agent *a);
void relays_stop(struct agent *a);
int relays_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);
void relays_metrics(struct agent *a, FILE *f);

/* latency.c: per-endpoint network-stack latency accounting (docs/latency.md). */
int latency_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);

/* "podman" and this node's storage options (containers-storage, containers-runroot) into
 * argv; their number (at most 5). Podman's containers.conf is containers-conf, which the
 * agent exports as CONTAINERS_CONF at start. */
int podman_argv(struct agent *a, char **argv);
/* image.c: images for run --image, on this node. Errors go to err with the reason. */
struct image_info;
int image_resolve(struct agent *a, const char *ref, struct image_info *out, char *err, size_t len);
/* A new container from c->image: its image_id, process (image_apply) and uid/gid, and its
 * layers as an overlay lowerdir list into lower. */
int image_prepare(struct agent *a, struct container *c, char *lower, size_t llen, char *err,
		  size_t len);
/* The overlay lowerdir list of c's image here; -ESTALE if the image here is another. */
int image_lower(struct agent *a, const struct container *c, char *lower, size_t llen, char *err, size_t len);

/* check.c: `petrel check` (POST /v1/check) and the peer side of its probes. */
int check_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);
int check_register(struct agent *a);
/* Stops a deleted endpoint's accounting (subscribes to endpoint removals). */
int latency_subscribe(struct agent *a);
/* petrel check: enable accounting on local endpoint name, see the probes attached, and
 * disable it again; detail says what was found. */
int latency_check_attach(struct agent *a, const char *name, char *detail, size_t len);
void latency_metrics(struct agent *a, FILE *f);
void latency_stop(struct agent *a);
/* <state-dir>/latency/NAME: where NAME's record socket (latency.sock) appears when its
 * accounting is on; a container gets this directory alone, at /run/petrel. */
void latency_dir(struct agent *a, const char *name, char *buf, size_t len);

/* ioam.c: IPv6 IOAM (native mode): config in cluster state, programs on the underlay. */
int ioam_start(struct agent *a);
void ioam_stop(struct agent *a);
int ioam_sync(struct agent *a);
int ioam_subscribe(struct agent *a);
int ioam_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e);
char *ioam_traces_next(uint64_t *cursor, const char *unused1, const char *unused2, int wait_ms);
uint64_t ioam_traces_cursor(bool now);
void ioam_metrics(struct agent *a, FILE *f);

/* metrics.c */
char *metrics_prometheus(struct agent *a);
/* petrel_containers{node,state}: this node's containers by state (container.c). */
void container_metrics(struct agent *a, FILE *f);


struct api_server;
int api_start(struct agent *a, struct api_server **srv);
void api_stop(struct api_server *srv);
