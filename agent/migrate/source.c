/* Live migration of a running container to another node, the source side (docs/migration.md).
 *
 * Source                                   Destination
 *   check: container, node, CRIU, kernel  ── probe ──►  CRIU/kernel/runc versions
 *   claim /petrel/migrations/NAME
 *                                         ── migrate ─► endpoint with the same IPs and
 *                                                        MAC in a new netns, packets
 *                                                        held (NFQUEUE), page server
 *   runc checkpoint starts; CRIU's pre-dump
 *   hook has petreld hold the container's
 *   packets here and freeze it (cgroup
 *   freezer)
 *   dump: pages ──────────────────────────── stream ──► page server (zstd over mTLS)
 *   images, bundle + writable layer (tar) ── stream ──► image dir, bundle dir
 *   published-port flows (conntrack) ─────── restore ─► runc restore, return flows,
 *                                                        release held packets, flip the
 *                                                        endpoint's location ◄─ confirm
 *   kill the frozen source, release its
 *   half of the endpoint
 *
 * Anything failing before the destination confirms rolls back: the source was frozen,
 * never stopped, so it resumes with its sockets intact, and the destination drops
 * everything it prepared. The destination confirms only after writing the new location,
 * so a source that loses the confirmation decides from cluster state: never two copies. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "migration.h"
#include "runc.h"
#include "compat.h"
#include "log.h"
#include "util.h"

/* ---- metrics ---- */

static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint64_t committed, rolled_back, refused;
	uint64_t frozen_ms_sum, total_ms_sum, bytes_sum;
} stats;

void migrate_metrics(struct agent *a, FILE *f)
{
	pthread_mutex_lock(&stats_mu);
	fprintf(f, "# HELP petrel_migrations_total Migrations from this node, by result.\n"
		"# TYPE petrel_migrations_total counter\n"
		"petrel_migrations_total{node=\"%s\",result=\"committed\"} %llu\n"
		"petrel_migrations_total{node=\"%s\",result=\"rolled_back\"} %llu\n"
		"petrel_migrations_total{node=\"%s\",result=\"refused\"} %llu\n",
		a->cfg.node, (unsigned long long)stats.committed, a->cfg.node,
		(unsigned long long)stats.rolled_back, a->cfg.node, (unsigned long long)stats.refused);
	fprintf(f, "# HELP petrel_migration_frozen_ms_sum Freeze time of committed migrations.\n"
		"# TYPE petrel_migration_frozen_ms_sum counter\n"
		"petrel_migration_frozen_ms_sum{node=\"%s\"} %llu\n"
		"# HELP petrel_migration_total_ms_sum Total time of committed migrations.\n"
		"# TYPE petrel_migration_total_ms_sum counter\n"
		"petrel_migration_total_ms_sum{node=\"%s\"} %llu\n"
		"# HELP petrel_migration_bytes_total Bytes of memory, images and files moved.\n"
		"# TYPE petrel_migration_bytes_total counter\n"
		"petrel_migration_bytes_total{node=\"%s\"} %llu\n",
		a->cfg.node, (unsigned long long)stats.frozen_ms_sum, a->cfg.node,
		(unsigned long long)stats.total_ms_sum, a->cfg.node, (unsigned long long)stats.bytes_sum);
	pthread_mutex_unlock(&stats_mu);
}

void mig_emit(struct mig *m, json_t *line)
{
	char *text = json_dumps(line, JSON_COMPACT);

	if (text) {
		size_t n = strlen(text);

		text[n] = '\n';
		if (write(m->out, text, n + 1) < 0)
			log_debug("migrate %s: the client went away", m->name);
		free(text);
	}
	json_decref(line);
}

void progress(struct mig *m, const char *phase, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("migrate %s: %s: %s", m->name, phase, msg);
	mig_emit(m, json_pack("{s:s, s:I, s:I, s:s}", "phase", phase,
			  "elapsed_ms", (json_int_t)(now_ms() - m->t0),
			  "bytes", (json_int_t)m->bytes, "message", msg));
}

int mig_fail(struct mig *m, struct api_error *e)
{
	mig_emit(m, json_pack("{s:s, s:s, s:i, s:b}", "error", e->msg, "hint", e->hint,
			  "status", e->status, "rolled_back", (int)m->frozen));
	return -1;
}

