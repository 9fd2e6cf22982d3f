/* Per-container latency accounting (docs/latency.md): loads bpf/latency.bpf.c while at
 * least one local endpoint is enabled, aggregates its per-packet records into histograms,
 * and streams them as JSON lines on a Unix socket per endpoint,
 * <state-dir>/latency/NAME/latency.sock: any process may connect, but only one in the
 * endpoint's own network namespace or the host's is served, and a container sees its own
 * directory alone.
 *
 * Routes: GET /v1/latency, POST|GET|DELETE /v1/latency/NAME. One thread polls the ring
 * buffer, accepts stream clients, expires packets that never reached the underlay and
 * disables endpoints whose namespace is gone. Module state has its own lock, taken after
 * the agent's when both are held. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "cluster_cache.h"
#include "latency.h"
#include "log.h"
#include "netlink.h"
#include "util.h"
#include "bpf/latency_abi.h"
#include "latency.skel.h"

#define LAT_CLIENTS      16
#define LAT_DRAIN_MS     50          /* records reach readers within this (no per-packet wakeups) */

struct lat_ep {
	bool used;
	char name[EP_NAME_MAX];
	char netns_path[300];
	uint32_t netns;
	struct lat_hist hist[2];
	uint64_t expired;                /* egress packets that never reached the underlay */
	uint64_t client_drops;           /* records a slow stream reader missed */
	int listen_fd;
	int clients[LAT_CLIENTS];
	char sock_path[CONFIG_STR + 128];
};

static struct {
	pthread_mutex_t lock;
	struct agent *a;
	struct latency_bpf *skel;
	struct ring_buffer *rb;
	struct lat_ep ep[LAT_MAX_CONTAINERS];
	int n;
	pthread_t thread;
	bool thread_started;
	int64_t mono_to_real;
} lat = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int netns_inode(const char *path, uint32_t *ino)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	*ino = (uint32_t)st.st_ino;
	return 0;
}

static struct lat_ep *find_by_name(const char *name)
{
	for (int i = 0; i < LAT_MAX_CONTAINERS; i++)
		if (lat.ep[i].used && !strcmp(lat.ep[i].name, name))
			return &lat.ep[i];
	return NULL;
}

static struct lat_ep *find_by_netns(uint32_t ns)
{
	for (int i = 0; i < LAT_MAX_CONTAINERS; i++)
		if (lat.ep[i].used && lat.ep[i].netns == ns)
			return &lat.ep[i];
	return NULL;
}

/* Deliver one line to every stream client; a client that cannot keep up loses records
 * (counted) rather than stalling the agent. */
static void stream(struct lat_ep *e, const char *line, size_t len)
{
	for (int i = 0; i < LAT_CLIENTS; i++) {
		ssize_t w;

		if (e->clients[i] < 0)
			continue;
		w = send(e->clients[i], line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w == (ssize_t)len)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			e->client_drops++;
			continue;
		}
		/* Gone, or a partial line: close rather than corrupt the stream. */
		close(e->clients[i]);
		e->clients[i] = -1;
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct lat_event *ev = data;
	struct lat_record r = { 0 };
	struct lat_ep *e;
	json_t *j;
	char *text;

	if (size < sizeof(*ev))
		return 0;
	e = find_by_netns(ev->netns);
	if (!e)
		return 0;
	lat_hist_add(&e->hist[ev->dir ? 1 : 0], ev->latency_ns);
	r.ts_ns = ev->ts_ns;
	r.realtime_ns = ev->ts_ns + (uint64_t)lat.mono_to_real;
	r.latency_ns = ev->latency_ns;
	r.dir = ev->dir;
	r.proto = ev->proto;
	r.family = ev->family;
	r.match = ev->match == LAT_MATCH_SKB ? "skb" : ev->match == LAT_MATCH_KEY ? "key" : "buffer";
	r.start = ev->start == LAT_START_SYSCALL ? "syscall" : "queue";
	r.id = ev->id;
	r.sport = ev->sport;
	r.dport = ev->dport;
	r.seq = ev->seq;
	r.len = ev->len;
	r.stack_ns = ev->stack_ns;
	memcpy(r.src, ev->src, 16);
	memcpy(r.dst, ev->dst, 16);
	j = lat_record_json(&r);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text) {
		size_t len = strlen(text);
		char *line = realloc(text, len + 2);

		if (line) {
			line[len] = '\n';
			line[len + 1] = 0;
			stream(e, line, len + 1);
			text = line;
		}
		free(text);
	}
	return 0;
}

