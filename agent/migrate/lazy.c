/* Lazy (post-copy) migration: CRIU dumps everything but the memory, the destination
 * restores at once, and its lazy-pages daemon fetches each page from the frozen source's
 * page server as the container touches it, through the peer channel. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "migration.h"
#include "log.h"
#include "proc.h"
#include "runc.h"
#include "util.h"

#define LAZY_END_MS 10000      /* CRIU ending its lazy dump once its connection is gone */

/* Source side: CRIU's page server port, found by migration id when the destination's
 * lazy-pages daemon calls back through the peer channel. */
static pthread_mutex_t lazy_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char id[MIGRATION_ID_MAX], to[EP_NAME_MAX];
	int port;
	pid_t server;                   /* runc checkpoint: CRIU's page server is below it */
	uint64_t bytes;
} lazy_out[16];

/* ---- the source side ---- */

static void lazy_register(const char *id, const char *to, int port, pid_t server)
{
	pthread_mutex_lock(&lazy_mu);
	for (size_t i = 0; i < sizeof(lazy_out) / sizeof(lazy_out[0]); i++)
		if (!lazy_out[i].port || !strcmp(lazy_out[i].id, id)) {
			snprintf(lazy_out[i].id, sizeof(lazy_out[i].id), "%s", port ? id : "");
			snprintf(lazy_out[i].to, sizeof(lazy_out[i].to), "%s", port ? to : "");
			lazy_out[i].port = port;
			lazy_out[i].server = server;
			lazy_out[i].bytes = 0;
			break;
		}
	pthread_mutex_unlock(&lazy_mu);
}

/* Pages served lazily for migration id (counted by the stream handler). */
static void lazy_count(const char *id, uint64_t bytes, uint64_t *total)
{
	pthread_mutex_lock(&lazy_mu);
	for (size_t i = 0; i < sizeof(lazy_out) / sizeof(lazy_out[0]); i++)
		if (lazy_out[i].port && !strcmp(lazy_out[i].id, id)) {
			lazy_out[i].bytes += bytes;
			if (total)
				*total = lazy_out[i].bytes;
		}
	pthread_mutex_unlock(&lazy_mu);
}

/* CRIU's page server port (and its process) for migration id, if peer is its destination. */
static int lazy_port_of(const char *id, const char *peer, pid_t *server)
{
	int port = 0;

	pthread_mutex_lock(&lazy_mu);
	for (size_t i = 0; i < sizeof(lazy_out) / sizeof(lazy_out[0]) && !port; i++)
		if (lazy_out[i].port && !strcmp(lazy_out[i].id, id) && !strcmp(lazy_out[i].to, peer)) {
			port = lazy_out[i].port;
			*server = lazy_out[i].server;
		}
	pthread_mutex_unlock(&lazy_mu);
	return port;
}

/* Lazy mode: CRIU dumps everything but the memory, then serves pages from the frozen source
 * on demand (its page server on loopback, reached through the peer channel) until the
 * destination has them all; only then does runc checkpoint exit and the source go. With
 * the hook, the container is frozen at CRIU's pre-dump hook, as in the default mode. */