static int check(struct mig *m, struct api_error *e)
{
	struct agent *a = m->a;
	int ret;

	pthread_mutex_lock(&a->lock);
	ret = container_get(a, m->name, &m->c);
	if (ret == -ENOENT)
		api_fail(e, 404, "see `petrel ps`", "container '%s' does not exist", m->name);
	else if (ret)
		api_fail(e, 503, NULL, "cannot read container '%s': %s", m->name, strerror(-ret));
	else if (strcmp(m->c.node, a->cfg.node))
		api_fail(e, 409, "ask the node that runs it (petrel --node NODE migrate ...)",
			 "container '%s' runs on node %s, not %s", m->name, m->c.node, a->cfg.node);
	else if (!strcmp(m->to, a->cfg.node))
		api_fail(e, 400, "pick another node", "container '%s' already runs on %s", m->name,
			 m->to);
	else if (!strcmp(m->c.state, CT_MIGRATING))
		api_fail(e, 409, "wait for it to finish", "container '%s' is already being migrated",
			 m->name);
	else if (strcmp(m->c.state, CT_RUNNING))
		api_fail(e, 409, "start it again with `petrel run`", "container '%s' is %s, not running",
			 m->name, m->c.state);
	else if ((ret = cluster_endpoint_get(a, m->name, &m->ep)))
		api_fail(e, 503, NULL, "container '%s' has no endpoint: %s", m->name, strerror(-ret));
	else
		ret = 0;
	if (!e->status)
		mig_dest_node(m, e);
	pthread_mutex_unlock(&a->lock);
	if (e->status)
		return -1;
	local_versions(a, &m->local);
	if (!*m->local.criu)
		return api_fail(e, 412, "run scripts/install-criu.sh", "this node cannot checkpoint: %s",
				m->local.criu_error);
	return 0;
}

static int probe(struct mig *m, struct api_error *e)
{
	json_t *hello = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "op", "probe", "rootfs", m->c.rootfs,
				  "image", m->c.image, "image_id", m->c.image_id, "name", m->c.name,
				  "lazy", m->lazy), *r;
	SSL *ssl = peer_dial(m->a, m->to, hello, e);
	const char *criu, *kernel;
	char why[256];

	json_decref(hello);
	if (!ssl)
		return -1;
	r = peer_recv(ssl);
	tls_close(ssl);
	if (!r)
		return api_fail(e, 502, NULL, "node %s did not answer the probe", m->to);
	criu = json_string_value(json_object_get(r, "criu"));
	kernel = json_string_value(json_object_get(r, "kernel"));
	if (!criu || !*criu)
		api_fail(e, 412, "install a CRIU >= 4.2 there (scripts/install-criu.sh)",
			 "node %s cannot restore: %s", m->to,
			 json_string_value(json_object_get(r, "criu_error")) ?: "no CRIU");
	else if (!migration_compatible(m->local.criu, m->local.kernel, criu, kernel, why, sizeof(why)))
		api_fail(e, 412, "migrate to a node with the same or newer CRIU and kernel",
			 "node %s is incompatible: %s", m->to, why);
	else if (*m->c.image && !json_is_true(json_object_get(r, "image")))
		/* petrel sends the writable layer, not the image: refused before any freeze. */
		api_fail(e, 412, "load the same image there first (podman load or pull into that "
			 "node's containers-storage, or the same OCI layout at the same path)",
			 "node %s lacks image %s (%.19s): %s", m->to, m->c.image, m->c.image_id,
			 json_string_value(json_object_get(r, "image_error")) ?: "not found");
	else if (!*m->c.image && !json_is_true(json_object_get(r, "rootfs")))
		api_fail(e, 412, "make the image available at the same path on every node",
			 "node %s has no rootfs at %s", m->to, m->c.rootfs);
	else if (m->lazy && !json_is_true(json_object_get(r, "lazy")))
		api_fail(e, 501, "migrate without --lazy",
			 "--lazy is not available on node %s: %s", m->to,
			 json_string_value(json_object_get(r, "lazy_error")));
	json_decref(r);
	return e->status ? -1 : 0;
}