/* Who may read an endpoint's records: a process in the endpoint's own network namespace
 * (the container), or in the one petreld started in or runs in (operators, `petrel
 * ping`). One in another endpoint's namespace may not, even if it finds the path. */
static bool peer_may_read(const struct lat_ep *e, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[64];
	struct stat peer, self;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)cred.pid);
	if (stat(path, &peer))
		return false;
	return (uint32_t)peer.st_ino == e->netns || peer.st_ino == lat.a->host_netns ||
	       (!stat("/proc/self/ns/net", &self) && peer.st_ino == self.st_ino);
}

static void accept_clients(struct lat_ep *e)
{
	int fd;

	while ((fd = accept4(e->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i;

		if (!peer_may_read(e, fd)) {
			static const char no[] = "{\"error\":\"not this endpoint's stream\"}\n";
			(void)!write(fd, no, sizeof(no) - 1);
			close(fd);
			continue;
		}

		for (i = 0; i < LAT_CLIENTS && e->clients[i] >= 0; i++)
			;
		if (i == LAT_CLIENTS) {
			static const char full[] = "{\"error\":\"too many readers of this stream\"}\n";
			(void)!write(fd, full, sizeof(full) - 1);
			close(fd);
			continue;
		}
		e->clients[i] = fd;
		/* A first line tells the reader that records from now on reach it. */
		{
			char hello[EP_NAME_MAX + 64];
			int n = snprintf(hello, sizeof(hello), "{\"stream\":\"latency\",\"endpoint\":\"%s\"}\n",
					 e->name);
			(void)!send(fd, hello, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
	}
}

static void bpf_counters(uint32_t slot, uint64_t out[LATC_N])
{
	int ncpu = libbpf_num_possible_cpus();
	struct lat_counters *v;

	memset(out, 0, sizeof(uint64_t) * LATC_N);
	if (!lat.skel || ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(lat.skel->maps.lat_stats), &slot, v))
		for (int c = 0; c < ncpu; c++)
			for (int k = 0; k < LATC_N; k++)
				out[k] += v[c].v[k];
	free(v);
}

/* Egress packets that never reached the underlay (dropped, or for a same-node peer) are
 * expired after a second and counted, so no entry lingers and none goes unreported. */
static void expire_inflight(void)
{
	int fd = bpf_map__fd(lat.skel->maps.lat_inflight);
	uint64_t key, next, now = mono_ns();
	struct {
		__u64 start_ns, queue_ns;
		__u32 len;
		__u8 family, start, pad[2];
		struct lat_key key;
		__u8 src[16], dst[16];
	} f;
	uint64_t dead[256];
	int n = 0, more = 1;

	while (more) {
		void *prev = NULL;

		n = 0;
		more = 0;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, &f) || f.start_ns > now ||
			    now - f.start_ns < LAT_EXPIRE_NS)
				continue;
			struct lat_ep *e = find_by_netns(f.key.netns);
			if (e)
				e->expired++;
			dead[n++] = key;
			if (n == 256) {
				more = 1;
				break;
			}
		}
		for (int i = 0; i < n; i++)
			bpf_map_delete_elem(fd, &dead[i]);
	}
}

static int disable_locked(struct lat_ep *e);

static void *lat_main(void *arg)
{
	struct agent *a = arg;
	uint64_t last_sweep = 0;

	while (!a->stopping) {
		pthread_mutex_lock(&lat.lock);
		if (lat.rb) {
			struct ring_buffer *rb = lat.rb;

			pthread_mutex_unlock(&lat.lock);
			/* Waiting on the ring buffer happens unlocked; consuming happens locked. */
			struct pollfd pfd = { .fd = ring_buffer__epoll_fd(rb), .events = POLLIN };
			poll(&pfd, 1, LAT_DRAIN_MS);
			pthread_mutex_lock(&lat.lock);
			for (int i = 0; i < LAT_MAX_CONTAINERS; i++)
				if (lat.ep[i].used)
					accept_clients(&lat.ep[i]);
			if (lat.rb == rb)
				ring_buffer__consume(rb);
		} else {
			pthread_mutex_unlock(&lat.lock);
			usleep(50000);
			pthread_mutex_lock(&lat.lock);
		}
		if (lat.skel && mono_ns() - last_sweep > 500000000ULL) {
			last_sweep = mono_ns();
			expire_inflight();
			for (int i = 0; i < LAT_MAX_CONTAINERS; i++) {
				struct lat_ep *e = &lat.ep[i];
				uint32_t ino = 0;

				if (e->used && (netns_inode(e->netns_path, &ino) || ino != e->netns)) {
					log_warn("latency: endpoint %s's namespace is gone; accounting disabled",
						 e->name);
					disable_locked(e);
				}
			}
		}
		pthread_mutex_unlock(&lat.lock);
	}
	return NULL;
}

