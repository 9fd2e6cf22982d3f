/* Live migration of a running container to another node (docs/migration.md).
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
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "agent.h"
#include "compat.h"
#include "conntrack.h"
#include "log.h"
#include "netlink.h"
#include "netns.h"
#include "proc.h"
#include "runc.h"
#include "relay.h"
#include "tls.h"
#include "util.h"

#define KEY_MIGRATIONS "/petrel/migrations/"
#define CRIU_DEFAULT   "/opt/petrel/criu/bin/criu"
#define STREAM_WAIT_MS 60000
#define RESTORE_MS     120000
#define MIGRATION_ID_MAX 160     /* NAME-NODE-TIME-SEQ */
#define MIGRATION_DIR_MAX (CONFIG_STR + MIGRATION_ID_MAX + 32)   /* <state>/migrations/<id>/... */
#define DRAIN_MS       100     /* between holding a container's packets and freezing it */

/* ---- shared state: source overrides and destination migrations ---- */

/* Destination side of one migration, found by id from its stream connections. */
struct incoming {
	char id[MIGRATION_ID_MAX], name[EP_NAME_MAX];
	char dir[MIGRATION_DIR_MAX], images[MIGRATION_DIR_MAX], work[MIGRATION_DIR_MAX];
	char bundle[CONFIG_STR + 80];
	int page_port;
	pid_t page_server;
	bool lazy;                      /* pages come on demand after the restore */
	bool bundle_ready;              /* overlay mounted and config written (bundle_landed) */
	int streams_done, streams_failed;
	uint64_t bytes;
	struct incoming *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct incoming *incoming;
/* Source side of lazy migrations: CRIU's page server port, found by migration id when the
 * destination's lazy-pages daemon calls back through the peer channel. */
static struct { char id[MIGRATION_ID_MAX]; int port; uint64_t bytes; } lazy_out[16];

/* Fault injection for tests: a file <state-dir>/fault-NAME makes this node fail at that
 * point of its next migration, once (the file is consumed). Failures the tests need to
 * provoke but cannot time from outside: the destination's agent dying mid-transfer, the
 * source's dying with the container frozen, and a restore that fails on a damaged
 * checkpoint. */
static bool fault(struct agent *a, const char *name)
{
	char path[CONFIG_STR + 64];

	snprintf(path, sizeof(path), "%s/fault-%s", a->cfg.state_dir, name);
	if (unlink(path))
		return false;
	log_warn("fault injection: %s", name);
	return true;
}


/* A migration's directory (images, CRIU's logs) goes once it is over, unless the file
 * <state>/keep-migrations exists: then it stays for a post-mortem. */
static void remove_dir(struct agent *a, const char *dir)
{
	char path[CONFIG_STR + 64];

	snprintf(path, sizeof(path), "%s/keep-migrations", a->cfg.state_dir);
	if (access(path, F_OK) == 0)
		log_info("keeping %s (keep-migrations)", dir);
	else
		rm_tree(dir);
}

/* ---- CRIU and kernel compatibility ---- */

struct versions {
	char criu_path[CONFIG_STR];
	char criu[32];                 /* "4.2.1", empty when none works */
	char criu_error[256];
	char kernel[64];
};

static void local_versions(struct agent *a, struct versions *v)
{
	const char *candidates[] = { a->cfg.criu, CRIU_DEFAULT, "/usr/sbin/criu", "/usr/bin/criu" };
	struct utsname u;
	char why[160];

	memset(v, 0, sizeof(*v));
	uname(&u);
	snprintf(v->kernel, sizeof(v->kernel), "%s", u.release);
	snprintf(v->criu_error, sizeof(v->criu_error), "no CRIU found (set criu = PATH, or run "
		 "scripts/install-criu.sh)");
	/* A configured path is the only one tried: the operator chose it. */
	for (size_t i = 0; i < (*a->cfg.criu ? 1 : sizeof(candidates) / sizeof(candidates[0])); i++) {
		char *argv[] = { (char *)candidates[i], "--version", NULL }, *out = NULL, *ver;

		if (!*candidates[i] || access(candidates[i], X_OK)) {
			if (*a->cfg.criu)
				snprintf(v->criu_error, sizeof(v->criu_error), "criu = %s: %s",
					 a->cfg.criu, strerror(errno));
			continue;
		}
		snprintf(v->criu_path, sizeof(v->criu_path), "%s", candidates[i]);
		if (proc_output(argv, &out, 10000) != 0 || !(ver = strstr(out, "Version: "))) {
			snprintf(v->criu_error, sizeof(v->criu_error), "%s does not run", candidates[i]);
			free(out);
			continue;
		}
		ver += 9;
		ver[strcspn(ver, " \n")] = 0;
		snprintf(v->criu, sizeof(v->criu), "%s", ver);
		free(out);
		if (!criu_usable(v->criu, why, sizeof(why))) {
			snprintf(v->criu_error, sizeof(v->criu_error), "%s: %s", candidates[i], why);
			v->criu[0] = 0;
			continue;
		}
		v->criu_error[0] = 0;
		return;
	}
	v->criu_path[0] = 0;
}

static json_t *versions_json(const struct versions *v)
{
	return json_pack("{s:s, s:s, s:s}", "criu", v->criu, "criu_error", v->criu_error,
			 "kernel", v->kernel);
}

/* Lazy (post-copy) migration: CRIU must support non-cooperative userfaultfd, and its
 * lazy-pages dump needs 4 MiB pipes, which a root without CAP_SYS_RESOURCE only gets when
 * fs.pipe-max-size allows (CRIU then fails with page-pipe tee/splice errors). Even where
 * both hold, a lazy-pages daemon that dies mid-transfer leaves the restored process
 * reading zero pages with no error anywhere; until petrel can detect that, --lazy is
 * refused with the reason, before anything is frozen. */
static bool lazy_supported(const struct versions *v, char *why, size_t len)
{
	char *argv[] = { (char *)v->criu_path, "check", "--feature", "uffd-noncoop", NULL };
	char *out = NULL;
	int p[2], ret;

	if (!*v->criu) {
		snprintf(why, len, "%s", v->criu_error);
		return false;
	}
	ret = proc_output(argv, &out, 10000);
	free(out);
	if (ret) {
		snprintf(why, len, "CRIU reports no non-cooperative userfaultfd on this kernel");
		return false;
	}
	if (pipe2(p, O_CLOEXEC) == 0) {
		ret = fcntl(p[0], F_SETPIPE_SZ, 4 << 20);
		close(p[0]);
		close(p[1]);
		if (ret < 0) {
			snprintf(why, len, "CRIU's lazy-pages dump needs 4 MiB pipes and this host "
				 "allows %s (raise fs.pipe-max-size to 4194304)",
				 errno == EPERM ? "less" : strerror(errno));
			return false;
		}
	}
	return true;
}

static void migrate_serve_probe(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	struct versions v;
	const char *rootfs = json_string_value(json_object_get(hello, "rootfs"));
	char why[512] = "";
	json_t *j;

	(void)peer;
	local_versions(a, &v);
	j = versions_json(&v);
	json_object_set_new(j, "node", json_string(a->cfg.node));
	if (json_is_true(json_object_get(hello, "lazy")))
		json_object_set_new(j, "lazy", json_boolean(lazy_supported(&v, why, sizeof(why))));
	json_object_set_new(j, "lazy_error", json_string(why));
	json_object_set_new(j, "rootfs", json_boolean(rootfs && access(rootfs, R_OK | X_OK) == 0));
	peer_send(ssl, j);
}

/* ---- metrics (source side) ---- */

static struct {
	uint64_t committed, rolled_back, refused;
	uint64_t frozen_ms_sum, total_ms_sum, bytes_sum;
} stats;

void migrate_metrics(struct agent *a, FILE *f)
{
	pthread_mutex_lock(&mu);
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
	pthread_mutex_unlock(&mu);
}

/* ---- the source side ---- */

struct mig {
	struct agent *a;
	char name[EP_NAME_MAX], to[EP_NAME_MAX], id[MIGRATION_ID_MAX];
	bool lazy;
	int out;                        /* progress lines (NDJSON) to the API client */
	int64_t t0, t_freeze, t_resume;
	/* Phase ends inside the freeze, for the report: held, paused, dumped, sent, released. */
	int64_t t_held, t_paused, t_dumped, t_sent, t_released;
	volatile uint64_t bytes;        /* raw bytes moved so far */
	uint64_t wire_bytes;
	int tcp, udp;
	struct container c;
	struct endpoint ep;
	struct ip_addr to4, to6;        /* the destination's underlay addresses */
	struct versions local;
	char dir[MIGRATION_DIR_MAX];    /* <state>/migrations/<id> */
	bool claimed, frozen, redirected;
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

static void emit(struct mig *m, json_t *line)
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

static void progress(struct mig *m, const char *phase, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("migrate %s: %s: %s", m->name, phase, msg);
	emit(m, json_pack("{s:s, s:I, s:I, s:s}", "phase", phase,
			  "elapsed_ms", (json_int_t)(now_ms() - m->t0),
			  "bytes", (json_int_t)m->bytes, "message", msg));
}

static int fail_msg(struct mig *m, struct api_error *e)
{
	emit(m, json_pack("{s:s, s:s, s:i, s:b}", "error", e->msg, "hint", e->hint,
			  "status", e->status, "rolled_back", (int)m->frozen));
	return -1;
}

/* The container's sockets, from its netns's tables: established TCP connections and UDP
 * sockets for the report, and the bytes waiting unread in UDP receive queues, which CRIU
 * does not carry (the freeze waits until they are read). */
struct sock_census {
	int tcp_established, udp;
	unsigned long udp_rx_queued;
};

static void sock_census(pid_t pid, bool udp_only, struct sock_census *s)
{
	static const char *files[] = { "udp", "udp6", "tcp", "tcp6" };
	char path[64], line[512];

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < (udp_only ? 2 : 4); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		fgets(line, sizeof(line), f);    /* header */
		while (fgets(line, sizeof(line), f)) {
			unsigned long tx = 0, rx = 0;
			unsigned st = 0;

			if (sscanf(line, "%*d: %*s %*s %x %lx:%lx", &st, &tx, &rx) != 3)
				continue;
			if (i >= 2) {
				s->tcp_established += st == 1;     /* TCP_ESTABLISHED */
			} else {
				s->udp++;
				s->udp_rx_queued += rx;
			}
		}
		fclose(f);
	}
}

static unsigned long udp_queued(pid_t pid)
{
	struct sock_census s;

	sock_census(pid, true, &s);
	return s.udp_rx_queued;
}

static int check(struct mig *m, struct api_error *e)
{
	struct agent *a = m->a;
	char key[128], *v = NULL;
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
	if (!e->status) {
		snprintf(key, sizeof(key), KEY_NODES "%s", m->to);
		if (store_get(a->store, key, &v, NULL) == -ENOENT) {
			api_fail(e, 404, "see `petrel node status`", "node '%s' does not exist", m->to);
		} else {
			json_t *j = v ? json_loads(v, 0, NULL) : NULL;

			cluster_node_addrs(j, &m->to4, &m->to6);
			json_decref(j);
		}
		free(v);
		v = NULL;
		snprintf(key, sizeof(key), KEY_ALIVE "%s", m->to);
		if (!e->status && strcmp(store_backend(a->store), "etcd") == 0 &&
		    store_get(a->store, key, &v, NULL) == -ENOENT)
			api_fail(e, 503, "is its petreld running?", "node '%s' is not alive", m->to);
		free(v);
	}
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
	json_t *hello = json_pack("{s:s, s:s, s:b}", "op", "probe", "rootfs", m->c.rootfs,
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
	else if (!json_is_true(json_object_get(r, "rootfs")))
		api_fail(e, 412, "make the image available at the same path on every node",
			 "node %s has no rootfs at %s", m->to, m->c.rootfs);
	else if (m->lazy && !json_is_true(json_object_get(r, "lazy")))
		api_fail(e, 501, "migrate without --lazy",
			 "--lazy is not available on node %s: %s", m->to,
			 json_string_value(json_object_get(r, "lazy_error")));
	json_decref(r);
	return e->status ? -1 : 0;
}

static int claim(struct mig *m, struct api_error *e)
{
	char key[128], *text, *owner = NULL;
	int ret;

	snprintf(key, sizeof(key), KEY_MIGRATIONS "%s", m->name);
	text = json_dumps(json_pack("{s:s, s:s, s:s}", "id", m->id, "from", m->a->cfg.node,
				    "to", m->to), JSON_COMPACT);
	ret = store_create(m->a->store, key, text, 0);
	free(text);
	if (ret == -EEXIST) {
		store_get(m->a->store, key, &owner, NULL);
		api_fail(e, 409, "wait for it to finish", "container '%s' is already being migrated (%s)",
			 m->name, owner ? owner : "?");
		free(owner);
		return -1;
	}
	if (ret)
		return api_fail(e, 503, NULL, "cannot record the migration: %s", strerror(-ret));
	m->claimed = true;
	return 0;
}

static void unclaim(struct mig *m)
{
	char key[128];

	if (!m->claimed)
		return;
	snprintf(key, sizeof(key), KEY_MIGRATIONS "%s", m->name);
	store_delete(m->a->store, key);
	m->claimed = false;
}

/* CRIU's page protocol ends with small requests and acks: Nagle and delayed ACKs on the
 * loopback legs of the relay would hold each of them for tens of milliseconds. */
static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* The page relay: CRIU (through runc) connects here, the bytes go to the destination's
 * page server, compressed, over the mutual-TLS channel. */
static void *page_relay_main(void *arg)
{
	struct mig *m = arg;
	struct relay_opts o = { .compress_out = true, .read_fd = true, .write_fd = true,
				.progress = &m->bytes };
	struct pollfd p = { .fd = m->page_listen, .events = POLLIN };
	struct api_error e = { 0 };
	json_t *hello;
	SSL *ssl;
	int fd, ret;

	m->page_ret = -ETIMEDOUT;
	if (poll(&p, 1, RESTORE_MS) <= 0)
		return NULL;
	fd = accept4(m->page_listen, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	nodelay(fd);
	hello = json_pack("{s:s, s:s, s:s}", "op", "stream", "id", m->id, "kind", "pages");
	ssl = peer_dial(m->a, m->to, hello, &e);
	json_decref(hello);
	/* CRIU corks its page-server socket and, since 4.x, never pushes it again: its last
	 * pages and its closing command would wait out the kernel's 200 ms cork ceiling,
	 * inside the freeze. Uncork it once it has sent something (it corks right after
	 * connecting, before its first command). */
	p.fd = fd;
	if (ssl && poll(&p, 1, RESTORE_MS) > 0 && (ret = proc_uncork_tcp_peer(fd)))
		log_warn("migrate %s: cannot uncork CRIU's page-server socket (%s); its last pages "
			 "may wait up to 200 ms", m->name, strerror(-ret));
	if (ssl) {
		m->page_ret = relay_run(fd, ssl, &o, &m->page_stats);
		tls_close(ssl);
	} else {
		m->page_ret = -EIO;
	}
	close(fd);
	return NULL;
}

static int page_relay_start(struct mig *m, int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);

	m->page_listen = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->page_listen < 0 || bind(m->page_listen, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(m->page_listen, 1) ||
	    getsockname(m->page_listen, (struct sockaddr *)&sin, &sl))
		return -errno;
	*port = ntohs(sin.sin_port);
	if (pthread_create(&m->page_thread, NULL, page_relay_main, m))
		return -errno;
	return 0;
}

static int page_relay_finish(struct mig *m)
{
	shutdown(m->page_listen, SHUT_RDWR);
	pthread_join(m->page_thread, NULL);
	close(m->page_listen);
	m->wire_bytes += m->page_stats.wire_out;
	return m->page_ret;
}

/* A stream connection of one kind to the destination, which unpacks what comes on it. */
static SSL *dial_stream(struct mig *m, const char *kind, struct api_error *e)
{
	json_t *hello = json_pack("{s:s, s:s, s:s}", "op", "stream", "id", m->id, "kind", kind);
	SSL *ssl = peer_dial(m->a, m->to, hello, e);

	json_decref(hello);
	return ssl;
}

/* dir as a tar stream (kind "images" or "bundle") on ssl (dialled with dial_stream; closed
 * here), or on a new one. confirm: wait for the destination to say it unpacked everything.
 * The images do not: the restore request follows them at once, and the destination waits
 * for its streams before it restores (and fails the restore if one failed). */
static int send_dir(struct mig *m, const char *kind, const char *dir, SSL *ssl, bool confirm,
		    uint64_t *raw, uint64_t *wire, struct api_error *e)
{
	/* The bundle goes without its mount point and overlay work dir: its writable layer,
	 * its captured output (so `petrel logs` continues) and runc's files. */
	char *argv[] = { "/bin/tar", "-C", (char *)dir, "--xattrs", "--xattrs-include=trusted.*",
			 "--numeric-owner", "--exclude=./rootfs", "--exclude=./work", "-cf", "-", ".",
			 NULL };
	struct relay_opts o = { .compress_out = true, .read_fd = true, .progress = NULL };
	struct relay_stats st;
	int p[2], fds[3] = { -1, -1, -1 }, ret, status;
	json_t *r;
	pid_t pid;

	if (!ssl && !(ssl = dial_stream(m, kind, e)))
		return -1;
	if (pipe2(p, O_CLOEXEC)) {
		tls_close(ssl);
		return api_fail(e, 500, NULL, "pipe: %s", strerror(errno));
	}
	fds[1] = p[1];
	pid = proc_spawn(argv, fds, -1);
	close(p[1]);
	ret = pid < 0 ? (int)pid : relay_run(p[0], ssl, &o, &st);
	close(p[0]);
	status = pid < 0 ? -1 : proc_wait(pid, STREAM_WAIT_MS);
	r = ret || !confirm ? NULL : peer_recv(ssl);
	tls_close(ssl);
	*raw = st.raw_out;
	*wire = st.wire_out;
	if (ret || status || (confirm && !json_is_true(json_object_get(r, "ok")))) {
		api_fail(e, 502, NULL, "sending the %s to %s failed: %s", kind, m->to,
			 r ? json_string_value(json_object_get(r, "error")) ?: "?" :
			 status ? "tar failed" : strerror(-ret ? -ret : EIO));
		json_decref(r);
		return -1;
	}
	json_decref(r);
	return 0;
}

static json_t *published_flows(struct mig *m);

static void *bundle_main(void *arg)
{
	struct mig *m = arg;
	char bundle[CONFIG_STR + 64];

	container_bundle_dir(m->a, m->name, bundle, sizeof(bundle));
	m->bundle_ret = send_dir(m, "bundle", bundle, NULL, true, &m->bundle_raw,
				 &m->bundle_wire, &m->bundle_err);
	m->flows = published_flows(m);
	return NULL;
}

static void bundle_start(struct mig *m)
{
	m->bundle_started = pthread_create(&m->bundle_thread, NULL, bundle_main, m) == 0;
	if (!m->bundle_started)
		bundle_main(m);
}

static int bundle_finish(struct mig *m, struct api_error *e)
{
	if (m->bundle_started)
		pthread_join(m->bundle_thread, NULL);
	m->bundle_started = false;
	m->bytes += m->bundle_raw;
	m->wire_bytes += m->bundle_wire;
	m->bundle_raw = m->bundle_wire = 0;
	if (m->bundle_ret && e)
		*e = m->bundle_err;
	return m->bundle_ret;
}

/* Flows through this node's published ports, and return flows this node already had for
 * the container (from an earlier migration), for the destination's return map. */
struct flows_acc {
	json_t *arr;
	struct agent *a;
};

static json_t *flow_json(uint8_t proto, const struct ip_addr *ep, uint16_t ep_port,
			 const struct ip_addr *peer, uint16_t peer_port, const struct ip_addr *n4,
			 const struct ip_addr *n6)
{
	char b1[IP_STRLEN], b2[IP_STRLEN], b3[IP_STRLEN], b4[IP_STRLEN] = "";

	if (n6 && n6->family)
		ip_str(n6, b4);
	return json_pack("{s:i, s:s, s:i, s:s, s:i, s:s, s:s}", "proto", proto,
			 "ep", ip_str(ep, b1), "ep_port", ep_port, "peer", ip_str(peer, b2),
			 "peer_port", peer_port, "node4", ip_str(n4, b3), "node6", b4);
}

static int add_known_flow(const struct dp_return_flow *f, void *arg)
{
	struct flows_acc *acc = arg;
	bool zero6 = true;

	for (int i = 0; i < 16; i++)
		zero6 &= f->node6.bytes[i] == 0;
	json_array_append_new(acc->arr, flow_json(f->proto, &f->ep, f->ep_port, &f->peer,
						  f->peer_port, &f->node4, zero6 ? NULL : &f->node6));
	return 0;
}

static json_t *published_flows(struct mig *m)
{
	struct agent *a = m->a;
	struct flows_acc acc = { json_array(), a };
	struct ct_flow *flows = NULL;
	size_t n = 0;

	if (ct_dnat_flows(&m->ep.ip4, &m->ep.ip6, &flows, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(acc.arr, flow_json(flows[i].proto, &flows[i].ep,
				flows[i].ep_port, &flows[i].peer, flows[i].peer_port, &a->cfg.underlay4,
				&a->cfg.underlay6));
	free(flows);
	if (a->cfg.backend == BACKEND_EBPF) {
		datapath_return_flows_foreach(a->dp, &m->ep.ip4, add_known_flow, &acc);
		datapath_return_flows_foreach(a->dp, &m->ep.ip6, add_known_flow, &acc);
	}
	return acc.arr;
}

static int freeze_source(struct mig *m, bool freeze, struct api_error *e)
{
	int ret;

	pthread_mutex_lock(&m->a->lock);
	ret = container_freeze(m->a, &m->c, freeze, e);
	pthread_mutex_unlock(&m->a->lock);
	return ret;
}

/* Freeze the container and hold its packets in this node's stack: from here on nothing
 * reaches the frozen copy, whose kernel would otherwise acknowledge data that the
 * restored sockets never see. */
static void set_state(struct mig *m, const char *state)
{
	struct container c;

	if (container_get(m->a, m->name, &c) == 0 && !strcmp(c.node, m->a->cfg.node)) {
		snprintf(c.state, sizeof(c.state), "%s", state);
		container_put(m->a, &c);
	}
}

/* The hold's flags on this node's location entries for the container. */
static void mark_here(struct mig *m, unsigned int flags)
{
	cluster_hold(m->a, m->name, flags);
}

static int freeze(struct mig *m, struct api_error *e)
{
	struct sock_census census;

	sock_census(m->c.pid, false, &census);
	m->tcp = census.tcp_established;
	m->udp = census.udp;
	/* Hold first, freeze a moment later: datagrams already queued in the container's
	 * sockets get read meanwhile (CRIU does not carry UDP receive queues). The client's
	 * stall starts here, so frozen_ms does too. */
	pthread_mutex_lock(&m->a->lock);
	set_state(m, CT_MIGRATING);
	pthread_mutex_unlock(&m->a->lock);
	m->t_freeze = now_ms();
	hold_begin(m->hold);
	pthread_mutex_lock(&m->a->lock);
	/* Location first, then the endpoint entry: a packet in between would otherwise find
	 * neither and be dropped as addressed to no endpoint. */
	mark_here(m, DP_LOC_HOST);
	if (m->a->cfg.backend == BACKEND_EBPF)
		endpoint_datapath_detach(m->a, &m->ep);
	m->redirected = true;
	pthread_mutex_unlock(&m->a->lock);
	m->t_held = now_ms();
	/* Freeze once no datagram waits unread (bounded: a socket nobody reads stays full). */
	for (int tries = 0; ; tries++) {
		int64_t t0 = now_ms();

		while (udp_queued(m->c.pid) && now_ms() - t0 < DRAIN_MS)
			usleep(2000);
		if (freeze_source(m, true, e))
			return -1;
		/* A datagram delivered just before the datapath let go may still sit in a CPU's
		 * receive backlog: give it a moment to land, then look again. Without a UDP
		 * socket there is nothing to wait for. */
		if (!m->udp)
			break;
		usleep(10000);
		if (!udp_queued(m->c.pid) || tries == 8)
			break;
		if (freeze_source(m, false, e))
			return -1;
	}
	m->frozen = true;
	pthread_mutex_lock(&m->a->lock);
	mark_here(m, DP_LOC_HOST | DP_LOC_FROZEN);
	pthread_mutex_unlock(&m->a->lock);
	m->t_paused = now_ms();
	return 0;
}

static void unfreeze(struct mig *m)
{
	struct api_error e = { 0 };
	bool touched = m->frozen || m->redirected;

	pthread_mutex_lock(&m->a->lock);
	if (m->redirected) {
		if (m->a->cfg.backend == BACKEND_EBPF && endpoint_datapath_attach(m->a, &m->ep))
			log_warn("migrate %s: cannot re-attach the endpoint", m->name);
		cluster_hold(m->a, m->name, 0);
		m->redirected = false;
	}
	pthread_mutex_unlock(&m->a->lock);
	/* What was held goes to the resumed container, in order. */
	hold_release(m->hold, &m->held);
	m->hold = NULL;
	if (m->frozen && freeze_source(m, false, &e))
		log_err("migrate %s: cannot resume the source: %s", m->name, e.msg);
	if (touched) {
		pthread_mutex_lock(&m->a->lock);
		set_state(m, CT_RUNNING);
		pthread_mutex_unlock(&m->a->lock);
	}
	m->frozen = false;
}

static int free_port(void);

/* Start argv, which reports readiness by writing a byte to fd 3 (CRIU's --status-fd), and
 * wait for that byte. Returns the pid, or -errno with the process reaped. */
static pid_t spawn_ready(char *const argv[], int timeout_ms)
{
	int st[2], fds[3] = { -1, -1, -1 }, ret;
	struct pollfd p;
	pid_t pid;
	char c;

	if (pipe2(st, O_CLOEXEC))
		return -errno;
	pid = proc_spawn(argv, fds, st[1]);
	close(st[1]);
	if (pid < 0) {
		close(st[0]);
		return pid;
	}
	p = (struct pollfd){ .fd = st[0], .events = POLLIN };
	ret = poll(&p, 1, timeout_ms) == 1 && read(st[0], &c, 1) == 1 ? 0 : -EIO;
	close(st[0]);
	if (ret) {
		kill(pid, SIGKILL);
		proc_wait(pid, 5000);
		return ret;
	}
	return pid;
}

static void lazy_register(const char *id, int port)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < sizeof(lazy_out) / sizeof(lazy_out[0]); i++)
		if (!lazy_out[i].port || !strcmp(lazy_out[i].id, id)) {
			snprintf(lazy_out[i].id, sizeof(lazy_out[i].id), "%s", port ? id : "");
			lazy_out[i].port = port;
			lazy_out[i].bytes = 0;
			break;
		}
	pthread_mutex_unlock(&mu);
}

/* Pages served lazily for migration id (counted by the stream handler). */
static void lazy_count(const char *id, uint64_t bytes, uint64_t *total)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < sizeof(lazy_out) / sizeof(lazy_out[0]); i++)
		if (lazy_out[i].port && !strcmp(lazy_out[i].id, id)) {
			lazy_out[i].bytes += bytes;
			if (total)
				*total = lazy_out[i].bytes;
		}
	pthread_mutex_unlock(&mu);
}