static void report(struct mig *m, json_t *dest)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:i, s:s}",
		"container", m->name, "from", m->a->cfg.node, "to", m->to,
		"total_ms", (json_int_t)(now_ms() - m->t0),
		"frozen_ms", (json_int_t)(m->t_resume - m->t_freeze),
		"bytes", (json_int_t)m->bytes, "wire_bytes", (json_int_t)m->wire_bytes,
		"tcp_connections", m->tcp, "udp_flows", m->udp, "mode", m->lazy ? "lazy" : "default");

	json_object_set(r, "restore_ms", json_object_get(dest, "restore_ms") ?: json_integer(0));
	json_object_set(r, "runc_restore_ms", json_object_get(dest, "runc_restore_ms") ?: json_integer(0));
	/* runc restore started while the destination prepared, held until the images came */
	json_object_set_new(r, "early_restore",
			    json_boolean(json_is_true(json_object_get(dest, "early_restore"))));
	/* Where the freeze went, phase by phase; "release" ends when the held packets are on
	 * their way to the destination, which is when a client's stall ends. */
	json_object_set_new(r, "phases_ms", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		"hold", (json_int_t)(m->t_held - m->t_freeze),
		"pause", (json_int_t)(m->t_paused - m->t_held),
		"dump", (json_int_t)(m->t_dumped - m->t_paused),
		"transfer", (json_int_t)(m->t_sent - m->t_dumped),
		"restore", (json_int_t)(m->t_resume - m->t_sent),
		"release", (json_int_t)(m->t_released > m->t_resume ? m->t_released - m->t_resume : 0)));
	json_object_set_new(r, "held_packets", json_integer((json_int_t)m->held));
	/* The floor: what CRIU itself spends dumping and restoring this container. */
	{
		json_int_t rs = json_integer_value(json_object_get(dest, "criu_restore_ms"));
		bool known = m->criu_dump_ms >= 0 && json_is_integer(json_object_get(dest, "criu_restore_ms")) &&
			     rs >= 0;

		json_object_set_new(r, "criu_dump_ms", json_integer(m->criu_dump_ms));
		json_object_set_new(r, "criu_restore_ms", json_integer(known ? rs : -1));
		json_object_set_new(r, "floor_ms", known ? json_integer(m->criu_dump_ms + rs) : json_null());
		json_object_set_new(r, "frozen_over_floor", known && m->criu_dump_ms + rs > 0 ?
			json_real((double)(m->t_resume - m->t_freeze) / (double)(m->criu_dump_ms + rs)) :
			json_null());
	}
	pthread_mutex_lock(&stats_mu);
	stats.committed++;
	stats.frozen_ms_sum += (uint64_t)(m->t_resume - m->t_freeze);
	stats.total_ms_sum += now_ms() - (uint64_t)m->t0;
	stats.bytes_sum += m->bytes;
	pthread_mutex_unlock(&stats_mu);
	json_object_set(r, "relayed_flows", json_object_get(dest, "flows") ?: json_integer(0));
	mig_emit(m, json_pack("{s:o}", "report", r));
}

/* ---- the phases, in order ---- */

/* Checks, the destination's probe, the claim, the hold, and the destination's endpoint
 * built on the control connection *ctl. */
static int source_prepare(struct mig *m, SSL **ctl, struct api_error *e)
{
	json_t *hello, *r;
	char *text;
	int ret;

	progress(m, "check", "%s to %s", m->name, m->to);
	if (check(m, e) || probe(m, e))
		return -1;
	pthread_mutex_lock(&m->a->lock);
	ret = claim(m, e);
	pthread_mutex_unlock(&m->a->lock);
	if (ret)
		return -1;

	progress(m, "prepare", "node %s builds the endpoint (same addresses and MAC)", m->to);
	if ((ret = hold_start(&m->ep, &m->a->cfg.underlay4, &m->a->cfg.underlay6, &m->hold)))
		return api_fail(e, 500, NULL, "cannot set up the hold for its packets: %s",
				strerror(-ret));
	text = container_encode(&m->c);
	/* The stdio list lets the destination start runc restore before the images come; the
	 * memory count, size its images' tmpfs. */
	hello = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o*, s:I}", "op", "migrate", "id", m->id,
			  "lazy", m->lazy, "container", json_loads(text, 0, NULL),
			  "endpoint", endpoint_to_json(&m->ep),
			  "descriptors", container_runc_descriptors(m->a, m->name),
			  "memory_bytes", (json_int_t)container_memory(m->a, &m->c));
	free(text);
	*ctl = peer_dial(m->a, m->to, hello, e);
	json_decref(hello);
	if (!*ctl)
		return -1;
	r = peer_recv(*ctl);
	if (!r || !json_is_true(json_object_get(r, "ok")))
		api_fail(e, 502, NULL, "node %s cannot prepare: %s", m->to,
			 r ? json_string_value(json_object_get(r, "error")) ?: "?" : "no answer");
	json_decref(r);
	return e->status ? -1 : 0;
}