int dump_lazy(struct mig *m, const char *hook, struct api_error *e)
{
	char ps[64], root[CONFIG_STR + 64], *args[CRIU_ARGS_MAX], *argv[CRIU_ARGS_MAX + 4];
	struct dump_paths dp;
	int ret, st[2];
	struct pollfd p;
	char c;

	if (dump_prepare(m, hook, &dp, e))
		return -1;
	m->lazy_port = free_port();
	snprintf(ps, sizeof(ps), "127.0.0.1:%d", m->lazy_port);
	criu_args("checkpoint", m->name, &(struct criu_opts){ .criu = m->local.criu_path,
		  .images = dp.img, .work = dp.work, .page_server = ps, .lazy_pages = true,
		  .status_fd = true, .empty_netns = true,
		  /* CRIU kills a dump's tasks once its page server ends, and it ends as well
		   * when the destination fails: left running (frozen by us), the container
		   * survives a rollback, and is removed once the destination runs it */
		  .leave_running = true }, args);
	if (hook) {
		if (pipe2(st, O_CLOEXEC))
			return api_fail(e, 500, NULL, "cannot run runc: %s", strerror(errno));
		ret = checkpoint_hooked(m, dp.sock, args, st[1], e);
		close(st[1]);
		/* runc goes on serving pages: lazy_pid's to stop, not checkpoint_reap's to wait */
		m->lazy_pid = m->ckpt_pid;
		m->ckpt_pid = 0;
		/* Ready once CRIU serves pages, just after its post-dump hook. */
		p = (struct pollfd){ .fd = st[0], .events = POLLIN };
		if (!ret && (poll(&p, 1, STREAM_WAIT_MS) != 1 || read(st[0], &c, 1) != 1)) {
			lazy_abort(m);
			ret = api_fail(e, 500, "see dump.log in the migration directory",
				       "runc checkpoint --lazy-pages did not serve pages");
		}
		close(st[0]);
		if (ret)
			return -1;
	} else {
		if (container_runc_argv(m->a, args, root, sizeof(root), argv, CRIU_ARGS_MAX + 4) < 0)
			return api_fail(e, 500, NULL, "too many runc arguments");
		/* Ready once everything but the pages is dumped and CRIU serves pages. */
		m->lazy_pid = spawn_ready(argv, STREAM_WAIT_MS);
		if (m->lazy_pid < 0) {
			m->lazy_pid = 0;
			return api_fail(e, 500, "see dump.log in the migration directory",
					"runc checkpoint --lazy-pages failed");
		}
	}
	lazy_register(m->id, m->to, m->lazy_port, m->lazy_pid);
	return 0;
}

/* CRIU's lazy page server ends when its one connection does. The destination's
 * lazy-pages daemon makes that connection once it restores; before, none exists: make one
 * and close it, so that CRIU ends its dump the normal way. */