static int lazy_port_of(const char *id)
{
	int port = 0;

	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < sizeof(lazy_out) / sizeof(lazy_out[0]) && !port; i++)
		if (lazy_out[i].port && !strcmp(lazy_out[i].id, id))
			port = lazy_out[i].port;
	pthread_mutex_unlock(&mu);
	return port;
}

/* Lazy mode: CRIU dumps everything but the memory, then serves pages from the frozen source
 * on demand (its page server on loopback, reached through the peer channel) until the
 * destination has them all; only then does runc checkpoint exit and the source go. */
static int dump_lazy(struct mig *m, struct api_error *e)
{
	char img[MIGRATION_DIR_MAX], work[MIGRATION_DIR_MAX], ps[64], root[CONFIG_STR + 64];
	char *argv[] = { RUNC_PATH, "--root", root, "--criu", m->local.criu_path, "checkpoint",
			 "--lazy-pages", "--page-server", ps, "--status-fd", "3",
			 "--tcp-established", "--empty-ns", "network", "--image-path", img,
			 "--work-path", work, m->name, NULL };
	int ret;

	container_runc_root(m->a, root, sizeof(root));
	snprintf(img, sizeof(img), "%s/images", m->dir);
	snprintf(work, sizeof(work), "%s/work", m->dir);
	if ((ret = mkdir_p(img, 0700)) || (ret = mkdir_p(work, 0700)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", m->dir, strerror(-ret));
	if ((ret = container_criu_options(m->a, m->name, true, NULL)))
		return api_fail(e, 500, NULL, "cannot write CRIU's options: %s", strerror(-ret));
	m->lazy_port = free_port();
	snprintf(ps, sizeof(ps), "127.0.0.1:%d", m->lazy_port);
	/* Ready once everything but the pages is dumped and CRIU serves pages. */
	m->lazy_pid = spawn_ready(argv, STREAM_WAIT_MS);
	if (m->lazy_pid < 0) {
		m->lazy_pid = 0;
		return api_fail(e, 500, "see dump.log in the migration directory",
				"runc checkpoint --lazy-pages failed");
	}
	lazy_register(m->id, m->lazy_port);
	return 0;
}

/* A lazy dump that must not go on (rollback before the restore): CRIU then thaws. */
static void lazy_abort(struct mig *m)
{
	if (m->lazy_pid > 0) {
		kill(m->lazy_pid, SIGTERM);
		if (proc_wait(m->lazy_pid, 5000) == -ETIMEDOUT)
			log_warn("migrate %s: runc checkpoint had to be killed", m->name);
	}
	m->lazy_pid = 0;
	lazy_register(m->id, 0);
}

/* Frozen: report it, and send the writable layer while CRIU dumps (nothing writes to it
 * now). */
static void frozen_go(struct mig *m)
{
	progress(m, "freeze", "%s paused with %d TCP connections and %d UDP sockets; its packets "
		 "are held here", m->name, m->tcp, m->udp);
	progress(m, "dump", "checkpointing; memory streams to %s", m->to);
	bundle_start(m);
}

/* One request of the hook (see agent/criu_hook.c), want: "freeze" (pre-dump: hold the
 * packets and freeze the container now) or "dumped" (post-dump: every image is written).
 * Returns 0 once done, -1 with e set otherwise; either way the hook gets its answer. */
static int serve_hook(struct mig *m, int listen_fd, pid_t runc, const char *want,
		      struct api_error *e)
{
	int pidfd = (int)syscall(SYS_pidfd_open, runc, 0), fd, ret;
	struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
	char req[16] = { 0 };

	ret = poll(p, pidfd >= 0 ? 2 : 1, RESTORE_MS);
	if (pidfd >= 0)
		close(pidfd);
	if (ret <= 0 || !(p[0].revents & POLLIN))
		return api_fail(e, 500, "see dump.log in the migration directory",
				"runc checkpoint ended before CRIU's %s hook",
				strcmp(want, "freeze") ? "post-dump" : "pre-dump");
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return api_fail(e, 500, NULL, "CRIU's hook: %s", strerror(errno));
	if (read(fd, req, sizeof(req) - 1) <= 0 || strncmp(req, want, strlen(want)))
		ret = api_fail(e, 500, NULL, "CRIU's hook did not say '%s'", want);
	else
		ret = strcmp(want, "freeze") ? 0 : freeze(m, e);
	if (write(fd, ret ? "fail\n" : "ok\n", ret ? 5 : 3) < 0 && !ret)
		ret = api_fail(e, 500, NULL, "CRIU's hook went away");
	close(fd);
	return ret;
}

/* runc checkpoint, still finishing after CRIU's post-dump hook: waited for. */
static int checkpoint_reap(struct mig *m, struct api_error *e)
{
	char *verb[] = { "checkpoint", NULL };
	struct api_error quiet = { 0 };
	int ret;

	if (m->ckpt_pid <= 0)
		return 0;
	ret = container_runc_finish(m->ckpt_pid, verb, m->ckpt_out, RESTORE_MS, e ? e : &quiet);
	m->ckpt_pid = 0;
	return ret;
}

/* The dump, default mode. With the hook, runc starts while the container still runs and
 * CRIU's pre-dump hook has it frozen (freeze, then frozen_go) just before CRIU touches it,
 * and its post-dump hook ends the dump: the images go while CRIU and runc wind down
 * (checkpoint_reap waits for them). Without, the caller froze it first. */
static int dump(struct mig *m, const char *hook, struct api_error *e)
{
	char img[MIGRATION_DIR_MAX], work[MIGRATION_DIR_MAX], ps[64];
	char sock[MIGRATION_DIR_MAX + 16], env[MIGRATION_DIR_MAX + 40];
	char *argv[24], *extra_env[] = { env, NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int n = 0, port = 0, ret, relay, listen_fd = -1;
	pid_t pid;

	snprintf(img, sizeof(img), "%s/images", m->dir);
	snprintf(work, sizeof(work), "%s/work", m->dir);
	snprintf(sock, sizeof(sock), "%s/freeze.sock", m->dir);
	snprintf(m->ckpt_out, sizeof(m->ckpt_out), "%s/runc.out", m->dir);
	snprintf(env, sizeof(env), "PETREL_FREEZE_SOCKET=%s", sock);
	if (strlen(sock) >= sizeof(sun.sun_path))
		hook = NULL;
	if ((ret = mkdir_p(img, 0700)) || (ret = mkdir_p(work, 0700)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", m->dir, strerror(-ret));
	if ((ret = container_criu_options(m->a, m->name, true, hook)))
		return api_fail(e, 500, NULL, "cannot write CRIU's options: %s", strerror(-ret));
	if ((ret = page_relay_start(m, &port)))
		return api_fail(e, 500, NULL, "cannot start the page relay: %s", strerror(-ret));
	snprintf(ps, sizeof(ps), "127.0.0.1:%d", port);
	argv[n++] = "--criu";                /* a global runc option */
	argv[n++] = m->local.criu_path;
	argv[n++] = "checkpoint";
	argv[n++] = "--tcp-established";
	argv[n++] = "--leave-running";      /* stays frozen: we froze it; killed on success */
	/* The namespace's links, addresses, routes and rules need no image: petrel builds the
	 * namespace on the destination itself. */
	argv[n++] = "--empty-ns";
	argv[n++] = "network";
	argv[n++] = "--image-path";
	argv[n++] = img;
	argv[n++] = "--work-path";
	argv[n++] = work;
	argv[n++] = "--page-server";
	argv[n++] = ps;
	argv[n++] = m->name;
	argv[n] = NULL;
	if (!hook) {
		pthread_mutex_lock(&m->a->lock);
		ret = container_runc(m->a, argv, NULL, e);
		pthread_mutex_unlock(&m->a->lock);
	} else {
		strcpy(sun.sun_path, sock);
		unlink(sock);
		listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) ||
		    listen(listen_fd, 1)) {
			ret = api_fail(e, 500, NULL, "CRIU's hook socket %s: %s", sock, strerror(errno));
		} else if ((pid = container_runc_start(m->a, argv, extra_env, m->ckpt_out)) < 0) {
			ret = api_fail(e, 500, NULL, "cannot run runc: %s", strerror((int)-pid));
		} else {
			m->ckpt_pid = pid;
			ret = serve_hook(m, listen_fd, pid, "freeze", e);
			if (!ret) {
				frozen_go(m);
				ret = serve_hook(m, listen_fd, pid, "dumped", e);
			}
			/* After a failed freeze CRIU fails too: what runc says adds nothing. */
			if (ret)
				checkpoint_reap(m, m->frozen ? e : NULL);
		}
		if (listen_fd >= 0)
			close(listen_fd);
		unlink(sock);
	}
	relay = page_relay_finish(m);
	if (ret)
		return -1;
	if (relay)
		return api_fail(e, 502, NULL, "streaming memory pages to %s failed: %s", m->to,
				strerror(-relay));
	return 0;
}

/* This node's return flows for the endpoint: carried to its next node, or no longer needed. */
static void clear_return_flows(struct agent *a, const struct endpoint *ep)
{
	if (a->cfg.backend != BACKEND_EBPF)
		return;
	datapath_return_flows_clear(a->dp, &ep->ip4);
	datapath_return_flows_clear(a->dp, &ep->ip6);
}

/* The destination committed: this node sends the container's addresses there (what was
 * held follows), and keeps dropping what the frozen copy still sends. Straight there,
 * without waiting for the commit to come back through the watch. Called with the agent
 * lock held. */
static void point_at_destination(struct mig *m)
{
	cluster_hold(m->a, m->name, DP_LOC_FROZEN);
	if (m->a->cfg.backend == BACKEND_EBPF && m->to4.family &&
	    cluster_point_endpoint(m->a, &m->ep, &m->to4, &m->to6, DP_LOC_FROZEN))
		log_warn("migrate %s: cannot point its addresses at %s", m->name, m->to);
}

static void cleanup_source(struct mig *m)
{
	struct api_error e = { 0 };
	char *kill_argv[] = { "delete", "--force", m->name, NULL };
	char bundle[CONFIG_STR + 64];

	pthread_mutex_lock(&m->a->lock);
	/* Cluster state says the destination now: routes and locations point there, and what
	 * was held follows them, in order; what the frozen copy sends is still dropped. */
	point_at_destination(m);
	m->redirected = false;
	hold_release(m->hold, &m->held);
	if (m->hold)
		m->t_released = now_ms();
	m->hold = NULL;
	/* Cut the frozen copy off before killing it: killed, its sockets would reset every
	 * peer. */
	nl_link_delete(m->ep.ifname);
	if (container_runc(m->a, kill_argv, NULL, &e))
		log_warn("migrate %s: removing the frozen source: %s", m->name, e.msg);
	endpoint_release_local(m->a, &m->ep);
	container_unmount(m->a, m->name);
	container_bundle_dir(m->a, m->name, bundle, sizeof(bundle));
	rm_tree(bundle);
	clear_return_flows(m->a, &m->ep);
	/* The frozen copy is gone: the hold ends once this node's cache has the commit, so
	 * the location it falls back to is the destination's. */
	if (cluster_catch_up_key(m->a, KEY_ENDPOINTS, m->name))
		log_warn("migrate %s: the commit has not reached this node's cache yet", m->name);
	cluster_hold(m->a, m->name, 0);
	pthread_mutex_unlock(&m->a->lock);
	m->frozen = false;
}

/* Did the destination take over? Asked of cluster state when its answer was lost. */
static bool destination_owns(struct mig *m)
{
	struct endpoint ep;
	bool owns;

	/* From the store, not the cache: this decides which copy lives. */
	pthread_mutex_lock(&m->a->lock);
	owns = cluster_endpoint_read(m->a, m->name, &ep) == 0 && !strcmp(ep.node, m->to);
	pthread_mutex_unlock(&m->a->lock);
	return owns;
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
	pthread_mutex_lock(&mu);
	stats.committed++;
	stats.frozen_ms_sum += (uint64_t)(m->t_resume - m->t_freeze);
	stats.total_ms_sum += now_ms() - (uint64_t)m->t0;
	stats.bytes_sum += m->bytes;
	pthread_mutex_unlock(&mu);
	json_object_set(r, "published_flows", json_object_get(dest, "flows") ?: json_integer(0));
	emit(m, json_pack("{s:o}", "report", r));
}

static void *migrate_main(void *arg)
{
	struct mig *m = arg;
	struct api_error e = { 0 };
	json_t *hello = NULL, *r = NULL;
	SSL *ctl = NULL;
	char *text;
	bool answered = false;            /* the destination's answer came (not settled from state) */
	char hook_path[PATH_MAX];
	const char *hook;
	int ret;

	progress(m, "check", "%s to %s", m->name, m->to);
	if (check(m, &e) || probe(m, &e))
		goto fail;
	pthread_mutex_lock(&m->a->lock);
	if (claim(m, &e)) {
		pthread_mutex_unlock(&m->a->lock);
		goto fail;
	}
	pthread_mutex_unlock(&m->a->lock);

	progress(m, "prepare", "node %s builds the endpoint (same addresses and MAC)", m->to);
	if ((ret = hold_start(&m->ep, &m->a->cfg.underlay4, &m->a->cfg.underlay6, &m->hold))) {
		api_fail(&e, 500, NULL, "cannot set up the hold for its packets: %s", strerror(-ret));
		goto fail;
	}
	text = container_encode(&m->c);
	hello = json_pack("{s:s, s:s, s:b, s:o, s:o}", "op", "migrate", "id", m->id,
			  "lazy", m->lazy, "container", json_loads(text, 0, NULL),
			  "endpoint", endpoint_to_json(&m->ep));
	free(text);
	ctl = peer_dial(m->a, m->to, hello, &e);
	if (!ctl)
		goto fail;
	r = peer_recv(ctl);
	if (!r || !json_is_true(json_object_get(r, "ok"))) {
		api_fail(&e, 502, NULL, "node %s cannot prepare: %s", m->to,
			 r ? json_string_value(json_object_get(r, "error")) ?: "?" : "no answer");
		goto fail;
	}
	json_decref(r);
	r = NULL;

	/* The images' connection is set up before the freeze: a TLS handshake, both sides
	 * proving who they are, takes milliseconds the container would spend frozen. */
	if (!(m->images_ssl = dial_stream(m, "images", &e)))
		goto fail;
	/* petrel-criu-hook next to petreld; without it (or in lazy mode) the container is
	 * frozen before runc starts, and the stall also pays for runc's and CRIU's start. */
	hook = !m->lazy && !exe_sibling("petrel-criu-hook", hook_path, sizeof(hook_path)) ?
	       hook_path : NULL;
	if (!hook) {
		if (freeze(m, &e))
			goto fail;
		frozen_go(m);
	}
	if (m->lazy ? dump_lazy(m, &e) : dump(m, hook, &e))
		goto fail;
	m->t_dumped = now_ms();
	if (fault(m->a, "source-exit-after-dump"))
		_exit(3);
	progress(m, "transfer", "images and writable layer to %s", m->to);
	{
		char img[MIGRATION_DIR_MAX];
		uint64_t raw = 0, wire = 0;

		snprintf(img, sizeof(img), "%s/images", m->dir);
		ret = send_dir(m, "images", img, m->images_ssl, false, &raw, &wire, &e);
		m->images_ssl = NULL;
		m->bytes += raw;
		m->wire_bytes += wire;
		if (ret || bundle_finish(m, &e))
			goto fail;
	}
	m->t_sent = now_ms();

	progress(m, "restore", "node %s restores %s", m->to, m->name);
	r = m->flows ? m->flows : published_flows(m);
	m->flows = NULL;
	if (peer_send(ctl, json_pack("{s:s, s:o, s:b}", "op", "restore", "flows", r, "lazy", m->lazy))) {
		r = NULL;
		goto lost;
	}
	/* The images were complete at CRIU's post-dump hook; runc's own end changes nothing
	 * now, but the frozen copy is only removed after it. */
	if (checkpoint_reap(m, &e))
		log_warn("migrate %s: after its post-dump hook, %s", m->name, e.msg);
	memset(&e, 0, sizeof(e));
	r = peer_recv(ctl);
	if (!r)
		goto lost;
	if (!json_is_true(json_object_get(r, "ok"))) {
		api_fail(&e, 502, NULL, "node %s could not restore %s: %s", m->to, m->name,
			 json_string_value(json_object_get(r, "error")) ?: "?");
		goto fail;
	}
	m->t_resume = now_ms();
	answered = true;
	goto commit;
lost:
	checkpoint_reap(m, NULL);
	/* The answer is lost: cluster state says who runs the container. */
	if (!destination_owns(m)) {
		api_fail(&e, 502, NULL, "node %s stopped answering during the restore", m->to);
		goto fail;
	}
	m->t_resume = now_ms();
commit:
	if (m->lazy_pid > 0) {
		uint64_t lazy_bytes = 0;
		int rc;

		progress(m, "pages", "%s runs on %s; its memory follows on demand", m->name, m->to);
		/* Held packets can go now: the container runs there. The frozen copy stays
		 * until its pages are all served; what it sends is still dropped. */
		pthread_mutex_lock(&m->a->lock);
		point_at_destination(m);
		pthread_mutex_unlock(&m->a->lock);
		hold_release(m->hold, &m->held);
		m->hold = NULL;
		m->t_released = now_ms();
		rc = proc_wait(m->lazy_pid, RESTORE_MS * 5);
		m->lazy_pid = 0;
		lazy_count(m->id, 0, &lazy_bytes);
		m->bytes += lazy_bytes;
		lazy_register(m->id, 0);
		if (rc)
			log_err("migrate %s: the lazy page transfer ended badly (%d); see dump.log", m->name, rc);
	}
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
	remove_dir(m->a, m->dir);
	report(m, r);
	json_decref(r);
	json_decref(hello);
	tls_close(ctl);
	close(m->out);
	free(m);
	return NULL;

fail:
	checkpoint_reap(m, NULL);      /* CRIU may still be winding down: before the thaw */
	tls_close(m->images_ssl);
	bundle_finish(m, NULL);
	json_decref(m->flows);
	if (ctl)
		peer_send(ctl, json_pack("{s:s}", "op", "abort"));
	tls_close(ctl);
	lazy_abort(m);
	if (m->frozen || m->redirected)
		progress(m, "rollback", "%s keeps running on %s", m->name, m->a->cfg.node);
	unfreeze(m);
	pthread_mutex_lock(&m->a->lock);
	unclaim(m);
	pthread_mutex_unlock(&m->a->lock);
	remove_dir(m->a, m->dir);
	m->frozen = m->t_freeze != 0;     /* tells the client a rollback happened */
	pthread_mutex_lock(&mu);
	if (m->frozen)
		stats.rolled_back++;
	else
		stats.refused++;
	pthread_mutex_unlock(&mu);
	fail_msg(m, &e);
	json_decref(r);
	json_decref(hello);
	close(m->out);
	free(m);
	return NULL;
}

/* Iterative pre-copy (CRIU pre-dumps while the container runs, then a final dump of what
 * changed) needs the kernel's soft-dirty page tracking. Asked for, it is refused before
 * anything happens, with the reason: this kernel lacks the tracking, or, where the
 * tracking exists, petrel does not run pre-dumps yet. */
static int pre_copy_refusal(struct agent *a, bool lazy, struct api_error *e)
{
	struct versions v;
	char *out = NULL, *argv[] = { NULL, "check", "--feature", "mem_dirty_track", NULL };
	int ret;

	if (lazy)
		return api_fail(e, 400, "pick one", "--lazy and --pre-copy exclude each other");
	local_versions(a, &v);
	if (!*v.criu)
		return api_fail(e, 412, "run scripts/install-criu.sh", "this node cannot checkpoint: %s",
				v.criu_error);
	argv[0] = v.criu_path;
	ret = proc_output(argv, &out, 10000);
	free(out);
	if (ret)
		return api_fail(e, 501, "migrate without --pre-copy (the default mode), or with --lazy",
				"iterative pre-copy needs soft-dirty page tracking, which this node's "
				"kernel (%s) lacks: `criu check --feature mem_dirty_track` says dirty "
				"tracking is off", v.kernel);
	return api_fail(e, 501, "migrate without --pre-copy (the default mode), or with --lazy",
			"this kernel tracks dirty pages, but petrel does not run iterative "
			"pre-copy yet");
}

int migrate_start(struct agent *a, const char *name, json_t *body, int *fd, struct api_error *e)
{
	static unsigned next_id;
	const char *to = json_string_value(json_object_get(body, "to"));
	struct mig *m;
	pthread_t t;
	int p[2];

	if (!body)
		return api_fail(e, 400, NULL, "this request needs a JSON body {\"to\": NODE}");
	if (!to || !name_valid(to))
		return api_fail(e, 400, "petrel migrate NAME --to NODE", "'to' must name a node");
	if (!name_valid(name))
		return api_fail(e, 400, NULL, "'%s' is not a valid container name", name);
	if (json_is_true(json_object_get(body, "pre_copy")))
		return pre_copy_refusal(a, json_is_true(json_object_get(body, "lazy")), e);
	m = calloc(1, sizeof(*m));
	if (!m || pipe2(p, O_CLOEXEC)) {
		free(m);
		return api_fail(e, 500, NULL, "out of resources");
	}
	m->a = a;
	m->out = p[1];
	m->t0 = now_ms();
	m->lazy = json_is_true(json_object_get(body, "lazy"));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->to, sizeof(m->to), "%s", to);
	/* Unique even for two requests in the same second: the id names the migration's
	 * directory, which a refused twin must not share (it removes its own). */
	snprintf(m->id, sizeof(m->id), "%s-%s-%lld-%u", name, a->cfg.node, (long long)time(NULL),
		 __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED));
	snprintf(m->dir, sizeof(m->dir), "%s/migrations/%s", a->cfg.state_dir, m->id);
	/* A client that goes away must not kill the agent with SIGPIPE mid-migration. */
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&t, NULL, migrate_main, m)) {
		close(p[0]);
		close(p[1]);
		free(m);
		return api_fail(e, 500, NULL, "cannot start the migration");
	}
	pthread_detach(t);
	*fd = p[0];
	return 0;
}