/* Freeze, dump and send everything the restore needs. */
static int source_checkpoint(struct mig *m, struct api_error *e)
{
	char hook_path[PATH_MAX], img[MIGRATION_DIR_MAX], sock[MIGRATION_DIR_MAX + 16];
	uint64_t raw = 0, wire = 0;
	const char *hook;
	int ret;

	/* The images' connection is set up before the freeze: a TLS handshake, both sides
	 * proving who they are, takes milliseconds the container would spend frozen. */
	if (!(m->images_ssl = dial_stream(m->a, m->to, m->id, "images", e)))
		return -1;
	/* petrel-criu-hook next to petreld, and a socket path short enough for it to call;
	 * without, the container is frozen before runc starts, and the stall also pays for
	 * runc's and CRIU's start. Decided here, once: whoever does not hook must freeze.
	 * <state>/no-criu-hook asks for that too (comparisons, as bench/migration.sh makes). */
	hook = !state_flag(m->a, "no-criu-hook") &&
	       !exe_sibling("petrel-criu-hook", hook_path, sizeof(hook_path)) &&
	       hook_socket_path(m, sock, sizeof(sock)) ? hook_path : NULL;
	m->hooked = hook != NULL;
	if (!hook) {
		if (freeze(m, e))
			return -1;
		frozen_go(m);
	}
	if (m->lazy ? dump_lazy(m, hook, e) : dump(m, hook, e))
		return -1;
	m->t_dumped = now_ms();
	if (fault(m->a, "source-exit-after-dump"))
		_exit(3);
	progress(m, "transfer", "images and writable layer to %s", m->to);
	snprintf(img, sizeof(img), "%s/images", m->dir);
	ret = send_dir(m, "images", img, m->images_ssl, false, &raw, &wire, e);
	m->images_ssl = NULL;
	m->bytes += raw;
	m->wire_bytes += wire;
	if (ret || bundle_finish(m, e))
		return -1;
	m->t_sent = now_ms();
	return 0;
}

/* CRIU's own share of the freeze's dump, from its log: from its pre-dump hook (the freeze)
 * when it froze the container, from its start otherwise. Lazy dumps end when the last page
 * is served, long after the freeze: no floor for them. */
static void criu_dump_floor(struct mig *m)
{
	char path[MIGRATION_DIR_MAX + 16];

	snprintf(path, sizeof(path), "%s/work/dump.log", m->dir);
	/* With the hooks: from the end of the pre-dump hook (where the agent froze the
	 * container) to the post-dump hook (every image complete); what CRIU does after, its
	 * own cleanup, is off the freeze's path. */
	m->criu_dump_ms = m->lazy ? -1 : m->hooked ?
		criu_log_ms(path, "petrel-criu-hook", "Running post-dump scripts") :
		criu_log_ms(path, NULL, "Dumping finished successfully");
}

/* Ask for the restore and wait for its answer (*reply); -1 when none came, or a refusal.
 * From the request on, the destination may commit: the caller settles the claim before it
 * resumes anything. */
static int source_restore(struct mig *m, SSL *ctl, json_t **reply, bool *answered,
			  struct api_error *e)
{
	json_t *flows, *r = NULL;