static int load(struct agent *a)
{
	struct lat_config c = { 0 };
	uint32_t node_ns = 0;
	int ret, idx;
	static const long send_calls[] = { SYS_sendto, SYS_sendmsg, SYS_sendmmsg, SYS_write, SYS_writev };

	idx = nl_link_index(a->cfg.underlay_dev);
	if (idx <= 0)
		return idx < 0 ? idx : -ENODEV;
	if ((ret = netns_inode("/proc/self/ns/net", &node_ns)))
		return ret;
	/* Split lifecycle: open, set the node's constants, load, attach. */
	lat.skel = latency_bpf__open();
	if (!lat.skel)
		return -errno ? -errno : -EINVAL;
	c.underlay_ifindex = (uint32_t)idx;
	c.node_netns = node_ns;
	for (size_t i = 0; i < sizeof(send_calls) / sizeof(send_calls[0]); i++)
		c.sys_send[i] = (uint32_t)send_calls[i];
	memcpy((void *)&lat.skel->rodata->lat_conf, &c, sizeof(c));
	if ((ret = latency_bpf__load(lat.skel)) || (ret = latency_bpf__attach(lat.skel)))
		goto fail;
	lat.rb = ring_buffer__new(bpf_map__fd(lat.skel->maps.lat_events), on_event, NULL, NULL);
	if (!lat.rb) {
		ret = -errno;
		goto fail;
	}
	log_info("latency: probes attached (underlay %s, ifindex %d)", a->cfg.underlay_dev, idx);
	return 0;
fail:
	latency_bpf__destroy(lat.skel);
	lat.skel = NULL;
	return ret;
}

static void unload(void)
{
	if (!lat.skel)
		return;
	ring_buffer__consume(lat.rb);
	ring_buffer__free(lat.rb);
	lat.rb = NULL;
	latency_bpf__destroy(lat.skel);
	lat.skel = NULL;
	log_info("latency: probes detached (no endpoint enabled)");
}

void latency_dir(struct agent *a, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/latency/%s", a->cfg.state_dir, name);
}