/* ---- an agent restarting in the middle of a migration ---- */

/* CRIU probes the kernel at every start (about 25 ms, twice inside each freeze) unless it
 * finds its cache, /run/criu.kdat, which it only writes when /run is a tmpfs, so that a
 * reboot clears it. Where /run is not one, the agent makes the cache at each start (so
 * at least once per boot) with CRIU run in a private mount namespace over a tmpfs /run,
 * and installs it where CRIU reads it. */
static void criu_kdat_refresh(struct agent *a)
{
	struct versions v;
	struct statfs s;
	char *out = NULL;
	char *argv[] = { "/bin/sh", "-c",
		"unshare -m sh -c 'mount -t tmpfs petrel-kdat /run && \"$0\" check >/dev/null 2>&1; "
		"cat /run/criu.kdat' \"$0\" > /run/criu.kdat.petrel && [ -s /run/criu.kdat.petrel ] && "
		"mv /run/criu.kdat.petrel /run/criu.kdat || { rm -f /run/criu.kdat.petrel; exit 1; }",
		NULL, NULL };

	if (statfs("/run", &s) || s.f_type == TMPFS_MAGIC)
		return;
	local_versions(a, &v);
	if (!*v.criu)
		return;
	argv[3] = v.criu_path;
	if (proc_output(argv, &out, 10000))
		log_warn("cannot make CRIU's kernel cache: %s", out ? out : "?");
	else
		log_debug("CRIU's kernel cache made in /run/criu.kdat (/run is not a tmpfs)");
	free(out);
}