	progress(m, "restore", "node %s restores %s", m->to, m->name);
	flows = m->flows ? m->flows : relayed_flows(m);
	m->flows = NULL;
	m->restore_sent = true;         /* even a send that fails may have got through */
	if (peer_send(ctl, json_pack("{s:s, s:o, s:b}", "op", "restore", "flows", flows,
				     "lazy", m->lazy)) == 0) {
		if (fault(m->a, "source-exit-after-restore-sent"))
			_exit(3);
		/* The images were complete at CRIU's post-dump hook; runc's own end changes
		 * nothing now, but the frozen copy is only removed after it. */
		if (checkpoint_reap(m, e))
			log_warn("migrate %s: after its post-dump hook, %s", m->name, e->msg);
		memset(e, 0, sizeof(*e));
		r = peer_recv(ctl);
	}
	if (r && !json_is_true(json_object_get(r, "ok"))) {
		api_fail(e, 502, NULL, "node %s could not restore %s: %s", m->to, m->name,
			 json_string_value(json_object_get(r, "error")) ?: "?");
		json_decref(r);
		return -1;
	}
	*answered = r != NULL;
	*reply = r;
	if (!r) {
		checkpoint_reap(m, NULL);
		return api_fail(e, 502, NULL, "node %s stopped answering during the restore", m->to);
	}
	m->t_resume = now_ms();
	return 0;
}

/* The destination runs it: release, remove the frozen copy, end the claim, report. */
static void source_finish(struct mig *m, SSL *ctl, json_t *reply, bool answered)
{
	if (m->lazy_pid > 0)
		lazy_drain(m);
	progress(m, "cleanup", "%s runs on %s; removing the frozen copy", m->name, m->to);
	cleanup_source(m);
	if (answered) {
		json_t *pub = peer_recv(ctl);     /* the destination published its ports */

		if (!json_is_true(json_object_get(pub, "published")))
			log_warn("migrate %s: node %s did not confirm its published ports", m->name,
				 m->to);
		json_decref(pub);
	}
	pthread_mutex_lock(&m->a->lock);
	unclaim(m);
	pthread_mutex_unlock(&m->a->lock);
	criu_dump_floor(m);             /* reads the dump log: after the traffic moved */
	remove_dir(m->a, m->dir);
	report(m, reply);
}

/* Anything failed before the destination committed: the source resumes as it was. */
static void source_rollback(struct mig *m, SSL *ctl, struct api_error *e)
{
	checkpoint_reap(m, NULL);      /* CRIU may still be winding down: before the thaw */
	tls_close(m->images_ssl);
	bundle_finish(m, NULL);
	json_decref(m->flows);
	if (ctl)
		peer_send(ctl, json_pack("{s:s}", "op", "abort"));
	lazy_abort(m);
	if (m->frozen || m->redirected)
		progress(m, "rollback", "%s keeps running on %s", m->name, m->a->cfg.node);
	unfreeze(m);
	pthread_mutex_lock(&m->a->lock);
	unclaim(m);
	pthread_mutex_unlock(&m->a->lock);
	remove_dir(m->a, m->dir);
	m->frozen = m->t_freeze != 0;     /* tells the client a rollback happened */
	pthread_mutex_lock(&stats_mu);
	if (m->frozen)
		stats.rolled_back++;
	else
		stats.refused++;
	pthread_mutex_unlock(&stats_mu);
	mig_fail(m, e);
}

static void *migrate_main(void *arg)
{
	struct mig *m = arg;
	struct api_error e = { 0 };
	json_t *reply = NULL;
	bool answered = false;
	SSL *ctl = NULL;

	if (!source_prepare(m, &ctl, &e) && !source_checkpoint(m, &e) &&
	    !source_restore(m, ctl, &reply, &answered, &e)) {
		source_finish(m, ctl, reply, answered);
	} else if (!m->restore_sent) {
		source_rollback(m, ctl, &e);     /* the destination cannot have committed */
	} else {
		/* Only the claim says whether the destination committed: abort it, unless the
		 * destination committed first. Frozen until the store tells. */
		switch (claim_settle(m->a, m->name, m->id, m->a->cfg.node, m->to, m->claim_rev)) {
		case 1:
			log_warn("migrate %s: %s; but node %s committed it: it runs there", m->name,
				 e.msg, m->to);
			m->t_resume = now_ms();
			source_finish(m, NULL, NULL, false);
			break;
		case 0:
			source_rollback(m, ctl, &e);
			break;
		default:        /* the agent stops: its next start settles the claim */
			mig_fail(m, &e);
			break;
		}
	}
	json_decref(reply);
	tls_close(ctl);
	close(m->out);
	free(m);
	return NULL;
}

