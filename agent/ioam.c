/* IOAM in the agent: configuration in cluster state (/petrel/ioam/...), compiled into the
 * IOAM programs' maps on every sync; the programs handed to the datapath on the underlay
 * device (its prog array: from_underlay calls transit/decap, the native path calls encap),
 * or attached as filters of their own to other devices; decapsulated traces
 * read from the ring buffer, kept as JSON lines for `petrel ioam traces`, and aggregated
 * into per-hop delays for /metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agent.h"
#include "cluster_cache.h"
#include "ioam.h"
#include "ioam.skel.h"
#include "ioam_config.h"
#include "log.h"
#include "netlink.h"
#include "util.h"

#define IOAM_TC_HANDLE 0x10a
#define IOAM_TC_PRIO   1       /* before the datapath's filter (priority 2) */
#define TRACE_RING     1024
#define MAX_HOPS       256

static const char *const stat_names[IOAM_ST__MAX] = {
	[IOAM_ST_ENCAP] = "encap", [IOAM_ST_NOT_SAMPLED] = "not-sampled",
	[IOAM_ST_ENCAP_FAIL] = "encap-failed", [IOAM_ST_TRANSIT] = "transit",
	[IOAM_ST_DECAP] = "decap", [IOAM_ST_EXPORT] = "exported",
	[IOAM_ST_EXPORT_LOST] = "export-lost", [IOAM_ST_OVERFLOW] = "overflow",
	[IOAM_ST_UNKNOWN_NS] = "unknown-namespace", [IOAM_ST_INCONSISTENT] = "inconsistent",
	[IOAM_ST_UNSUPPORTED] = "unsupported", [IOAM_ST_MALFORMED] = "malformed-dropped",
	[IOAM_ST_KEPT] = "decap-kept", [IOAM_ST_EXPORT_SKIPPED] = "export-skipped",
};

struct hop_delay {
	uint16_t ns;
	uint32_t from, to;
	uint64_t count, sum_ns, max_ns;
};

static struct {
	pthread_mutex_t lock;          /* the trace ring and delays; the rest is under a->lock */
	pthread_cond_t cond;
	struct ioam_bpf *skel;
	int load_err;                  /* why the skeleton did not load (0: loaded, or not wanted) */
	struct ring_buffer *rb;
	pthread_t thread;
	bool running;
	json_t *ring[TRACE_RING];
	uint64_t seq;
	struct hop_delay hops[MAX_HOPS];
	size_t n_hops;
	struct {
		int ifindex;
		int hooks;             /* 1 ingress, 2 egress */
		bool folded;           /* inside the datapath's programs, not filters */
	} attached[64];
	size_t n_attached;
	uint64_t ns_stored[IOAM_NS_IDS / 64];  /* namespace ids the last sync wrote */
	bool ns_scanned;               /* the table as an earlier agent left it, cleared once */
	uint32_t slots_used;           /* encap rule slots the last sync filled */
} io = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* Roles of this node's devices: "DEV" → hooks (1 ingress, 2 egress); -1 when unset. */
static int role_of(struct agent *a, const char *dev)
{
	char key[256], *v = NULL;
	json_t *j;
	int hooks = -1;

	snprintf(key, sizeof(key), "%s%s/%s", KEY_IOAM_ROLES + strlen(KEY_IOAM), a->cfg.node, dev);
	if (cluster_get(a, CC_IOAM, key, &v))
		return -1;
	j = json_loads(v, 0, NULL);
	free(v);
	if (j) {
		hooks = (json_is_true(json_object_get(j, "ingress")) ? 1 : 0) |
			(json_is_true(json_object_get(j, "egress")) ? 2 : 0);
		json_decref(j);
	}
	return hooks;
}

/* --- maps and filters ------------------------------------------------------------------ */

static int tc_set(int ifindex, enum bpf_tc_attach_point where, struct bpf_program *prog, bool on)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = IOAM_TC_HANDLE, .priority = IOAM_TC_PRIO);
	int ret;

	if (!on) {
		ret = bpf_tc_detach(&hook, &opts);
		return ret == -ENOENT ? 0 : ret;
	}
	opts.prog_fd = bpf_program__fd(prog);
	opts.flags = BPF_TC_F_REPLACE;
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