/* The source agent died mid-migration: its claims are stale. A container of ours left
 * frozen for a migration that never committed (the record still names this node) runs
 * again here, with its endpoint back in the datapath; one whose destination committed
 * (the record names the destination) is the destination's, and this node's frozen copy
 * goes. Held packets were lost with the agent; TCP resends them. */
void migrate_recover(struct agent *a)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;

	hold_cleanup_stale();
	criu_kdat_refresh(a);
	if (store_list(a->store, KEY_MIGRATIONS, &kvs, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *j = json_loads(kvs[i].value, 0, NULL);
		const char *from = json_string_value(json_object_get(j, "from"));
		const char *name = kvs[i].key + strlen(KEY_MIGRATIONS);
		struct mig m = { .a = a };
		struct container c;

		if (!from || strcmp(from, a->cfg.node)) {
			json_decref(j);
			continue;
		}
		snprintf(m.name, sizeof(m.name), "%s", name);
		snprintf(m.to, sizeof(m.to), "%s", json_string_value(json_object_get(j, "to")) ?: "");
		m.claimed = true;
		if (container_get(a, name, &c) == 0 && cluster_endpoint_get(a, name, &m.ep) == 0) {
			m.c = c;
			if (!strcmp(m.ep.node, a->cfg.node)) {
				log_warn("migration of %s to %s was interrupted; resuming it here", name, m.to);
				m.frozen = m.redirected = true;
				pthread_mutex_unlock(&a->lock);
				unfreeze(&m);
				pthread_mutex_lock(&a->lock);
			} else if (!strcmp(c.node, m.ep.node)) {
				log_warn("migration of %s to %s had committed; removing the copy left here",
					 name, m.ep.node);
				pthread_mutex_unlock(&a->lock);
				cleanup_source(&m);
				pthread_mutex_lock(&a->lock);
			}
		}
		unclaim(&m);
		json_decref(j);
	}
	store_kvs_free(kvs, n);
}