static int open_stream_socket(struct agent *a, struct lat_ep *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[CONFIG_STR + EP_NAME_MAX + 16];
	int fd, ret;

	latency_dir(a, e->name, dir, sizeof(dir));
	if ((ret = mkdir_p(dir, 0755)))
		return ret;
	snprintf(e->sock_path, sizeof(e->sock_path), "%s/latency.sock", dir);
	if (strlen(e->sock_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, e->sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(e->sock_path);
	/* World-connectable: the container reads it without privileges through a bind mount
	 * of this directory alone; accept_clients checks who connects. */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(e->sock_path, 0666) ||
	    listen(fd, 16)) {
		ret = -errno;
		close(fd);
		unlink(e->sock_path);
		return ret;
	}
	e->listen_fd = fd;
	return 0;
}

static int disable_locked(struct lat_ep *e)
{
	if (lat.skel) {
		ring_buffer__consume(lat.rb);
		bpf_map_delete_elem(bpf_map__fd(lat.skel->maps.lat_enabled), &e->netns);
	}
	for (int i = 0; i < LAT_CLIENTS; i++)
		if (e->clients[i] >= 0)
			close(e->clients[i]);
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	unlink(e->sock_path);
	log_info("latency: accounting disabled for %s", e->name);
	memset(e, 0, sizeof(*e));
	lat.n--;
	if (!lat.n)
		unload();
	return 0;
}

static int enable(struct agent *a, const char *name, struct api_error *err)
{
	struct endpoint ep;
	struct lat_ep *e = NULL;
	struct lat_netns v = { 0 };
	int ret, slot = -1;

	ret = cluster_endpoint_get(a, name, &ep);
	if (ret == -ENOENT)
		return api_fail(err, 404, "see `petrel endpoint list`", "endpoint '%s' does not exist", name);
	if (ret)
		return api_fail(err, 503, NULL, "cannot read endpoint '%s': %s", name, strerror(-ret));
	if (strcmp(ep.node, a->cfg.node))
		return api_fail(err, 409, "ask that node's agent (petrel --node NODE latency enable NAME)",
				"endpoint '%s' lives on node %s", name, ep.node);
	if (find_by_name(name))
		return api_fail(err, 409, "see `petrel latency show NAME`, or disable it first",
				"latency accounting is already enabled for '%s'", name);
	for (int i = 0; i < LAT_MAX_CONTAINERS; i++)
		if (!lat.ep[i].used) {
			slot = i;
			break;
		}
	if (slot < 0)
		return api_fail(err, 507, "disable another endpoint first",
				"at most %d endpoints per node can be accounted", LAT_MAX_CONTAINERS);
	e = &lat.ep[slot];
	memset(e, 0, sizeof(*e));
	e->listen_fd = -1;
	for (int i = 0; i < LAT_CLIENTS; i++)
		e->clients[i] = -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (ep.netns[0] == '/')
		snprintf(e->netns_path, sizeof(e->netns_path), "%s", ep.netns);
	else
		snprintf(e->netns_path, sizeof(e->netns_path), "/run/netns/%s", ep.netns);
	if ((ret = netns_inode(e->netns_path, &e->netns)))
		return api_fail(err, 409, "the endpoint may be half-deleted; see `petrel endpoint show NAME`",
				"endpoint '%s' has no network namespace (%s): %s", name, e->netns_path,
				strerror(-ret));
	if (!lat.skel && (ret = load(a)))
		return api_fail(err, 500, "the kernel needs BTF and tp_btf support; run petreld -v for libbpf's log",
				"cannot load the latency probes: %s", strerror(-ret));
	if ((ret = open_stream_socket(a, e))) {
		if (!lat.n)
			unload();
		return api_fail(err, 500, NULL, "cannot create the record socket %s: %s", e->sock_path,
				strerror(-ret));
	}
	v.slot = (uint32_t)slot;
	/* Fresh counters for the slot, then the namespace becomes visible to the probes. */
	{
		int ncpu = libbpf_num_possible_cpus();
		struct lat_counters *zero = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*zero));
		uint32_t s = (uint32_t)slot;

		if (zero)
			bpf_map_update_elem(bpf_map__fd(lat.skel->maps.lat_stats), &s, zero, BPF_ANY);
		free(zero);
	}
	if (bpf_map_update_elem(bpf_map__fd(lat.skel->maps.lat_enabled), &e->netns, &v, BPF_NOEXIST)) {
		ret = -errno;
		close(e->listen_fd);
		unlink(e->sock_path);
		if (!lat.n)
			unload();
		return api_fail(err, 500, NULL, "cannot enable accounting: %s", strerror(-ret));
	}
	e->used = true;
	lat.n++;
	log_info("latency: accounting enabled for %s (netns %u), records on %s", name, e->netns,
		 e->sock_path);
	return 0;
}

static json_t *ep_json(struct lat_ep *e)
{
	uint64_t c[LATC_N];
	uint64_t eg_unmatched, in_unmatched;

	bpf_counters((uint32_t)(e - lat.ep), c);
	eg_unmatched = e->expired + c[LATC_EGRESS_STALE];
	in_unmatched = c[LATC_INGRESS_DELIVERED] > c[LATC_INGRESS_MATCHED] ?
		       c[LATC_INGRESS_DELIVERED] - c[LATC_INGRESS_MATCHED] : 0;
	return json_pack("{s:s, s:s, s:I, s:{s:o, s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:I, s:I, s:I}, s:I, s:I}",
			 "name", e->name, "socket", e->sock_path, "netns_inode", (json_int_t)e->netns,
			 "egress", "histogram", lat_hist_json(&e->hist[0]),
			 "started", (json_int_t)c[LATC_EGRESS_STARTED],
			 "matched", (json_int_t)c[LATC_EGRESS_MATCHED],
			 "unmatched", (json_int_t)eg_unmatched,
			 "expired", (json_int_t)e->expired, "stale", (json_int_t)c[LATC_EGRESS_STALE],
			 "ingress", "histogram", lat_hist_json(&e->hist[1]),
			 "delivered", (json_int_t)c[LATC_INGRESS_DELIVERED],
			 "matched", (json_int_t)c[LATC_INGRESS_MATCHED],
			 "unmatched", (json_int_t)in_unmatched,
			 "records_lost", (json_int_t)c[LATC_EVENTS_LOST],
			 "stream_drops", (json_int_t)e->client_drops);
}