static void lazy_server_release(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		log_debug("lazy page server on port %d: %s", port, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* End a lazy dump's runc checkpoint (pid, CRIU's page server on port). The page server
 * ends with its one connection (the destination dropped it, or lazy_server_release), and
 * CRIU its dump with it, leaving the container to the thaw. runc does not pass signals to
 * CRIU, which would go on holding the container: one that does not end is killed with
 * runc, which detaches it. child: pid is ours to wait for, else an earlier run's orphan. */
static void lazy_dump_end(pid_t pid, int port, bool child, const char *what)
{
	pid_t criu = proc_first_child(pid);
	bool ended;

	lazy_server_release(port);
	if (child) {
		ended = proc_wait(pid, LAZY_END_MS) != -ETIMEDOUT;
	} else {
		for (int i = 0; i < LAZY_END_MS / 10 && proc_running(pid); i++)
			usleep(10000);
		if (!(ended = !proc_running(pid)))
			kill(pid, SIGKILL);
	}
	if (!ended) {
		if (criu > 0)
			kill(criu, SIGKILL);
		log_warn("%s: runc checkpoint and CRIU had to be killed", what);
	}
}

/* A lazy dump that must not go on (rollback before the commit). */
void lazy_abort(struct mig *m)
{
	if (m->lazy_pid > 0)
		lazy_dump_end(m->lazy_pid, m->lazy_port, true, m->name);
	m->lazy_pid = 0;
	lazy_register(m->id, NULL, 0, 0);
}

void lazy_leftover_end(const char *dir)
{
	char work[MIGRATION_DIR_MAX + 8], ps[64] = "", *colon;
	const char *words[] = { "checkpoint", "--lazy-pages", "--work-path", work };
	pid_t pid;

	snprintf(work, sizeof(work), "%s/work", dir);
	pid = proc_find_args(words, sizeof(words) / sizeof(words[0]), "--page-server", ps,
			     sizeof(ps));
	if (pid <= 0 || !(colon = strrchr(ps, ':')))
		return;
	log_warn("%s: ending the lazy dump (runc pid %d) an earlier run of this agent left", dir,
		 (int)pid);
	lazy_dump_end(pid, atoi(colon + 1), false, dir);
}

bool lazy_serve_stream(const char *id, const char *peer, SSL *ssl)
{
	struct relay_opts o = { .compress_out = true, .read_fd = true, .write_fd = true };
	struct relay_stats st = { 0 };
	pid_t server = 0;
	int port = lazy_port_of(id, peer, &server), ret;

	if (!port)
		return false;
	ret = relay_to_local(port, server, ssl, &o, &st);
	lazy_count(id, st.raw_out, NULL);
	log_info("migration %s: lazy pages served: %llu bytes (%llu on the wire)%s", id,
		 (unsigned long long)st.raw_out, (unsigned long long)st.wire_out,
		 ret ? ", failed" : "");
	return true;
}

void lazy_drain(struct mig *m)
{
	uint64_t lazy_bytes = 0;
	int rc;

	progress(m, "pages", "%s runs on %s; its memory follows on demand", m->name, m->to);
	/* Held packets can go now: the container runs there. The frozen copy stays until its
	 * pages are all served; what it sends is still dropped. */
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
	lazy_register(m->id, NULL, 0, 0);
	if (rc)
		log_err("migrate %s: the lazy page transfer ended badly (%d); see dump.log", m->name, rc);
}

/* ---- the destination side ---- */

/* Lazy mode, destination side: CRIU's lazy-pages daemon asks for pages on one end of a
 * socket pair (--ps-socket: no listener anyone else could reach); this relays the other
 * end to the source's page server through the peer channel. */
static void *lazy_relay_main(void *arg)
{
	struct dest *d = arg;
	struct relay_opts o = { .decompress_in = true, .read_fd = true, .write_fd = true };
	struct api_error e = { 0 };
	struct relay_stats st;
	SSL *ssl = dial_stream(d->a, d->in.source, d->in.id, "lazy", &e);
	int ret = ssl ? relay_run(d->lazy_fd, ssl, &o, &st) : -EIO;

	tls_close(ssl);
	if (ret)
		log_err("migration %s: the lazy page stream broke: %s", d->in.id, strerror(-ret));
	return NULL;
}

int lazy_start(struct dest *d, struct api_error *e)
{
	char log[MIGRATION_DIR_MAX], sock[MIGRATION_DIR_MAX];
	char *argv[] = { d->v.criu_path, "lazy-pages", "--page-server", "--ps-socket", "3",
			 "-D", d->in.images, "-W", d->in.work, "-o", log, "-v2", NULL };
	int fds[3] = { -1, -1, -1 }, sv[2];

	snprintf(log, sizeof(log), "%s/lazy-pages.log", d->in.dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return api_fail(e, 500, NULL, "cannot start the lazy page relay: %s", strerror(errno));
	d->lazy_daemon = proc_spawn(argv, fds, sv[0]);
	close(sv[0]);
	d->lazy_fd = sv[1];
	if (d->lazy_daemon < 0)
		return api_fail(e, 500, NULL, "cannot start CRIU's lazy-pages daemon");
	if (pthread_create(&d->lazy_thread, NULL, lazy_relay_main, d)) {
		d->lazy_thread_started = false;
		return api_fail(e, 500, NULL, "cannot start the lazy page relay: %s", strerror(errno));
	}
	d->lazy_thread_started = true;
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
	int fd;                         /* our end of the daemon's page socket */
	pthread_t relay;
};

static void *lazy_watch_main(void *arg)
{
	struct lazy_watch *w = arg;
	int rc = proc_wait(w->daemon, -1);

	shutdown(w->fd, SHUT_RDWR);
	pthread_join(w->relay, NULL);
	close(w->fd);
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

void lazy_watch(struct dest *d)
{
	struct lazy_watch *w = calloc(1, sizeof(*w));
	pthread_t t;

	if (!w)
		return;
	w->a = d->a;
	snprintf(w->name, sizeof(w->name), "%s", d->c.name);
	snprintf(w->id, sizeof(w->id), "%s", d->in.id);
	w->daemon = d->lazy_daemon;
	w->fd = d->lazy_fd;
	w->relay = d->lazy_thread;
	d->lazy_daemon = 0;
	d->lazy_fd = -1;
	d->lazy_thread_started = false;
	if (pthread_create(&t, NULL, lazy_watch_main, w) == 0)
		pthread_detach(t);
}

void lazy_stop(struct dest *d)
{
	if (d->lazy_daemon > 0) {
		kill(d->lazy_daemon, SIGKILL);
		proc_wait(d->lazy_daemon, 5000);
		d->lazy_daemon = 0;
	}
	if (d->lazy_fd >= 0) {
		shutdown(d->lazy_fd, SHUT_RDWR);
		if (d->lazy_thread_started)
			pthread_join(d->lazy_thread, NULL);
		d->lazy_thread_started = false;
		close(d->lazy_fd);
		d->lazy_fd = -1;
	}
}