/* ---- the destination side ---- */

static struct incoming *incoming_find(const char *id)
{
	struct incoming *in;

	for (in = incoming; in; in = in->next)
		if (!strcmp(in->id, id))
			return in;
	return NULL;
}

static void incoming_remove(struct incoming *gone)
{
	pthread_mutex_lock(&mu);
	for (struct incoming **p = &incoming; *p; p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			break;
		}
	pthread_mutex_unlock(&mu);
}

static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* CRIU's page server, on loopback; the stream handler feeds it from the source. */
static int start_page_server(struct incoming *in, const struct versions *v, struct api_error *e)
{
	char port[16], log[MIGRATION_DIR_MAX];
	char *argv[] = { (char *)v->criu_path, "page-server", "--images-dir", in->images,
			 "--address", "127.0.0.1", "--port", port, "--status-fd", "3",
			 "-o", log, "-v2", NULL };

	in->page_port = free_port();
	snprintf(port, sizeof(port), "%d", in->page_port);
	snprintf(log, sizeof(log), "%s/page-server.log", in->dir);
	/* Ready once it listens (probing by connecting would use up its one connection). */
	in->page_server = spawn_ready(argv, 5000);
	if (in->page_server < 0) {
		in->page_server = 0;
		return api_fail(e, 500, "see page-server.log in the migration directory",
				"CRIU's page server did not start");
	}
	return 0;
}