static int start_thread(struct agent *a)
{
	struct timespec m, r;

	if (lat.thread_started)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	lat.mono_to_real = ((int64_t)r.tv_sec - m.tv_sec) * 1000000000ll + (r.tv_nsec - m.tv_nsec);
	lat.a = a;
	if (pthread_create(&lat.thread, NULL, lat_main, a))
		return -EAGAIN;
	lat.thread_started = true;
	return 0;
}

int latency_check_attach(struct agent *a, const char *name, char *detail, size_t len)
{
	struct api_error e = { 0 };
	struct lat_ep *le;
	int ret = start_thread(a);

	if (ret) {
		snprintf(detail, len, "cannot start the latency thread: %s", strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&lat.lock);
	ret = enable(a, name, &e);
	if (ret)
		snprintf(detail, len, "cannot attach: %s", e.msg);
	else if (!lat.skel)
		ret = -ENODEV, snprintf(detail, len, "enabled, but no tracepoint program is attached");
	else
		snprintf(detail, len, "tracepoint programs attached (underlay %s)", a->cfg.underlay_dev);
	if ((le = find_by_name(name)))
		disable_locked(le);
	pthread_mutex_unlock(&lat.lock);
	return ret ? (ret < 0 ? ret : -EIO) : 0;
}

int latency_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	static const char prefix[] = "/v1/latency/";
	struct lat_ep *le;
	const char *name;
	int ret = 0;

	if (!strcmp(rq->path, "/v1/latency")) {
		json_t *arr = json_array();

		if (strcmp(rq->method, "GET"))
			return api_fail(e, 405, "use GET", "method %s not allowed on %s", rq->method, rq->path);
		pthread_mutex_lock(&lat.lock);
		for (int i = 0; i < LAT_MAX_CONTAINERS; i++)
			if (lat.ep[i].used)
				json_array_append_new(arr, ep_json(&lat.ep[i]));
		*resp = json_pack("{s:o, s:b}", "enabled", arr, "probes_attached", lat.skel != NULL);
		pthread_mutex_unlock(&lat.lock);
		return 200;
	}
	if (strncmp(rq->path, prefix, strlen(prefix)))
		return 0;
	name = rq->path + strlen(prefix);
	if (!name_valid(name))
		return api_fail(e, 400, NULL, "'%s' is not a valid endpoint name", name);
	if (strcmp(rq->method, "GET") && strcmp(rq->method, "POST") && strcmp(rq->method, "DELETE"))
		return api_fail(e, 405, "use GET, POST or DELETE", "method %s not allowed on %s",
				rq->method, rq->path);
	if ((ret = start_thread(a)))
		return api_fail(e, 500, NULL, "cannot start the latency thread: %s", strerror(-ret));
	pthread_mutex_lock(&lat.lock);
	le = find_by_name(name);
	if (!strcmp(rq->method, "POST")) {
		ret = enable(a, name, e);
		if (!ret) {
			*resp = ep_json(find_by_name(name));
			ret = 201;
		}
	} else if (!le) {
		struct endpoint ep;

		if (cluster_endpoint_get(a, name, &ep) == -ENOENT)
			ret = api_fail(e, 404, "see `petrel endpoint list`", "endpoint '%s' does not exist", name);
		else
			ret = api_fail(e, 404, "enable it with `petrel latency enable NAME` (on its node)",
				       "latency accounting is not enabled for '%s' on node %s", name,
				       a->cfg.node);
	} else if (!strcmp(rq->method, "GET")) {
		ring_buffer__consume(lat.rb);
		*resp = ep_json(le);
		ret = 200;
	} else {
		*resp = ep_json(le);
		disable_locked(le);
		ret = 200;
	}
	pthread_mutex_unlock(&lat.lock);
	return ret;
}

