/* Internal to agent/migrate/: one migration's state on each side, and the calls between
 * its phases. The agent's view of migration is in agent.h (migrate_start, migrate_serve
 * registration, recovery, metrics); docs/migration.md follows the same order as the files:
 *
 *   source.c   the source's phases, start to report, and its metrics
 *   dump.c     holding and freezing the container, CRIU's dump, streaming it out
 *   lazy.c     post-copy: pages served from the frozen source on demand
 *   proto.c    the wire: stream connections, tar and page relays, the incoming registry
 *   dest.c     the destination: prepare, restore, publish
 *   restore_gate.c  runc restore started while the checkpoint still arrives
 *   cgroup_warm.c   the kernel's cgroup-move lock kept warm for the held restore
 *   images_tmpfs.c  the destination's images on a tmpfs of their own
 *   commit.c   the claim, the location flip and each side's end of it
 *   recover.c  an agent restarting in the middle of a migration
 *   relays.c   flows still translated by an earlier node, until its conntrack ends them
 *   podman.c, podman_source.c   Podman's containers: Podman's checkpoint and restore,
 *              driven with the same claim, hold, relays and commit
 *   criu.c     CRIU's and the kernel's versions and abilities, shared small helpers */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "agent.h"
#include "migration_msg.h"
#include "relay.h"
#include "tls.h"

#define KEY_MIGRATIONS "/petrel/migrations/"
#define CRIU_DEFAULT   "/opt/petrel/criu/bin/criu"
#define STREAM_WAIT_MS 60000
#define RESTORE_MS     120000
#define MIGRATION_ID_MAX MIG_ID_MAX
#define MIGRATION_DIR_MAX (CONFIG_STR + MIGRATION_ID_MAX + 32)   /* <state>/migrations/<id>/... */
#define DRAIN_MS       100     /* between holding a container's packets and freezing it */
#define CLAIM_CLAIMED   "claimed"
#define CLAIM_COMMITTED "committed"
#define CLAIM_ABORTED   "aborted"

/* ---- criu.c ---- */

struct versions {
	char criu_path[CONFIG_STR];
	char criu[32];                 /* "4.2.1", empty when none works */
	char criu_error[256];
	char kernel[64];
};

void local_versions(struct agent *a, struct versions *v);
/* The "probe" peer operation: this node's CRIU, kernel and whether it has the rootfs. */
void migrate_serve_probe(struct agent *a, SSL *ssl, const char *peer, json_t *hello);
/* --pre-copy: refused with the exact reason (see the function). */
int pre_copy_refusal(struct agent *a, bool lazy, struct api_error *e);
/* Make CRIU's kernel-feature cache where /run is no tmpfs (see the function). */
void criu_kdat_refresh(struct agent *a);
/* <state-dir>/NAME exists: the switches an operator or a comparison sets by hand
 * (keep-migrations, no-early-restore, no-criu-hook, no-cgroup-warm). */
bool state_flag(struct agent *a, const char *name);
/* Fault injection for tests: true once if <state-dir>/fault-NAME existed. */
bool fault(struct agent *a, const char *name);
/* For a test to act at this point: write <state-dir>/MARKER, then wait until the test
 * removes it (10 s at most). */
void fault_pause(struct agent *a, const char *marker);
/* Remove a migration's directory, unless <state>/keep-migrations asks to keep it. */
void remove_dir(struct agent *a, const char *dir);
/* Start argv, which reports readiness by writing a byte to fd 3; its pid, or -errno. */
pid_t spawn_ready(char *const argv[], int timeout_ms);
/* Milliseconds CRIU spent by its own log's timestamps, from the first line after the one
 * containing from (NULL: its start) to the last containing to; -1 when the log lacks
 * them. What CRIU itself takes is the floor a migration's freeze is measured against. */
long criu_log_ms(const char *path, const char *from, const char *to);
/* A free TCP port on loopback, or -1. */
int free_port(void);