/* The roles of a device: on the underlay, slots of the datapath's prog array (the
 * datapath runs there anyway, and a packet IOAM does not concern costs no program run);
 * on any other device, filters of their own at priority 1. */
static int set_hooks(struct agent *a, int ifindex, int hooks, bool underlay)
{
	bool folded = underlay && a->dp;
	int ret = tc_set(ifindex, BPF_TC_INGRESS, io.skel->progs.ioam_ingress, (hooks & 1) && !folded);

	if (!ret)
		ret = tc_set(ifindex, BPF_TC_EGRESS, io.skel->progs.ioam_egress, (hooks & 2) && !folded);
	if (!ret && folded)
		ret = datapath_ioam_set(a->dp, hooks & 1 ? bpf_program__fd(io.skel->progs.ioam_ingress) : -1,
					hooks & 2 ? bpf_program__fd(io.skel->progs.ioam_egress) : -1);
	if (ret)
		return ret;
	for (size_t i = 0; i < io.n_attached; i++)
		if (io.attached[i].ifindex == ifindex) {
			io.attached[i].hooks = hooks;
			io.attached[i].folded = folded;
			return 0;
		}
	if (io.n_attached < 64) {
		io.attached[io.n_attached].ifindex = ifindex;
		io.attached[io.n_attached].hooks = hooks;
		io.attached[io.n_attached++].folded = folded;
	}
	return 0;
}

static void node_map(struct agent *a)
{
	struct ioam_node n = { .id = a->cfg.ioam_node_id, .id_wide = a->cfg.ioam_node_id_wide,
			       .export_rate = (__u32)a->cfg.ioam_export_rate };
	struct timespec rt, bt;
	__u32 zero = 0;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	n.clock_offset = (uint64_t)((rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec));
	bpf_map_update_elem(bpf_map__fd(io.skel->maps.ioam_node), &zero, &n, BPF_ANY);
}

static int cmp_rule(const void *x, const void *y)
{
	const struct encap_rule *a = x, *b = y;
	int c = memcmp(a->to.addr.bytes, b->to.addr.bytes, 16);

	if (c)
		return c;
	if (a->to.prefixlen != b->to.prefixlen)
		return a->to.prefixlen - b->to.prefixlen;
	return a->spec.ns - b->spec.ns;
}

/* Forget the namespaces of the table that are not in keep: those the last sync wrote, and
 * after a start whatever an earlier agent left in the pinned table (read back once, every
 * possible id in one batch: 1 MiB, too much for every sync). */
static void ns_clear_stale(int fd, const struct ns_rec *keep, size_t n)
{
	static struct ioam_ns vals[IOAM_NS_IDS];
	static __u32 keys[IOAM_NS_IDS];
	const struct ioam_ns none = { 0 };
	uint64_t want[IOAM_NS_IDS / 64] = { 0 };
	__u32 count = IOAM_NS_IDS, next;

	for (size_t j = 0; j < n; j++)
		want[keep[j].id / 64] |= 1ULL << (keep[j].id % 64);
	if (!io.ns_scanned &&
	    (!bpf_map_lookup_batch(fd, NULL, &next, keys, vals, &count, NULL) || errno == ENOENT)) {
		io.ns_scanned = true;
		for (__u32 i = 0; i < count; i++)
			if (vals[i].flags & IOAM_NS_KNOWN)
				io.ns_stored[keys[i] / 64] |= 1ULL << (keys[i] % 64);
	}
	for (__u32 w = 0; w < IOAM_NS_IDS / 64; w++)
		for (uint64_t stale = io.ns_stored[w] & ~want[w]; stale; stale &= stale - 1) {
			__u32 id = w * 64 + (__u32)__builtin_ctzll(stale);

			bpf_map_update_elem(fd, &id, &none, BPF_ANY);
		}
	memcpy(io.ns_stored, want, sizeof(want));
}

/* What changed does not matter: the configuration is small, and read whole. */
static void ignore_delta(void *ctx, const struct cc_entry *old, const struct cc_entry *new)
{
}