static void stop_page_server(struct incoming *in)
{
	if (in->page_server > 0) {
		kill(in->page_server, SIGKILL);
		proc_wait(in->page_server, 5000);
		in->page_server = 0;
	}
}

static void bundle_landed(struct agent *a, struct incoming *in);

/* Relay a peer stream to and from a CRIU server listening on this node's loopback. */
static int relay_to_local(int port, SSL *ssl, const struct relay_opts *o, struct relay_stats *st)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	nodelay(fd);
	ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ? -errno : relay_run(fd, ssl, o, st);
	close(fd);
	return ret;
}

/* Ids are made as NAME-NODE-TIME-SEQ from names: lower-case letters, digits and '-' (so
 * never "..", "/" or anything a path could misread), shorter than MIGRATION_ID_MAX. */
static bool migration_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n && n < MIGRATION_ID_MAX && id[0] != '-' &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static void migrate_serve_stream(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	const char *id = json_string_value(json_object_get(hello, "id"));
	const char *kind = json_string_value(json_object_get(hello, "kind"));
	struct relay_opts o = { .decompress_in = true, .write_fd = true };
	struct relay_stats st = { 0 };
	struct incoming *in;
	int ret = -EINVAL;

	(void)peer;
	if (!migration_id_valid(id)) {
		peer_reply_error(ssl, "malformed stream request");
		return;
	}
	pthread_mutex_lock(&mu);
	in = incoming_find(id);
	pthread_mutex_unlock(&mu);
	if (kind && !strcmp(kind, "lazy") && lazy_port_of(id)) {
		/* Source side: the destination's lazy-pages daemon asks for pages. */
		struct relay_opts lo = { .compress_out = true, .read_fd = true, .write_fd = true };

		ret = relay_to_local(lazy_port_of(id), ssl, &lo, &st);
		lazy_count(id, st.raw_out, NULL);
		log_info("migration %s: lazy pages served: %llu bytes (%llu on the wire)%s", id,
			 (unsigned long long)st.raw_out, (unsigned long long)st.wire_out,
			 ret ? ", failed" : "");
		return;
	}
	if (!in || !kind) {
		peer_reply_error(ssl, "no migration '%s' is being prepared here", id ? id : "?");
		return;
	}
	if (!strcmp(kind, "pages")) {
		o.read_fd = true;      /* the page server answers some requests */
		ret = relay_to_local(in->page_port, ssl, &o, &st);
	} else if (!strcmp(kind, "images") || !strcmp(kind, "bundle")) {
		if (!strcmp(kind, "images") && fault(a, "exit-in-transfer")) {
			/* The connection comes before the freeze; the images once it is dumped. */
			struct pollfd pf = { .fd = SSL_get_fd(ssl), .events = POLLIN };

			poll(&pf, 1, STREAM_WAIT_MS);
			_exit(3);
		}
		char *dir = !strcmp(kind, "images") ? in->images : in->bundle;
		char *argv[] = { "/bin/tar", "-C", dir, "--xattrs", "--xattrs-include=trusted.*",
				 "--numeric-owner", "-xpf", "-", NULL };
		int p[2], fds[3] = { -1, -1, -1 };
		pid_t pid;

		mkdir_p(dir, 0755);
		if (pipe2(p, O_CLOEXEC) == 0) {
			fds[0] = p[0];
			pid = proc_spawn(argv, fds, -1);
			close(p[0]);
			ret = pid < 0 ? (int)pid : relay_run(p[1], ssl, &o, &st);
			close(p[1]);
			if (pid > 0 && proc_wait(pid, STREAM_WAIT_MS) != 0 && !ret)
				ret = -EPROTO;
		}
		if (ret)
			peer_reply_error(ssl, "unpacking the %s failed: %s", kind, strerror(-ret));
		else
			peer_send(ssl, json_pack("{s:b}", "ok", 1));
		if (!ret && !strcmp(kind, "bundle"))
			bundle_landed(a, in);
	}
	pthread_mutex_lock(&mu);
	if (ret)
		in->streams_failed++;
	else
		in->streams_done++;
	in->bytes += st.raw_in;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	log_info("migration %s: %s stream: %llu bytes (%llu on the wire)%s", id, kind,
		 (unsigned long long)st.raw_in, (unsigned long long)st.wire_in,
		 ret ? ", failed" : "");
}