/* ---- the source side: source.c, dump.c, lazy.c ---- */

struct mig {
	struct agent *a;
	char name[EP_NAME_MAX], to[EP_NAME_MAX], id[MIGRATION_ID_MAX];
	bool lazy;
	int out;                        /* progress lines (NDJSON) to the API client */
	int64_t t0, t_freeze, t_resume;
	/* Phase ends inside the freeze, for the report: held, paused, dumped, sent, released. */
	int64_t t_held, t_paused, t_dumped, t_sent, t_released;
	long criu_dump_ms;              /* CRIU's own dump inside the freeze (-1: unknown) */
	bool hooked;                    /* frozen by CRIU's pre-dump hook */
	volatile uint64_t bytes;        /* raw bytes moved so far */
	uint64_t wire_bytes;
	int tcp, udp;
	struct container c;
	struct endpoint ep;
	struct ip_addr to4, to6;        /* the destination's underlay addresses */
	struct versions local;
	char dir[MIGRATION_DIR_MAX];    /* <state>/migrations/<id> */
	bool claimed, frozen, redirected;
	int64_t claim_rev;              /* the claim's revision when created (commit.c) */
	bool restore_sent;              /* the destination may have committed from here on */
	struct hold *hold;              /* the container's packets, queued while it is frozen */
	pid_t lazy_pid;                 /* lazy mode: runc checkpoint, serving pages until done */
	int lazy_port;
	uint64_t held;
	/* the page relay */
	int page_listen;
	pthread_t page_thread;
	SSL *images_ssl;                /* dialled before the freeze, used after the dump */
	pid_t ckpt_pid;                 /* runc checkpoint, until checkpoint_reap */
	char ckpt_out[MIGRATION_DIR_MAX + 16];
	int page_ret;
	struct relay_stats page_stats;
	/* the bundle stream, sent while CRIU dumps (the frozen container writes nothing), and
	 * the published flows, read meanwhile too (a conntrack dump walks the kernel's whole
	 * table: ~20 ms here); nothing adds to them once the hold holds, since it holds before
	 * conntrack */
	pthread_t bundle_thread;
	bool bundle_started;
	int bundle_ret;
	struct api_error bundle_err;
	uint64_t bundle_raw, bundle_wire;
	json_t *flows;
};

/* source.c: one JSON line to the API client (steals line); the error line, -1. */
void mig_emit(struct mig *m, json_t *line);
int mig_fail(struct mig *m, struct api_error *e);
/* source.c: the destination's addresses into m->to4/to6, from its node record; 404 if
 * there is no such node, 503 if it is not alive. */
int mig_dest_node(struct mig *m, struct api_error *e);
/* source.c: m (zeroed) as a new migration of name to node to: its progress pipe (the API
 * client's end in *fd), its start time, a unique id and its directory. 0, or -1 with e. */
int mig_begin(struct mig *m, struct agent *a, const char *name, const char *to, int *fd,
	      struct api_error *e);
/* fn(arg) on a detached thread that owns m; on failure both pipe ends close (-1 with e)
 * and the caller frees what it allocated. */