/* Make the maps and filters match the stored configuration (as the cache has it). */
static int sync_locked(struct agent *a)
{
	struct encap_rule *rules = NULL;
	struct ns_rec *nss = NULL;
	size_t nr = 0, nn = 0;
	int fd_ns, fd_enc, fd_slots, ret, hooks, under;
	uint32_t slot = 0;

	if (!io.skel)
		return 0;
	if ((ret = ioam_load_namespaces(a, &nss, &nn)) || (ret = ioam_load_rules(a, &rules, &nr)))
		goto out;
	node_map(a);
	/* Namespaces: every stored one in, then the ids no longer stored out. */
	fd_ns = bpf_map__fd(io.skel->maps.ioam_ns_table);
	for (size_t i = 0; i < nn; i++) {
		struct ioam_ns v = nss[i].v;
		__u32 id = nss[i].id;

		v.flags = IOAM_NS_KNOWN;
		bpf_map_update_elem(fd_ns, &id, &v, BPF_ANY);
	}
	ns_clear_stale(fd_ns, nss, nn);
	/* Encap: rules with the same destination prefix become one template; the new ones
	 * replace the old in place, then prefixes no rule names any more go. */
	fd_enc = bpf_map__fd(io.skel->maps.ioam_encap);
	fd_slots = bpf_map__fd(io.skel->maps.ioam_encap_slots);
	qsort(rules, nr, sizeof(*rules), cmp_rule);
	for (size_t i = 0; i < nr && slot < IOAM_MAX_ENCAP;) {
		static struct ioam_encap enc;
		struct ioam_opt_spec specs[IOAM_MAX_OPTS];
		struct ioam_encap_key key = { .prefixlen = rules[i].to.prefixlen };
		size_t j = i, n = 0;
		char err[256];

		while (j < nr && rules[j].to.prefixlen == rules[i].to.prefixlen &&
		       !memcmp(rules[j].to.addr.bytes, rules[i].to.addr.bytes, 16)) {
			if (n < IOAM_MAX_OPTS)
				specs[n++] = rules[j].spec;
			j++;
		}
		memset(&enc, 0, sizeof(enc));
		if (ioam_template_build(specs, n, &enc, err, sizeof(err))) {
			log_warn("ioam: encap to prefix /%u skipped: %s", key.prefixlen, err);
		} else {
			enc.freq_k = rules[i].k;
			enc.freq_n = rules[i].n;
			enc.slot = slot;
			memcpy(key.addr, rules[i].to.addr.bytes, 16);
			/* The slot first: the trie entry is what sends packets to it. */
			if (bpf_map_update_elem(fd_slots, &slot, &enc, BPF_ANY) ||
			    bpf_map_update_elem(fd_enc, &key, &slot, BPF_ANY))
				log_warn("ioam: cannot store encap rule: %s", strerror(errno));
			slot++;
		}
		i = j;
	}
	{
		struct ioam_encap_key stale[IOAM_MAX_ENCAP], cur, next, *prev = NULL;
		size_t n_stale = 0;

		while (bpf_map_get_next_key(fd_enc, prev, &next) == 0 && n_stale < IOAM_MAX_ENCAP) {
			bool keep = false;

			for (size_t i = 0; i < nr; i++)
				keep |= rules[i].to.prefixlen == next.prefixlen &&
					!memcmp(rules[i].to.addr.bytes, next.addr, 16);
			if (!keep)
				stale[n_stale++] = next;
			cur = next;
			prev = &cur;
		}
		for (size_t i = 0; i < n_stale; i++)
			bpf_map_delete_elem(fd_enc, &stale[i]);
	}
	{
		static const struct ioam_encap none;
		int fd_gen = bpf_map__fd(io.skel->maps.ioam_encap_gen);
		__u32 zero = 0, gen = 0;

		for (uint32_t s = slot; s < io.slots_used; s++)   /* no trie entry leads there now */
			bpf_map_update_elem(fd_slots, &s, &none, BPF_ANY);
		io.slots_used = slot;
		/* The datapath's per-CPU memos of the last destination's rule go stale. */
		bpf_map_lookup_elem(fd_gen, &zero, &gen);
		gen++;
		bpf_map_update_elem(fd_gen, &zero, &gen, BPF_ANY);
	}
	/* Roles: the underlay device gets ingress once anything is configured and egress
	 * once an encap rule exists, unless a role says otherwise; other devices only by an
	 * explicit role. */
	under = nl_link_index(a->cfg.underlay_dev);
	if (under > 0) {
		hooks = role_of(a, a->cfg.underlay_dev);
		if (hooks < 0)           /* transit/decap once a namespace exists, encap with a rule */
			hooks = (nn || nr ? 1 : 0) | (nr ? 2 : 0);
		if ((ret = set_hooks(a, under, hooks, true)))
			log_warn("ioam: cannot attach to %s: %s", a->cfg.underlay_dev, strerror(-ret));
	}
	{
		struct store_kv *kvs = NULL;
		size_t n = 0;
		char prefix[128];

		snprintf(prefix, sizeof(prefix), KEY_IOAM_ROLES "%s/", a->cfg.node);
		if (cluster_list(a, CC_IOAM, prefix, &kvs, &n) == 0) {
			for (size_t i = 0; i < n; i++) {
				const char *dev = kvs[i].key + strlen(prefix);
				int idx = nl_link_index(dev);

				if (idx > 0 && idx != under && (ret = set_hooks(a, idx, role_of(a, dev), false)))
					log_warn("ioam: cannot attach to %s: %s", dev, strerror(-ret));
			}
			store_kvs_free(kvs, n);
		}
	}
	ret = 0;
out:
	free(rules);
	free(nss);
	return ret;
}