/* Wait until the source's pages, images and writable layer all arrived (3 streams). */
static int wait_streams(struct incoming *in)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STREAM_WAIT_MS / 1000;
	pthread_mutex_lock(&mu);
	while (in->streams_done + in->streams_failed < (in->lazy ? 2 : 3) && ret == 0)
		ret = pthread_cond_timedwait(&cv, &mu, &deadline);
	ret = in->streams_failed ? -EPROTO : ret ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&mu);
	return ret;
}

static int add_return_flows(struct agent *a, json_t *flows)
{
	size_t i;
	json_t *f;
	int n = 0;

	if (a->cfg.backend != BACKEND_EBPF)
		return 0;
	json_array_foreach(flows, i, f) {
		struct dp_return_flow rf = { 0 };
		const char *n6 = json_string_value(json_object_get(f, "node6"));

		rf.proto = (uint8_t)json_integer_value(json_object_get(f, "proto"));
		rf.ep_port = (uint16_t)json_integer_value(json_object_get(f, "ep_port"));
		rf.peer_port = (uint16_t)json_integer_value(json_object_get(f, "peer_port"));
		if (ip_parse(json_string_value(json_object_get(f, "ep")) ?: "", &rf.ep) ||
		    ip_parse(json_string_value(json_object_get(f, "peer")) ?: "", &rf.peer) ||
		    ip_parse(json_string_value(json_object_get(f, "node4")) ?: "", &rf.node4))
			continue;
		/* A flow that entered through this very node needs no detour. */
		if (ip_equal(&rf.node4, &a->cfg.underlay4))
			continue;
		if (n6 && *n6)
			ip_parse(n6, &rf.node6);
		if (datapath_return_flow_add(a->dp, &rf) == 0)
			n++;
	}
	return n;
}

struct dest {
	struct agent *a;
	struct incoming in;
	struct container c;
	struct endpoint ep;
	struct versions v;
	bool adopted, restored;
	char source[64];                /* the source node (its certificate's name) */
	pid_t lazy_daemon;
	int lazy_listen;
	pthread_t lazy_thread;
};

/* Lazy mode, destination side: CRIU's lazy-pages daemon asks a loopback relay for pages,
 * which it fetches from the source's page server through the peer channel. */