int mig_thread(void *(*fn)(void *), void *arg, struct mig *m, int fd, struct api_error *e);
/* source.c: a progress line to the API client (and the log). */
void progress(struct mig *m, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* dump.c */
int freeze(struct mig *m, struct api_error *e);
/* Resume the source after a rollback: the datapath, the held packets, the cgroup. */
void unfreeze(struct mig *m);
/* Frozen: report it, and send the writable layer while CRIU dumps. */
void frozen_go(struct mig *m);
/* The default mode's dump; hook: CRIU's action script, or NULL (frozen by the caller). */
int dump(struct mig *m, const char *hook, struct api_error *e);
/* What either dump sets up first: the image and work directories, the hook's socket path
 * (hook: CRIU's action script, or NULL) and CRIU's options naming the hook. */
struct dump_paths {
	char img[MIGRATION_DIR_MAX], work[MIGRATION_DIR_MAX], sock[MIGRATION_DIR_MAX + 16];
};
int dump_prepare(struct mig *m, const char *hook, struct dump_paths *dp, struct api_error *e);
/* The hook's socket path for m; false when it is too long for one (then: no hook). */
bool hook_socket_path(struct mig *m, char *sock, size_t len);
/* runc checkpoint (runc_args) with CRIU's action script calling back on sock: runc and
 * CRIU start while the container still runs, CRIU's pre-dump hook has it frozen here
 * (freeze, then frozen_go) just before CRIU touches it, and this returns at its post-dump
 * hook, every image written, runc still running as m->ckpt_pid. status_fd (-1: none)
 * becomes runc's fd 3, for CRIU's --status-fd. On failure runc has been reaped. */
int checkpoint_hooked(struct mig *m, const char *sock, char *const runc_args[], int status_fd,
		      struct api_error *e);
/* Wait for runc checkpoint after CRIU's post-dump hook (e NULL: quietly). */
int checkpoint_reap(struct mig *m, struct api_error *e);
/* Join the bundle stream started by frozen_go; its error into e. */
int bundle_finish(struct mig *m, struct api_error *e);
/* Flows through this node's published ports, and return flows it relays, as JSON. */
json_t *relayed_flows(struct mig *m);

/* lazy.c, source side */
/* hook: CRIU's action script (as for dump), or NULL (frozen by the caller). */
int dump_lazy(struct mig *m, const char *hook, struct api_error *e);
void lazy_abort(struct mig *m);
/* After a restart: a lazy dump of the migration in dir that an earlier run of this agent
 * left (runc checkpoint, now nobody's child) holds the container while its page server
 * waits for a connection that will never come. Ended before the container is resumed or
 * removed. */
void lazy_leftover_end(const char *dir);
/* The destination runs the container: wait until the frozen copy served every page. */
void lazy_drain(struct mig *m);
/* A "lazy" stream for a migration this node serves pages for: true when it was one (and
 * served only if peer is the migration's destination). */
bool lazy_serve_stream(const char *id, const char *peer, SSL *ssl);

/* ---- the wire: proto.c ---- */

/* CRIU's page protocol ends with small requests and acks: no Nagle, no delayed ACKs. */
void nodelay(int fd);
/* A stream connection of one kind ("pages", "images", "bundle", "lazy") for migration id. */
SSL *dial_stream(struct agent *a, const char *to, const char *id, const char *kind,
		 struct api_error *e);
/* dir as a compressed tar stream (see the function). */
int send_dir(struct mig *m, const char *kind, const char *dir, SSL *ssl, bool confirm,
	     uint64_t *raw, uint64_t *wire, struct api_error *e);
/* Relay a peer stream to and from a CRIU server on this node's loopback port, once the
 * server's process tree (server: its ancestor) holds the other end of our connection. */
int relay_to_local(int port, pid_t server, SSL *ssl, const struct relay_opts *o,
		   struct relay_stats *st);

/* Destination side of one migration, found by id from its stream connections. */
struct incoming {
	char id[MIGRATION_ID_MAX], name[EP_NAME_MAX];
	char source[EP_NAME_MAX];       /* the source node: its streams must come from it */
	char dir[MIGRATION_DIR_MAX], images[MIGRATION_DIR_MAX], work[MIGRATION_DIR_MAX];
	char bundle[CONFIG_STR + 80];
	int page_fd;                    /* our end of CRIU's page server socket (a socket pair) */
	pid_t page_server;
	bool lazy;                      /* pages come on demand after the restore */
	bool bundle_ready;              /* overlay mounted and config written (bundle_landed) */
	int streams_done, streams_failed;
	int refs;                       /* streams using it (proto.c) */
	uint64_t bytes;
	struct incoming *next;
};

void incoming_add(struct incoming *in);
void incoming_remove(struct incoming *gone);
/* Until the source's pages, images and writable layer all arrived; 0 or -errno. */
int incoming_wait_streams(struct incoming *in);

/* ---- the destination side: dest.c, lazy.c ---- */

/* cgroup_warm.c: the kernel's cgroup-move lock kept warm (see the file) from start until
 * stop, so that the restore's move of its task into the container's cgroup is not the
 * first in a while. */
struct cgroup_warm {
	bool on;
	int stop;                       /* eventfd */
	pthread_t thread;
	char procs[512];                /* the agent's own cgroup.procs */
};
void cgroup_warm_start(struct agent *a, struct cgroup_warm *w);
void cgroup_warm_stop(struct cgroup_warm *w);

struct dest {
	struct agent *a;
	struct incoming in;
	struct container c;
	struct endpoint ep;
	struct versions v;
	bool adopted, restored;
	bool keep_restored;             /* the commit's outcome unknown at stop: leave the copy */
	int64_t claim_rev;              /* the claim as verified: the commit expects it unchanged */
	pid_t lazy_daemon;
	int lazy_fd;                    /* our end of the lazy-pages daemon's page socket */
	bool lazy_thread_started;
	pthread_t lazy_thread;
	char *descriptors;              /* the container's stdio list, from the request */
	uint64_t memory;                /* its memory as the source counted it, 0: unknown */
	pid_t gate_runc;                /* runc restore started early, held (restore_gate.c) */
	int gate_in_w, gate_out_r;      /* runc's stdio, for the log pump once the layer lands */
	pid_t gate_criu;                /* its CRIU, once it waits at the gate */
	int gate_fd;                    /* our end of the gate, the bundle's criu.conf FIFO */
	bool gate_reader;               /* CRIU opened the FIFO and waits for the rest */
	bool gate_closing, gate_watching;
	pthread_t gate_watcher;
	struct cgroup_warm warm;        /* from the layer's landing to the restore's end */
};

/* dest.c: the source's relayed flows for endpoint ep into this node's return map (only
 * its own addresses, each back through a cluster node); how many. */
int return_flows_add(struct agent *a, const struct endpoint *ep, json_t *flows);
/* dest.c: the writable layer landed (a "bundle" stream ended well). */
void bundle_landed(struct agent *a, struct incoming *in);
void migrate_serve(struct agent *a, SSL *ssl, const char *peer, json_t *hello);

/* restore_gate.c: runc restore started while this node prepares (agent lock held),
 * held until restore_run opens the gate; without a held one restore_run starts runc
 * itself. restore_gate_landed: the writable layer landed (runc's stdio to the log pump).
 * restore_gate_close ends a held restore unused (CRIU fails, restoring nothing). */
void restore_gate_start(struct dest *d);
bool restore_gated(const struct dest *d);
void restore_gate_landed(struct dest *d);
int restore_run(struct dest *d, struct api_error *e);
void restore_gate_close(struct dest *d);
/* At start: let go of restores a dead agent left held. */
void restore_gates_release(struct agent *a);
/* images_tmpfs.c: mount a tmpfs on migration id's images directory, sized for the
 * container's memory (0: unknown), or leave the images on the state directory's file
 * system when they and the restored copy would not both fit in memory (logged; 0 or
 * -errno); unmount it from a migration directory (remove_dir does, first); at start,
 * remove the destinations' directories a dead agent left mounted. */
int images_tmpfs_mount(const char *dir, const char *id, uint64_t memory);
void images_tmpfs_unmount(const char *migration_dir);
void images_tmpfs_sweep(struct agent *a);

/* lazy.c, destination side */
int lazy_start(struct dest *d, struct api_error *e);
/* Restored: watch the lazy-pages daemon until every page arrived. */
void lazy_watch(struct dest *d);
void lazy_stop(struct dest *d);

/* ---- commit.c ---- */

/* Record /petrel/migrations/NAME for this migration; 409 when one exists. */
int claim(struct mig *m, struct api_error *e);
void unclaim(struct mig *m);
/* The source's own half of the endpoint, kept by claim() in the migration's directory. */
int claim_source_endpoint(struct agent *a, const char *id, struct endpoint *ep);
/* Drop this node's return flows for the endpoint. */
void clear_return_flows(struct agent *a, const struct endpoint *ep);
/* The destination committed: point the addresses there; agent lock held. */
void point_at_destination(struct mig *m);
/* Release what was held to the destination and remove the frozen copy. */
void cleanup_source(struct mig *m);
/* Source: end the claim "aborted" unless the destination committed first, retrying
 * while the store does not answer (the container stays frozen meanwhile). 0 aborted (the
 * source resumes), 1 committed (the destination runs it), -errno only when the agent stops. */
int claim_settle(struct agent *a, const char *name, const char *id, const char *from,
		 const char *to, int64_t rev);
/* The destination's check before it builds anything: cluster state holds a claim for
 * migration id of container name from peer (its certificate's node) to this node, and the
 * container's and endpoint's records name peer. c and ep get those records, from the
 * store, never from the peer; they are validated like API input. 403 otherwise. */
int claim_verify(struct agent *a, const char *id, const char *name, const char *peer,
		 struct container *c, struct endpoint *ep, int64_t *claim_rev, struct api_error *e);
/* claim_verify for a Podman container's migration: the claim for endpoint name from peer
 * to this node, and the endpoint's current record naming peer (into ep). 403 otherwise. */
int claim_verify_endpoint(struct agent *a, const char *id, const char *name, const char *peer,
			  struct endpoint *ep, int64_t *claim_rev, struct api_error *e);
/* The commit of a Podman container's migration: the claim "committed" and this node's
 * record of the endpoint (ep, at its new epoch) in one transaction; 409 when the source
 * aborted first. Retries while the store does not answer. */
int podman_commit(struct agent *a, const struct endpoint *ep, const char *id, const char *source,
		  int64_t claim_rev, struct api_error *e);

/* ---- podman.c: Podman's containers ---- */

#define PODMAN_FRAME_MAX (256 * 1024)   /* the export's frames on the control connection */
#define PODMAN_MS 120000                /* a podman command's limit */

/* The Podman migrations under way here, for the CNI requests Podman makes during them:
 * this node's role and the endpoint its half is built from. */
enum pm_role { PM_SOURCE, PM_ROLLBACK, PM_DEST };
int reg_set(const struct endpoint *ep, enum pm_role role);
void reg_clear(const char *name);
/* Whether Podman's CNI ADD came and was served (the endpoint as adopted into *ep). */
bool reg_adopted(const char *name, struct endpoint *ep);
/* podman ARGS... (NULL-terminated) with this node's storage, output into log; its exit
 * status or -errno. */
int podman_run(struct agent *a, const char *log, int timeout_ms, ...);
/* podman container inspect --format FORMAT NAME's first line into buf; -errno. */
int podman_inspect(struct agent *a, const char *name, const char *format, char *buf, size_t len);
/* The last line of a log, for an error message. */
void last_line(const char *log, char *buf, size_t len);
int read_full(SSL *ssl, void *buf, size_t len);
void podman_version(struct agent *a, char *buf, size_t len);
/* At start: migration id was of a Podman container: settle it (won: 1 committed, 0 not)
 * once the API answers, in a thread of its own; false when it was not Podman's. */
bool podman_recover(struct agent *a, const char *id, int won);
void podman_serve(struct agent *a, SSL *ssl, const char *peer, json_t *hello);

/* The destination's commit point, once its copy runs: the claim "committed" and the
 * endpoint's and container's records naming this node, in one transaction that holds only
 * if the source has not aborted. While the store does not answer, the copy waits frozen. */
int dest_commit(struct dest *d, struct api_error *e);