/* --- traces ------------------------------------------------------------------------------ */

static void add_delay(uint16_t ns, uint32_t from, uint32_t to, uint64_t d)
{
	struct hop_delay *h = NULL;

	for (size_t i = 0; i < io.n_hops && !h; i++)
		if (io.hops[i].ns == ns && io.hops[i].from == from && io.hops[i].to == to)
			h = &io.hops[i];
	if (!h) {
		if (io.n_hops == MAX_HOPS)
			return;
		h = &io.hops[io.n_hops++];
		*h = (struct hop_delay){ .ns = ns, .from = from, .to = to };
	}
	h->count++;
	h->sum_ns += d;
	if (d > h->max_ns)
		h->max_ns = d;
}

static int on_trace(void *ctx, void *data, size_t len)
{
	const struct ioam_event *ev = data;
	struct ioam_hop hops[IOAM_DATA_MAX / 4];
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], type[16];
	size_t n = 0;
	json_t *j, *nodes;
	uint64_t prev_t = 0;
	uint32_t prev_id = 0;
	bool have_prev = false;

	if (len < sizeof(*ev))
		return 0;
	inet_ntop(AF_INET6, ev->src, src, sizeof(src));
	inet_ntop(AF_INET6, ev->dst, dst, sizeof(dst));
	snprintf(type, sizeof(type), "0x%06x", ev->type);
	nodes = json_array();
	pthread_mutex_lock(&io.lock);
	if (ioam_trace_decode(ev->type, ev->nodelen, ev->remlen, ev->data,
			      ev->data_len <= IOAM_DATA_MAX ? ev->data_len : 0, hops,
			      sizeof(hops) / sizeof(hops[0]), &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t t;
			uint32_t id = (ev->type & IOAM_BIT(0)) ? hops[i].node_id : (uint32_t)i;

			json_array_append_new(nodes, ioam_hop_json(&hops[i], ev->type));
			if (ioam_hop_time(&hops[i], ev->type, &t)) {
				if (have_prev && t >= prev_t)
					add_delay(ev->ns, prev_id, id, t - prev_t);
				prev_t = t;
				prev_id = id;
				have_prev = true;
			} else {
				have_prev = false;
			}
		}
	}
	j = json_pack("{s:f, s:i, s:s, s:s, s:s, s:b, s:i, s:o}",
		      "time", ev->time / 1e9, "namespace", ev->ns, "src", src, "dst", dst,
		      "trace_type", type, "overflow", (ev->flags & 8) != 0,
		      "remaining_len", ev->remlen, "nodes", nodes);
	json_decref(io.ring[io.seq % TRACE_RING]);
	io.ring[io.seq % TRACE_RING] = j;
	io.seq++;
	pthread_cond_broadcast(&io.cond);
	pthread_mutex_unlock(&io.lock);
	return 0;
}