int mig_dest_node(struct mig *m, struct api_error *e)
{
	char key[128], *v = NULL;
	json_t *j;

	snprintf(key, sizeof(key), KEY_NODES "%s", m->to);
	if (store_get(m->a->store, key, &v, NULL) == -ENOENT)
		return api_fail(e, 404, "see `petrel node status`", "node '%s' does not exist",
				m->to);
	j = v ? json_loads(v, 0, NULL) : NULL;
	cluster_node_addrs(j, &m->to4, &m->to6);
	json_decref(j);
	free(v);
	v = NULL;
	/* Only etcd keeps liveness (a lease): with one node's own store there is no peer. */
	snprintf(key, sizeof(key), KEY_ALIVE "%s", m->to);
	if (strcmp(store_backend(m->a->store), "etcd") == 0 &&
	    store_get(m->a->store, key, &v, NULL) == -ENOENT)
		return api_fail(e, 503, "is its petreld running?", "node '%s' is not alive", m->to);
	free(v);
	return 0;
}

int mig_begin(struct mig *m, struct agent *a, const char *name, const char *to, int *fd,
	      struct api_error *e)
{
	static unsigned next_id;
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return api_fail(e, 500, NULL, "out of resources");
	m->a = a;
	m->out = p[1];
	*fd = p[0];
	m->t0 = now_ms();
	m->criu_dump_ms = -1;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->to, sizeof(m->to), "%s", to);
	/* Unique even for two requests in the same second: the id names the migration's
	 * directory, which a refused twin must not share (it removes its own). */
	snprintf(m->id, sizeof(m->id), "%s-%s-%lld-%u", name, a->cfg.node, (long long)time(NULL),
		 __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED));
	snprintf(m->dir, sizeof(m->dir), "%s/migrations/%s", a->cfg.state_dir, m->id);
	return 0;
}

int mig_thread(void *(*fn)(void *), void *arg, struct mig *m, int fd, struct api_error *e)
{
	/* (A client that goes away cannot kill the agent: SIGPIPE is ignored from its start.) */
	if (thread_detached(fn, arg) == 0)
		return 0;
	close(fd);
	close(m->out);
	return api_fail(e, 500, NULL, "cannot start the migration");
}

int migrate_start(struct agent *a, const char *name, json_t *body, int *fd, struct api_error *e)
{
	const char *to = json_string_value(json_object_get(body, "to"));
	struct mig *m;

	if (!body)
		return api_fail(e, 400, NULL, "this request needs a JSON body {\"to\": NODE}");
	if (!to || !name_valid(to))
		return api_fail(e, 400, "petrel migrate NAME --to NODE", "'to' must name a node");
	if (!name_valid(name))
		return api_fail(e, 400, NULL, "'%s' is not a valid container name", name);
	if (json_is_true(json_object_get(body, "pre_copy")))
		return pre_copy_refusal(a, json_is_true(json_object_get(body, "lazy")), e);
	/* Not petrel's container: Podman's, on a petrel network here? */
	{
		struct container c;
		struct endpoint ep;

		if (container_get(a, name, &c) == -ENOENT && podman_endpoint(a, name, &ep) == 0) {
			if (json_is_true(json_object_get(body, "lazy")))
				return api_fail(e, 501, "migrate it without --lazy",
						"--lazy is for petrel's own containers, not Podman's");
			return podman_migrate_start(a, name, &ep, to, fd, e);
		}
		if (container_get(a, name, &c) == -ENOENT && podman_refusal(a, name, e))
			return -1;
	}
	if (!(m = calloc(1, sizeof(*m))))
		return api_fail(e, 500, NULL, "out of resources");
	if (mig_begin(m, a, name, to, fd, e)) {
		free(m);
		return -1;
	}
	m->lazy = json_is_true(json_object_get(body, "lazy"));
	if (mig_thread(migrate_main, m, m, *fd, e)) {
		free(m);
		return -1;
	}
	return 0;
}