/* An endpoint deleted anywhere: stop accounting for it here if it was. (One that moves
 * to another node is the migration's to handle.) */
static void endpoint_changed(void *ctx, const struct cc_entry *old, const struct cc_entry *new)
{
	struct agent *a = ctx;
	struct lat_ep *e;
	char dir[CONFIG_STR + EP_NAME_MAX + 16];

	if (!old || !strcmp(old->u.ep.node, new ? new->u.ep.node : ""))
		return;
	pthread_mutex_lock(&lat.lock);
	if (!new && (e = find_by_name(old->name)))
		disable_locked(e);
	/* Gone from this node (deleted, or moved on): its socket's directory goes too, once
	 * no accounting uses it. */
	latency_dir(a, old->name, dir, sizeof(dir));
	if (!strcmp(old->u.ep.node, a->cfg.node) && !find_by_name(old->name))
		rmdir(dir);
	pthread_mutex_unlock(&lat.lock);
}

int latency_subscribe(struct agent *a)
{
	struct cc_listener l = {
		.name = "latency", .kinds = CC_BIT(CC_ENDPOINT), .changed = endpoint_changed, .ctx = a,
	};

	return cluster_subscribe(a, &l);
}

void latency_stop(struct agent *a)
{
	if (lat.thread_started) {
		pthread_join(lat.thread, NULL);
		lat.thread_started = false;
	}
	pthread_mutex_lock(&lat.lock);
	for (int i = 0; i < LAT_MAX_CONTAINERS; i++)
		if (lat.ep[i].used)
			disable_locked(&lat.ep[i]);
	pthread_mutex_unlock(&lat.lock);
}

void latency_metrics(struct agent *a, FILE *f)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	static const char *dirs[] = { "egress", "ingress" };

	pthread_mutex_lock(&lat.lock);
	if (lat.rb)
		ring_buffer__consume(lat.rb);
	fprintf(f, "# HELP petrel_latency_seconds Network-stack latency accounted per packet, by endpoint and direction.\n");
	fprintf(f, "# TYPE petrel_latency_seconds summary\n");
	for (int i = 0; i < LAT_MAX_CONTAINERS; i++) {
		struct lat_ep *e = &lat.ep[i];

		if (!e->used)
			continue;
		for (int d = 0; d < 2; d++) {
			for (size_t q = 0; q < 4; q++)
				fprintf(f, "petrel_latency_seconds{node=\"%s\",endpoint=\"%s\",direction=\"%s\",quantile=\"%g\"} %.9f\n",
					a->cfg.node, e->name, dirs[d], qs[q],
					(double)lat_hist_quantile(&e->hist[d], qs[q]) / 1e9);
			fprintf(f, "petrel_latency_seconds_sum{node=\"%s\",endpoint=\"%s\",direction=\"%s\"} %.9f\n",
				a->cfg.node, e->name, dirs[d], (double)e->hist[d].sum / 1e9);
			fprintf(f, "petrel_latency_seconds_count{node=\"%s\",endpoint=\"%s\",direction=\"%s\"} %llu\n",
				a->cfg.node, e->name, dirs[d], (unsigned long long)e->hist[d].count);
		}
	}
	fprintf(f, "# HELP petrel_latency_unmatched_total Packets of an accounted endpoint whose other end was not found.\n");
	fprintf(f, "# TYPE petrel_latency_unmatched_total counter\n");
	for (int i = 0; i < LAT_MAX_CONTAINERS; i++) {
		struct lat_ep *e = &lat.ep[i];
		uint64_t c[LATC_N];

		if (!e->used)
			continue;
		bpf_counters((uint32_t)i, c);
		fprintf(f, "petrel_latency_unmatched_total{node=\"%s\",endpoint=\"%s\",direction=\"egress\"} %llu\n",
			a->cfg.node, e->name, (unsigned long long)(e->expired + c[LATC_EGRESS_STALE]));
		fprintf(f, "petrel_latency_unmatched_total{node=\"%s\",endpoint=\"%s\",direction=\"ingress\"} %llu\n",
			a->cfg.node, e->name,
			(unsigned long long)(c[LATC_INGRESS_DELIVERED] > c[LATC_INGRESS_MATCHED] ?
					     c[LATC_INGRESS_DELIVERED] - c[LATC_INGRESS_MATCHED] : 0));
	}
	pthread_mutex_unlock(&lat.lock);
}