static void *trace_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping)
		if (ring_buffer__poll(io.rb, 200) < 0)
			usleep(200 * 1000);
	return NULL;
}

char *ioam_traces_next(uint64_t *cursor, const char *unused1, const char *unused2, int wait_ms)
{
	struct timespec deadline;
	char *line = NULL;

	deadline_after_ms(&deadline, wait_ms);
	pthread_mutex_lock(&io.lock);
	for (;;) {
		if (io.seq > TRACE_RING && *cursor < io.seq - TRACE_RING)
			*cursor = io.seq - TRACE_RING;
		if (*cursor < io.seq) {
			line = json_dumps(io.ring[*cursor % TRACE_RING], JSON_COMPACT);
			(*cursor)++;
			break;
		}
		if (wait_ms <= 0 || pthread_cond_timedwait(&io.cond, &io.lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&io.lock);
	return line;
}

uint64_t ioam_traces_cursor(bool now)
{
	uint64_t seq;

	pthread_mutex_lock(&io.lock);
	seq = now ? io.seq : io.seq > TRACE_RING ? io.seq - TRACE_RING : 0;
	pthread_mutex_unlock(&io.lock);
	return seq;
}

/* --- lifecycle --------------------------------------------------------------------------- */

int ioam_start(struct agent *a)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = a->cfg.bpf_dir);
	int ret;

	if (a->cfg.mode != MODE_NATIVE || a->cfg.backend != BACKEND_EBPF)
		return 0;           /* IOAM rides on natively routed IPv6 pod traffic only */
	io.skel = ioam_bpf__open_opts(&opts);
	if (!io.skel)
		return io.load_err = -errno;
	if ((ret = bpf_pins_reconcile(io.skel->obj)) || (ret = ioam_bpf__load(io.skel))) {
		log_warn("IOAM's programs could not load (%s): they need Linux 6.2 or later, and "
			 "libbpf's log above has the reason; `petrel ioam role` will refuse changes",
			 strerror(-ret));
		ioam_bpf__destroy(io.skel);
		io.skel = NULL;
		return io.load_err = ret;
	}
	io.rb = ring_buffer__new(bpf_map__fd(io.skel->maps.ioam_traces), on_trace, NULL, NULL);
	if (io.rb && pthread_create(&io.thread, NULL, trace_main, a) == 0)
		io.running = true;
	if ((ret = ioam_subscribe(a)))
		return ret;
	return ioam_sync(a);
}

void ioam_stop(struct agent *a)
{
	if (io.running)
		pthread_join(io.thread, NULL);
	io.running = false;
	ring_buffer__free(io.rb);
	io.rb = NULL;
	/* Like the datapath, the filters and pinned maps stay while the agent is away. */
	ioam_bpf__destroy(io.skel);
	io.skel = NULL;
}

static void stats(uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t per[512];

	for (__u32 s = 0; s < IOAM_ST__MAX; s++) {
		out[s] = 0;
		if (ncpu > 0 && ncpu <= 512 &&
		    bpf_map_lookup_elem(bpf_map__fd(io.skel->maps.ioam_stats), &s, per) == 0)
			for (int c = 0; c < ncpu; c++)
				out[s] += per[c];
	}
}

