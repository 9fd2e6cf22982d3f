/* The source's freeze and dump: hold the container's packets, freeze it, have CRIU dump it
 * with its memory streaming to the destination's page server, and send the writable layer
 * meanwhile. In the default mode CRIU's action script (agent/criu_hook.c) times the freeze
 * to the moment CRIU needs it, so runc's and CRIU's start-up stay outside the freeze. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include "migration.h"
#include "conntrack.h"
#include "log.h"
#include "proc.h"
#include "runc.h"
#include "util.h"

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

/* The page relay: CRIU (through runc) connects here, the bytes go to the destination's
 * page server, compressed, over the mutual-TLS channel. */
static void *page_relay_main(void *arg)
{
	struct mig *m = arg;
	struct relay_opts o = { .compress_out = true, .read_fd = true, .write_fd = true,
				.progress = &m->bytes, .idle_ms = STREAM_WAIT_MS };
	struct pollfd p = { .fd = m->page_listen, .events = POLLIN };
	struct api_error e = { 0 };
	SSL *ssl;
	int fd, ret;

	m->page_ret = -ETIMEDOUT;
	/* The listener is on this node's loopback, where any local process can connect: only
	 * a process of the checkpoint's own tree (CRIU, under runc) is served. */
	for (;;) {
		pid_t peer = 0;

		if (poll(&p, 1, RESTORE_MS) <= 0)
			return NULL;
		fd = accept4(m->page_listen, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return NULL;
		if (proc_tcp_peer(fd, &peer, NULL) == 0 &&
		    proc_descends_from(peer, m->ckpt_pid > 0 ? m->ckpt_pid : getpid()))
			break;
		log_warn("migrate %s: page relay connection from pid %d, not CRIU's: refused", m->name,
			 (int)peer);
		close(fd);
	}
	nodelay(fd);
	ssl = dial_stream(m->a, m->to, m->id, "pages", &e);
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

static void *bundle_main(void *arg)
{
	struct mig *m = arg;
	char bundle[CONFIG_STR + 64];

	container_bundle_dir(m->a, m->name, bundle, sizeof(bundle));
	m->bundle_ret = send_dir(m, "bundle", bundle, NULL, true, &m->bundle_raw,
				 &m->bundle_wire, &m->bundle_err);
	m->flows = relayed_flows(m);
	return NULL;
}

static void bundle_start(struct mig *m)
{
	m->bundle_started = pthread_create(&m->bundle_thread, NULL, bundle_main, m) == 0;
	if (!m->bundle_started)
		bundle_main(m);
}

int bundle_finish(struct mig *m, struct api_error *e)
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

/* The flows this node translates for the container (in through its published ports, or
 * out of the cluster masqueraded by it), and the return flows it already had for the
 * container from an earlier migration: for the destination's return map. */
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

json_t *relayed_flows(struct mig *m)
{
	struct agent *a = m->a;
	struct flows_acc acc = { json_array(), a };
	struct ct_flow *flows = NULL;
	size_t n = 0;

	if (ct_endpoint_flows(&m->ep.ip4, &m->ep.ip6, &flows, &n) == 0)
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

/* Freeze the container and hold its packets in this node's stack: from here on nothing
 * reaches the frozen copy, whose kernel would otherwise acknowledge data that the
 * restored sockets never see. */
int freeze(struct mig *m, struct api_error *e)
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

void unfreeze(struct mig *m)
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

/* Frozen: report it, and send the writable layer while CRIU dumps (nothing writes to it
 * now). */
void frozen_go(struct mig *m)
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
int checkpoint_reap(struct mig *m, struct api_error *e)
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

/* The socket CRIU's action script calls back on, in the migration's directory. */
bool hook_socket_path(struct mig *m, char *sock, size_t len)
{
	struct sockaddr_un sun;

	snprintf(sock, len, "%s/freeze.sock", m->dir);
	return strlen(sock) < sizeof(sun.sun_path);
}

/* See migration.h. */
int checkpoint_hooked(struct mig *m, const char *sock, char *const runc_args[], int status_fd,
		      struct api_error *e)
{
	char env[MIGRATION_DIR_MAX + 40], *extra_env[] = { env, NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int listen_fd, ret;
	pid_t pid;

	snprintf(env, sizeof(env), "PETREL_FREEZE_SOCKET=%s", sock);
	snprintf(m->ckpt_out, sizeof(m->ckpt_out), "%s/runc.out", m->dir);
	strcpy(sun.sun_path, sock);
	unlink(sock);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(listen_fd, 1)) {
		ret = api_fail(e, 500, NULL, "CRIU's hook socket %s: %s", sock, strerror(errno));
	} else if ((pid = container_runc_start(m->a, runc_args, extra_env, status_fd,
					       m->ckpt_out)) < 0) {
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
	return ret;
}

int dump_prepare(struct mig *m, const char *hook, struct dump_paths *dp, struct api_error *e)
{
	int ret;

	snprintf(dp->img, sizeof(dp->img), "%s/images", m->dir);
	snprintf(dp->work, sizeof(dp->work), "%s/work", m->dir);
	if (hook)       /* it fits: source_checkpoint saw to it */
		hook_socket_path(m, dp->sock, sizeof(dp->sock));
	if ((ret = mkdir_p(dp->img, 0700)) || (ret = mkdir_p(dp->work, 0700)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", m->dir, strerror(-ret));
	if ((ret = container_criu_options(m->a, m->name, true, hook)))
		return api_fail(e, 500, NULL, "cannot write CRIU's options: %s", strerror(-ret));
	return 0;
}

/* The dump, default mode. With the hook, runc starts while the container still runs (see
 * checkpoint_hooked): the images go while CRIU and runc wind down (checkpoint_reap waits
 * for them). Without, the caller froze it first. */
int dump(struct mig *m, const char *hook, struct api_error *e)
{
	char ps[64], *argv[CRIU_ARGS_MAX];
	struct dump_paths dp;
	int port = 0, ret, relay;

	if (dump_prepare(m, hook, &dp, e))
		return -1;
	if ((ret = page_relay_start(m, &port)))
		return api_fail(e, 500, NULL, "cannot start the page relay: %s", strerror(-ret));
	snprintf(ps, sizeof(ps), "127.0.0.1:%d", port);
	criu_args("checkpoint", m->name, &(struct criu_opts){ .criu = m->local.criu_path,
		  .images = dp.img, .work = dp.work, .page_server = ps, .empty_netns = true,
		  /* stays frozen: we froze it; killed once the destination runs it */
		  .leave_running = true }, argv);
	if (hook) {
		ret = checkpoint_hooked(m, dp.sock, argv, -1, e);
	} else {
		pthread_mutex_lock(&m->a->lock);
		ret = container_runc(m->a, argv, NULL, e);
		pthread_mutex_unlock(&m->a->lock);
	}
	relay = page_relay_finish(m);
	if (ret)
		return -1;
	if (relay)
		return api_fail(e, 502, NULL, "streaming memory pages to %s failed: %s", m->to,
				strerror(-relay));
	return 0;
}