static void *lazy_relay_main(void *arg)
{
	struct dest *d = arg;
	struct relay_opts o = { .decompress_in = true, .read_fd = true, .write_fd = true };
	struct pollfd p = { .fd = d->lazy_listen, .events = POLLIN };
	struct api_error e = { 0 };
	struct relay_stats st;
	json_t *hello;
	SSL *ssl;
	int fd, ret;

	if (poll(&p, 1, STREAM_WAIT_MS) <= 0 ||
	    (fd = accept4(d->lazy_listen, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return NULL;
	nodelay(fd);
	hello = json_pack("{s:s, s:s, s:s}", "op", "stream", "id", d->in.id, "kind", "lazy");
	ssl = peer_dial(d->a, d->source, hello, &e);
	json_decref(hello);
	ret = ssl ? relay_run(fd, ssl, &o, &st) : -EIO;
	tls_close(ssl);
	close(fd);
	if (ret)
		log_err("migration %s: the lazy page stream broke: %s", d->in.id, strerror(-ret));
	return NULL;
}

static int lazy_start(struct dest *d, struct api_error *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	char port[16], log[MIGRATION_DIR_MAX], sock[MIGRATION_DIR_MAX];
	char *argv[] = { d->v.criu_path, "lazy-pages", "--page-server", "--address", "127.0.0.1",
			 "--port", port, "-D", d->in.images, "-W", d->in.work, "-o", log, "-v2", NULL };
	int fds[3] = { -1, -1, -1 };

	d->lazy_listen = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->lazy_listen < 0 || bind(d->lazy_listen, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(d->lazy_listen, 1) || getsockname(d->lazy_listen, (struct sockaddr *)&sin, &sl) ||
	    pthread_create(&d->lazy_thread, NULL, lazy_relay_main, d))
		return api_fail(e, 500, NULL, "cannot start the lazy page relay: %s", strerror(errno));
	snprintf(port, sizeof(port), "%d", ntohs(sin.sin_port));
	snprintf(log, sizeof(log), "%s/lazy-pages.log", d->in.dir);
	d->lazy_daemon = proc_spawn(argv, fds, -1);
	if (d->lazy_daemon < 0)
		return api_fail(e, 500, NULL, "cannot start CRIU's lazy-pages daemon");
	snprintf(sock, sizeof(sock), "%s/lazy-pages.socket", d->in.work);
	/* Inside the freeze: look often. */
	for (int i = 0; i < 10000 && access(sock, F_OK); i++)
		usleep(1000);
	if (access(sock, F_OK))
		return api_fail(e, 500, "see lazy-pages.log", "CRIU's lazy-pages daemon did not start");
	return 0;
}

/* After the restore: the container runs on pages that arrive on demand. If the transfer
 * breaks, pages never fetched would read as zeros: the container is killed instead and
 * recorded as failed, loudly. */
struct lazy_watch {
	struct agent *a;
	char name[EP_NAME_MAX], id[MIGRATION_ID_MAX];
	pid_t daemon;
	int listen;
	pthread_t relay;
};

static void *lazy_watch_main(void *arg)
{
	struct lazy_watch *w = arg;
	int rc = proc_wait(w->daemon, -1);

	shutdown(w->listen, SHUT_RDWR);
	pthread_join(w->relay, NULL);
	close(w->listen);
	if (rc) {
		char *argv[] = { "kill", w->name, "KILL", NULL };
		struct api_error e = { 0 };
		struct container c;

		log_err("migration %s: the lazy-pages daemon failed (%d): killing %s rather than let it "
			"run on missing memory", w->id, rc, w->name);
		pthread_mutex_lock(&w->a->lock);
		container_runc(w->a, argv, NULL, &e);
		if (container_get(w->a, w->name, &c) == 0) {
			snprintf(c.state, sizeof(c.state), CT_ERROR);
			container_put(w->a, &c);
		}
		pthread_mutex_unlock(&w->a->lock);
	} else {
		log_info("migration %s: every page of %s arrived", w->id, w->name);
	}
	free(w);
	return NULL;
}

static void lazy_watch(struct dest *d)
{
	struct lazy_watch *w = calloc(1, sizeof(*w));
	pthread_t t;

	if (!w)
		return;
	w->a = d->a;
	snprintf(w->name, sizeof(w->name), "%s", d->c.name);
	snprintf(w->id, sizeof(w->id), "%s", d->in.id);
	w->daemon = d->lazy_daemon;
	w->listen = d->lazy_listen;
	w->relay = d->lazy_thread;
	d->lazy_daemon = 0;
	d->lazy_listen = -1;
	if (pthread_create(&t, NULL, lazy_watch_main, w) == 0)
		pthread_detach(t);
}

static void lazy_stop(struct dest *d)
{
	if (d->lazy_daemon > 0) {
		kill(d->lazy_daemon, SIGKILL);
		proc_wait(d->lazy_daemon, 5000);
		d->lazy_daemon = 0;
	}
	if (d->lazy_listen >= 0) {
		shutdown(d->lazy_listen, SHUT_RDWR);
		pthread_join(d->lazy_thread, NULL);
		close(d->lazy_listen);
		d->lazy_listen = -1;
	}
}

static void dest_undo(struct dest *d)
{
	char *argv[] = { "delete", "--force", d->c.name, NULL };
	struct api_error e = { 0 };

	stop_page_server(&d->in);
	lazy_stop(d);
	pthread_mutex_lock(&d->a->lock);
	if (d->restored)
		container_runc(d->a, argv, NULL, &e);
	container_unmount(d->a, d->c.name);
	if (d->adopted) {
		endpoint_release_local(d->a, &d->ep);
		clear_return_flows(d->a, &d->ep);
		cluster_refresh_endpoint(d->a, d->ep.name);
	}
	pthread_mutex_unlock(&d->a->lock);
	if (d->adopted) {
		char bundle[CONFIG_STR + 64];

		container_bundle_dir(d->a, d->c.name, bundle, sizeof(bundle));
		rm_tree(bundle);
	}
}

static int dest_prepare(struct dest *d, json_t *hello, struct api_error *e)
{
	struct agent *a = d->a;
	struct container existing;
	char *text;
	int ret;

	text = json_dumps(json_object_get(hello, "container"), JSON_COMPACT);
	ret = text ? container_decode(text, &d->c) : -EINVAL;
	free(text);
	if (ret || endpoint_from_json(json_object_get(hello, "endpoint"), &d->ep))
		return api_fail(e, 400, NULL, "malformed migration request");
	local_versions(a, &d->v);
	if (!*d->v.criu)
		return api_fail(e, 412, NULL, "cannot restore here: %s", d->v.criu_error);
	pthread_mutex_lock(&a->lock);
	if (container_get(a, d->c.name, &existing) == 0 && !strcmp(existing.node, a->cfg.node)) {
		pthread_mutex_unlock(&a->lock);
		return api_fail(e, 409, NULL, "a container '%s' already runs on %s", d->c.name,
				a->cfg.node);
	}
	/* This node's own netns name for it: the source's may still exist (same machine). */
	snprintf(d->ep.node, sizeof(d->ep.node), "%s", a->cfg.node);
	snprintf(d->ep.netns, sizeof(d->ep.netns), "%s%s.%s", a->cfg.netns_prefix, d->ep.name,
		 a->cfg.node);
	ret = endpoint_adopt(a, &d->ep, e);
	if (!ret) {
		d->adopted = true;
		/* Adopting took the address's kernel routes; flows of this node's stack that
		 * go to where the container still runs get theirs back. */
		cluster_refresh_endpoint(a, d->ep.name);
	}
	pthread_mutex_unlock(&a->lock);
	if (ret)
		return -1;
	snprintf(d->c.node, sizeof(d->c.node), "%s", a->cfg.node);
	snprintf(d->c.netns, sizeof(d->c.netns), "%s", d->ep.netns);
	snprintf(d->in.dir, sizeof(d->in.dir), "%s/migrations/%s", a->cfg.state_dir, d->in.id);
	snprintf(d->in.images, sizeof(d->in.images), "%s/images", d->in.dir);
	snprintf(d->in.work, sizeof(d->in.work), "%s/work", d->in.dir);
	container_bundle_dir(a, d->c.name, d->in.bundle, sizeof(d->in.bundle));
	/* A leftover bundle of an earlier stay on this node, or of a migration here whose
	 * agent died: its overlay may still be mounted (the bundle is mounted as it lands). */
	container_unmount(a, d->c.name);
	rm_tree(d->in.bundle);
	if ((ret = mkdir_p(d->in.images, 0700)) || (ret = mkdir_p(d->in.work, 0700)) ||
	    (ret = mkdir_p(d->in.bundle, 0755)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", d->in.dir, strerror(-ret));
	return d->in.lazy ? 0 : start_page_server(&d->in, &d->v, e);
}

/* The bundle's config and CRIU options, and the overlay over the unpacked writable layer.
 * Called with the agent lock held. */
static int dest_write_bundle(struct dest *d, struct api_error *e)
{
	int ret = container_write_bundle(d->a, &d->c, e);

	if (!ret && (ret = container_criu_options(d->a, d->c.name, true, NULL)))
		return api_fail(e, 500, NULL, "cannot write CRIU's options: %s", strerror(-ret));
	d->in.bundle_ready = ret == 0;
	return ret;
}

/* The writable layer and runc's files have landed (the source sends them while CRIU still
 * dumps): the overlay is mounted and the config written now rather than inside the
 * restore, 2-3 ms of the freeze. A failure here is only logged: the restore tries again
 * and reports it. */
static void bundle_landed(struct agent *a, struct incoming *in)
{
	struct dest *d = (struct dest *)((char *)in - offsetof(struct dest, in));
	struct api_error e = { 0 };

	pthread_mutex_lock(&a->lock);
	dest_write_bundle(d, &e);
	pthread_mutex_unlock(&a->lock);
	if (e.status)
		log_warn("migration %s: early bundle: %s", in->id, e.msg);
}

static int dest_restore(struct dest *d, json_t *msg, json_t **reply, struct api_error *e)
{
	struct agent *a = d->a;
	char bundle[CONFIG_STR + 64], pidfile[CONFIG_STR + 256];
	char *argv[] = { "--criu", d->v.criu_path, "restore", "--tcp-established", "--detach",
			 "--image-path", d->in.images, "--work-path", d->in.work,
			 "--pid-file", pidfile, "--bundle", bundle, d->c.name, NULL, NULL };
	char *stale[] = { "delete", "--force", d->c.name, NULL };
	int64_t t0 = now_ms(), t_runc = 0;
	int ret, flows;

	if ((ret = wait_streams(&d->in)))
		return api_fail(e, 502, NULL, "the checkpoint did not arrive complete: %s",
				strerror(-ret));
	if (d->in.page_server > 0)
		proc_wait(d->in.page_server, 10000);    /* it exits once the dump side is done */
	d->in.page_server = 0;
	if (d->in.lazy) {
		if (lazy_start(d, e))
			return -1;
		/* runc restore --lazy-pages: the process runs before its memory has arrived. */
		memmove(&argv[4], &argv[3], 11 * sizeof(argv[0]));
		argv[3] = "--lazy-pages";
	}
	if (fault(a, "corrupt-images")) {
		char inv[MIGRATION_DIR_MAX];

		snprintf(inv, sizeof(inv), "%s/inventory.img", d->in.images);
		write_file_atomic(inv, "not a CRIU image");
	}
	container_bundle_dir(a, d->c.name, bundle, sizeof(bundle));
	container_bundle_file(a, d->c.name, CT_PID_FILE, pidfile, sizeof(pidfile));
	pthread_mutex_lock(&a->lock);
	/* Before the process runs: its very first reply to such a flow must take the detour. */
	flows = add_return_flows(a, json_object_get(msg, "flows"));
	{
		char state[CONFIG_STR + 128];

		container_runc_root(a, state, sizeof(state));
		snprintf(state + strlen(state), sizeof(state) - strlen(state), "/%s", d->c.name);
		if (access(state, F_OK) == 0)     /* runc state of an earlier stay here */
			container_runc(a, stale, NULL, e);
		memset(e, 0, sizeof(*e));
	}
	ret = d->in.bundle_ready ? 0 : dest_write_bundle(d, e);
	if (!ret) {
		t_runc = now_ms();
		ret = container_runc_attached(a, d->c.name, argv, e);
		t_runc = now_ms() - t_runc;
		d->restored = ret == 0;
	}
	if (ret) {
		pthread_mutex_unlock(&a->lock);
		return -1;
	}
	/* It runs: this node's datapath delivers to it, then the location flips below and
	 * the source releases what it held. */
	if (a->cfg.backend == BACKEND_EBPF && (ret = endpoint_datapath_attach(a, &d->ep)))
		log_warn("migration %s: cannot attach the endpoint: %s", d->in.id, strerror(-ret));
	/* The commit point: the location flips, every node now sends here. (Its ports are
	 * published here after the answer: see publish_here.) */
	d->ep.moved = true;
	snprintf(d->ep.state, sizeof(d->ep.state), "ready");
	{
		char key[128], *text = endpoint_encode(&d->ep);

		snprintf(key, sizeof(key), KEY_ENDPOINTS "%s", d->ep.name);
		ret = text ? store_put(a->store, key, text, 0) : -ENOMEM;
		free(text);
	}
	if (ret) {
		pthread_mutex_unlock(&a->lock);
		return api_fail(e, 503, NULL, "cannot record the new location: %s", strerror(-ret));
	}
	if (d->in.lazy)
		lazy_watch(d);
	if (container_started(a, &d->c, e))
		log_warn("migration %s: restored, but: %s", d->in.id, e->msg);
	pthread_mutex_unlock(&a->lock);
	*reply = json_pack("{s:b, s:I, s:I, s:i, s:I}", "ok", 1,
			   "restore_ms", (json_int_t)(now_ms() - t0), "runc_restore_ms", (json_int_t)t_runc,
			   "flows", flows, "bytes", (json_int_t)d->in.bytes);
	return 0;
}

/* New connections through this node's ports: published once the source has its answer,
 * outside the freeze (nftables takes tens of ms per port); the source waits for this line
 * before it reports, so the ports work once `petrel migrate` returns. */
static void publish_here(struct dest *d, SSL *ssl)
{
	int ret;

	pthread_mutex_lock(&d->a->lock);
	ret = endpoint_publish(d->a, &d->ep, true);
	pthread_mutex_unlock(&d->a->lock);
	if (ret)
		log_warn("migration %s: cannot publish ports here: %s", d->in.id, strerror(-ret));
	peer_send(ssl, json_pack("{s:b}", "published", ret == 0));
}

static void migrate_serve(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	const char *id = json_string_value(json_object_get(hello, "id"));
	struct api_error e = { 0 };
	struct dest *d = calloc(1, sizeof(*d));
	json_t *msg = NULL, *reply = NULL;
	const char *op;

	if (!d || !migration_id_valid(id)) {
		peer_reply_error(ssl, "malformed migration request");
		free(d);
		return;
	}
	d->a = a;
	d->lazy_listen = -1;
	d->in.lazy = json_is_true(json_object_get(hello, "lazy"));
	snprintf(d->source, sizeof(d->source), "%s", peer);
	snprintf(d->in.id, sizeof(d->in.id), "%s", id);
	log_info("migration %s: from %s", id, peer);
	if (dest_prepare(d, hello, &e))
		goto fail;
	pthread_mutex_lock(&mu);
	d->in.next = incoming;
	incoming = &d->in;
	pthread_mutex_unlock(&mu);
	if (peer_send(ssl, json_pack("{s:b}", "ok", 1)))
		goto fail_registered;
	/* The source freezes, dumps and streams, and says "restore"; or "abort"; or vanishes. */
	msg = peer_recv(ssl);
	op = json_string_value(json_object_get(msg, "op"));
	if (!op || strcmp(op, "restore")) {
		api_fail(&e, 409, NULL, "%s", op ? "the source aborted" : "the source went away");
		goto fail_registered;
	}
	if (dest_restore(d, msg, &reply, &e))
		goto fail_registered;
	incoming_remove(&d->in);
	peer_send(ssl, reply);
	/* This node's cache catches up with its own commit once the source has its answer:
	 * nothing the released packets need waits for it (the endpoint, its policy and the
	 * return flows are in place; delivery here goes by endpoint). */
	pthread_mutex_lock(&a->lock);
	cluster_catch_up(a);
	pthread_mutex_unlock(&a->lock);
	publish_here(d, ssl);
	remove_dir(a, d->in.dir);
	log_info("migration %s: %s runs here", id, d->c.name);
	json_decref(msg);
	free(d);
	return;

fail_registered:
	incoming_remove(&d->in);
fail:
	log_warn("migration %s failed here: %s", id, e.msg);
	dest_undo(d);
	remove_dir(a, d->in.dir);
	peer_reply_error(ssl, "%s", e.msg);
	json_decref(msg);
	free(d);
}

int migrate_register(struct agent *a)
{
	return peer_register("probe", migrate_serve_probe) ?: peer_register("migrate", migrate_serve) ?:
	       peer_register("stream", migrate_serve_stream);
}