void ioam_metrics(struct agent *a, FILE *f)
{
	uint64_t st[IOAM_ST__MAX];

	if (!io.skel)
		return;
	stats(st);
	fprintf(f, "# HELP petrel_ioam_events_total IOAM processing on this node, by event.\n");
	fprintf(f, "# TYPE petrel_ioam_events_total counter\n");
	for (int i = 0; i < IOAM_ST__MAX; i++)
		fprintf(f, "petrel_ioam_events_total{node=\"%s\",event=\"%s\"} %llu\n", a->cfg.node,
			stat_names[i], (unsigned long long)st[i]);
	fprintf(f, "# HELP petrel_ioam_hop_delay_seconds Delay between consecutive IOAM nodes' "
		   "timestamps in decapsulated traces.\n");
	fprintf(f, "# TYPE petrel_ioam_hop_delay_seconds summary\n");
	pthread_mutex_lock(&io.lock);
	for (size_t i = 0; i < io.n_hops; i++) {
		const struct hop_delay *h = &io.hops[i];
		char lbl[160];

		snprintf(lbl, sizeof(lbl), "node=\"%s\",namespace=\"%u\",from=\"%u\",to=\"%u\"",
			 a->cfg.node, h->ns, h->from, h->to);
		fprintf(f, "petrel_ioam_hop_delay_seconds_sum{%s} %.9f\n", lbl, h->sum_ns / 1e9);
		fprintf(f, "petrel_ioam_hop_delay_seconds_count{%s} %llu\n", lbl,
			(unsigned long long)h->count);
	}
	fprintf(f, "# HELP petrel_ioam_hop_delay_max_seconds Largest delay seen between two IOAM nodes.\n");
	fprintf(f, "# TYPE petrel_ioam_hop_delay_max_seconds gauge\n");
	for (size_t i = 0; i < io.n_hops; i++)
		fprintf(f, "petrel_ioam_hop_delay_max_seconds{node=\"%s\",namespace=\"%u\",from=\"%u\",to=\"%u\"} %.9f\n",
			a->cfg.node, io.hops[i].ns, io.hops[i].from, io.hops[i].to,
			io.hops[i].max_ns / 1e9);
	pthread_mutex_unlock(&io.lock);
}

/* The roles and counters of `petrel ioam show`, from this node's programs and maps. */
json_t *ioam_datapath_json(void)
{
	json_t *jr = json_array(), *js = json_object();
	uint64_t st[IOAM_ST__MAX];

	for (size_t i = 0; i < io.n_attached; i++) {
		char name[32] = "?";

		if_indextoname((unsigned)io.attached[i].ifindex, name);
		json_array_append_new(jr, json_pack("{s:s, s:b, s:b, s:s}", "dev", name,
						    "ingress", io.attached[i].hooks & 1,
						    "egress", (io.attached[i].hooks & 2) != 0,
						    "via", io.attached[i].folded ? "datapath" : "filter"));
	}
	if (io.skel)
		stats(st);
	else
		memset(st, 0, sizeof(st));
	for (int i = 0; i < IOAM_ST__MAX; i++)
		json_object_set_new(js, stat_names[i], json_integer((json_int_t)st[i]));
	return json_pack("{s:o, s:o}", "roles", jr, "counters", js);
}

int ioam_datapath_refusal(struct agent *a, struct api_error *e)
{
	if (!io.skel && io.load_err)
		return api_fail(e, 503, "the node's log has the reason; IOAM's programs need Linux 6.2 or later",
				"IOAM's programs could not load on node %s: %s", a->cfg.node,
				strerror(-io.load_err));
	if (!io.skel && a->cfg.backend != BACKEND_EBPF)
		return api_fail(e, 409, "set policy-backend = ebpf in the node's configuration",
				"IOAM runs in petrel's eBPF datapath; node %s uses the iptables backend",
				a->cfg.node);
	if (!io.skel)
		return api_fail(e, 409, "set mode = native in the node's configuration",
				"IOAM runs on natively routed IPv6 traffic; node %s is in %s mode",
				a->cfg.node, routing_mode_str(a->cfg.mode));
	return 0;
}

/* Config changes reach IOAM from the cache, on the applier thread; the API's own writes
 * wait for that (cluster_catch_up). One sync at a time. */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

int ioam_sync(struct agent *a)
{
	int ret;

	pthread_mutex_lock(&sync_lock);
	ret = sync_locked(a);
	pthread_mutex_unlock(&sync_lock);
	return ret;
}

static void settled(void *ctx)
{
	ioam_sync(ctx);
}

int ioam_subscribe(struct agent *a)
{
	struct cc_listener l = {
		.name = "ioam", .kinds = CC_BIT(CC_IOAM), .changed = ignore_delta,
		.settled = settled, .ctx = a,
	};

	return cluster_subscribe(a, &l);
}
