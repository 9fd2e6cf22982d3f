/* Loader for the eBPF datapath: open → pin paths → load → attach, with maps pinned under
 * the node's pin directory so an agent restart reuses them and traffic never stops. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.h"
#include "datapath.skel.h"
#include "datapath_loaded.h"
#include "bpf/datapath_abi.h"
#include "bpf/ioam_abi.h"
#include "log.h"
#include "util.h"

_Static_assert(sizeof(struct ep_metrics) == 4 * 8, "ep_metrics is read as 4 u64");
_Static_assert(sizeof(struct policy_counters) == 2 * 8, "policy_counters is read as 2 u64");
_Static_assert(sizeof(struct flow_budget) == 3 * 8, "flow_budget is read as 3 u64");

#define TC_HANDLE   0x50e7   /* "petrel" filters: fixed handle and priority, so REPLACE works */
#define TC_PRIORITY 1


/* An update a full map refused: counted, and logged once per power of two so a flood of
 * refusals stays readable. */
static int map_full(_Atomic uint64_t *counter, const char *map, const struct cidr *prefix)
{
	uint64_t n = ++*counter;
	char buf[CIDR_STRLEN];

	if (!(n & (n - 1)))
		log_err("%s map is full: %s not added (%llu refused so far; raise "
			"max-cluster-endpoints)", map, cidr_str(prefix, buf), (unsigned long long)n);
	return -ENOSPC;
}

uint64_t datapath_map_full(struct datapath *dp, const char *map)
{
	return !strcmp(map, "locations") ? dp->full_locations : dp->full_ipcache;
}

static const char *const drop_names[DROP__MAX] = {
	[DROP_PARSE] = "parse",
	[DROP_NO_ENDPOINT] = "no-endpoint",
	[DROP_NO_LOCATION] = "no-location",
	[DROP_FIB] = "no-route",
	[DROP_TUNNEL] = "tunnel",
	[DROP_NO_CONFIG] = "no-config",
	[DROP_POLICY] = "policy",
	[DROP_MIGRATING] = "migrating",
};

const char *datapath_drop_reason_name(int reason)
{
	return reason >= 0 && reason < DROP__MAX ? drop_names[reason] : "unknown";
}

int datapath_drop_reason_count(void)
{
	return DROP__MAX;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && log_get_level() < LOG_DEBUG)
		return 0;
	/* bpf_tc_hook_create() on a device that already has clsact (restart, or the second
	 * direction of a veth) is expected; the kernel's extack for it is noise. */
	if (level == LIBBPF_WARN && strstr(fmt, "Kernel error message") && log_get_level() < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir_p("/sys/fs/bpf", 0755))
		return -errno;
	if (mount("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

static void copy_ip(__u8 *dst, const struct ip_addr *a, int len)
{
	memset(dst, 0, (size_t)len);
	if (a->family)
		memcpy(dst, a->bytes, (size_t)len);
}

/* Fill slot of the dp_tail prog array with a program, or empty it (prog_fd < 0). */
static int tail_set(struct datapath *dp, __u32 slot, int prog_fd)
{
	int fd = bpf_map__fd(dp->skel->maps.dp_tail);

	if (prog_fd < 0)
		return bpf_map_delete_elem(fd, &slot) && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(fd, &slot, &prog_fd, BPF_ANY) ? -errno : 0;
}

int datapath_ioam_set(struct datapath *dp, int ingress_fd, int encap_fd)
{
	int flags_fd = bpf_map__fd(dp->skel->maps.ioam_flags);
	__u32 zero = 0, flags = encap_fd >= 0 ? IOAM_F_ENCAP : 0;
	int ret;

	/* The encap slot is filled before the flag turns it on and emptied after it is off,
	 * so the datapath never samples for an empty slot (which would merely skip IOAM). */
	if (encap_fd >= 0 && (ret = tail_set(dp, DP_TAIL_IOAM_ENCAP, encap_fd)))
		return ret;
	if (bpf_map_update_elem(flags_fd, &zero, &flags, BPF_ANY))
		return -errno;
	if (encap_fd < 0 && (ret = tail_set(dp, DP_TAIL_IOAM_ENCAP, -1)))
		return ret;
	return tail_set(dp, DP_TAIL_IOAM_INGRESS, ingress_fd);
}

/* Pinned maps outlive the agent, so a restart keeps connections, counters and the tables
 * traffic needs. A map whose definition changed since it was pinned (an upgrade) cannot be
 * reused, and libbpf would refuse to load the whole object with it: such a pin is removed
 * first, and the map starts empty (the agent refills what it owns from the store; conntrack
 * entries are lost). Something at a pin path that is no BPF object at all (a directory, a
 * plain file) is not ours to remove: it stays, and loading fails. */
int bpf_pins_reconcile(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *path = bpf_map__pin_path(m);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (!path || (fd = bpf_obj_get(path)) < 0)
			continue;             /* not pinned (yet): libbpf pins it */
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != bpf_map__type(m) ||
		    info.key_size != bpf_map__key_size(m) || info.value_size != bpf_map__value_size(m) ||
		    info.max_entries != bpf_map__max_entries(m) || info.map_flags != bpf_map__map_flags(m)) {
			log_warn("pinned map %s has another definition than this petreld's (type %u, key %u, "
				 "value %u, %u entries; want %u, %u, %u, %u): replacing it, empty",
				 path, info.type, info.key_size, info.value_size, info.max_entries,
				 bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
				 bpf_map__max_entries(m));
			if (unlink(path)) {
				int ret = -errno;

				close(fd);
				return ret;
			}
		}
		close(fd);
	}
	return 0;
}

int datapath_open(struct datapath **out, const struct dp_config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = cfg->pin_dir);
	struct datapath *dp;
	struct dp_cfg c = {
		.mode = cfg->mode == MODE_NATIVE ? DP_MODE_NATIVE : DP_MODE_VXLAN,
		.underlay_ifindex = (__u32)cfg->underlay_ifindex,
		.vxlan_ifindex = (__u32)cfg->vxlan_ifindex,
		.cluster4_len = cfg->cluster4.prefixlen,
		.cluster6_len = cfg->cluster6.prefixlen,
	};
	__u32 zero = 0;
	int ret;

	libbpf_set_print(libbpf_print);
	if ((ret = ensure_bpffs()) || (ret = mkdir_p(cfg->pin_dir, 0700)))
		return ret;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->skel = datapath_bpf__open_opts(&opts);
	if (!dp->skel) {
		ret = -errno;
		goto cleanup;
	}
	/* Sized before load; a pinned map of another size is replaced (and refilled). */
	if (cfg->max_locations) {
		struct bpf_map *sized[] = { dp->skel->maps.locations4, dp->skel->maps.locations6,
					    dp->skel->maps.ipcache4, dp->skel->maps.ipcache6 };

		for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++)
			bpf_map__set_max_entries(sized[i], cfg->max_locations);
	}
	copy_ip(dp->self4, &cfg->self4, 4);
	/* Pinned maps from an earlier run are reused by name (LIBBPF_PIN_BY_NAME). */
	ret = bpf_pins_reconcile(dp->skel->obj);
	if (!ret)
		ret = datapath_bpf__load(dp->skel);
	if (ret)
		goto cleanup;
	copy_ip(c.self4, &cfg->self4, 4);
	copy_ip(c.self6, &cfg->self6, 16);
	copy_ip(c.cluster4, &cfg->cluster4.addr, 4);
	copy_ip(c.cluster6, &cfg->cluster6.addr, 16);
	ret = bpf_map_update_elem(bpf_map__fd(dp->skel->maps.dp_config), &zero, &c, BPF_ANY);
	if (ret) {
		ret = -errno;
		goto cleanup;
	}
	/* Where the IOAM programs hand packets back (their own slots are the agent's IOAM
	 * part's to fill). The array is pinned: this replaces an earlier run's programs. */
	if ((ret = tail_set(dp, DP_TAIL_UNDERLAY, bpf_program__fd(dp->skel->progs.from_underlay))))
		goto cleanup;
	*out = dp;
	return 0;
cleanup:
	datapath_bpf__destroy(dp->skel);
	free(dp);
	return ret;
}

static int attach_prio(int ifindex, enum bpf_tc_attach_point where, struct bpf_program *prog,
		       __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = prio,
		    .prog_fd = bpf_program__fd(prog), .flags = BPF_TC_F_REPLACE);
	int ret;

	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

static int attach(int ifindex, enum bpf_tc_attach_point where, struct bpf_program *prog)
{
	return attach_prio(ifindex, where, prog, TC_PRIORITY);
}

int datapath_attach_endpoint(struct datapath *dp, int host_ifindex)
{
	int ret = attach(host_ifindex, BPF_TC_INGRESS, dp->skel->progs.from_container);

	return ret ? ret : attach(host_ifindex, BPF_TC_EGRESS, dp->skel->progs.to_container);
}

int datapath_attach_underlay(struct datapath *dp, int ifindex)
{
	/* Priority 2, as when IOAM had its own filters at priority 1 (IOAM now runs inside
	 * from_underlay, see datapath_ioam_set); an older agent's priority-1 filter goes. */
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, old, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int ret = attach_prio(ifindex, BPF_TC_INGRESS, dp->skel->progs.from_underlay, TC_PRIORITY + 1);

	if (!ret)
		bpf_tc_detach(&hook, &old);   /* an older agent's filter at priority 1 */
	return ret;
}

int datapath_attach_overlay(struct datapath *dp, int ifindex)
{
	int ret = attach(ifindex, BPF_TC_INGRESS, dp->skel->progs.from_overlay);

	return ret ? ret : attach(ifindex, BPF_TC_EGRESS, dp->skel->progs.to_overlay_stack);
}

static void ep_key_of(struct ep_key *k, const struct ip_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->family = (__u32)a->family;
	memcpy(k->addr, a->bytes, a->family == AF_INET ? 4 : 16);
}

int datapath_endpoint_upsert(struct datapath *dp, const struct dp_endpoint *ep)
{
	int fd = bpf_map__fd(dp->skel->maps.endpoints);
	struct ep_info info = { .ifindex = (__u32)ep->host_ifindex, .id = ep->id,
				.identity = ep->identity };
	const struct ip_addr *addrs[2] = { &ep->ip4, &ep->ip6 };
	struct ep_key k;

	memcpy(info.mac, ep->mac, 6);
	memcpy(info.host_mac, ep->host_mac, 6);
	for (int i = 0; i < 2; i++) {
		if (!addrs[i]->family)
			continue;
		ep_key_of(&k, addrs[i]);
		if (bpf_map_update_elem(fd, &k, &info, BPF_ANY))
			return -errno;
	}
	return 0;
}

int datapath_endpoint_delete(struct datapath *dp, const struct dp_endpoint *ep)
{
	int fd = bpf_map__fd(dp->skel->maps.endpoints);
	const struct ip_addr *addrs[2] = { &ep->ip4, &ep->ip6 };
	struct ep_key k;
	__u32 idx = (__u32)ep->host_ifindex;

	for (int i = 0; i < 2; i++) {
		if (!addrs[i]->family)
			continue;
		ep_key_of(&k, addrs[i]);
		bpf_map_delete_elem(fd, &k);
	}
	if (ep->host_ifindex > 0)
		bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.metrics), &idx);
	return 0;
}

static void return_key_of(struct return_key *k, const struct dp_return_flow *f)
{
	size_t n = f->ep.family == AF_INET ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->family = (__u32)f->ep.family;
	k->proto = f->proto;
	memcpy(k->ep_addr, f->ep.bytes, n);
	memcpy(k->peer_addr, f->peer.bytes, n);
	k->ep_port = htons(f->ep_port);
	k->peer_port = htons(f->peer_port);
}

int datapath_return_flow_add(struct datapath *dp, const struct dp_return_flow *f)
{
	struct return_key k;
	struct loc_info info = { 0 };

	return_key_of(&k, f);
	copy_ip(info.node4, &f->node4, 4);
	if (f->node6.family)
		copy_ip(info.node6, &f->node6, 16);
	return bpf_map_update_elem(bpf_map__fd(dp->skel->maps.return_flows), &k, &info, BPF_ANY) ?
	       -errno : 0;
}

int datapath_return_flows_clear(struct datapath *dp, const struct ip_addr *ep)
{
	int fd = bpf_map__fd(dp->skel->maps.return_flows);
	struct return_key k, next, *prev = NULL;
	size_t n = ep->family == AF_INET ? 4 : 16;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		if (k.family == (__u32)ep->family && !memcmp(k.ep_addr, ep->bytes, n)) {
			bpf_map_delete_elem(fd, &k);
			prev = NULL;    /* restart: deleting invalidates the walk */
			continue;
		}
		prev = &k;
	}
	return 0;
}

int datapath_return_flow_delete(struct datapath *dp, const struct dp_return_flow *f)
{
	struct return_key k;

	return_key_of(&k, f);
	if (bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.return_flows), &k) && errno != ENOENT)
		return -errno;
	return 0;
}

int datapath_return_flows_foreach(struct datapath *dp, const struct ip_addr *ep,
				  int (*cb)(const struct dp_return_flow *f, void *arg), void *arg)
{
	int fd = bpf_map__fd(dp->skel->maps.return_flows);
	struct return_key k, *prev = NULL;
	struct loc_info info;

	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		struct dp_return_flow f = { .proto = k.proto };
		size_t n = k.family == AF_INET ? 4 : 16;

		prev = &k;
		if ((ep && (k.family != (__u32)ep->family || memcmp(k.ep_addr, ep->bytes, n))) ||
		    bpf_map_lookup_elem(fd, &k, &info))
			continue;
		f.ep.family = f.peer.family = (int)k.family;
		memcpy(f.ep.bytes, k.ep_addr, n);
		memcpy(f.peer.bytes, k.peer_addr, n);
		f.ep_port = ntohs(k.ep_port);
		f.peer_port = ntohs(k.peer_port);
		f.node4.family = AF_INET;
		memcpy(f.node4.bytes, info.node4, 4);
		f.node6.family = AF_INET6;
		memcpy(f.node6.bytes, info.node6, 16);
		if (cb(&f, arg))
			break;
	}
	return 0;
}

static int loc_key(const struct cidr *prefix, void *key, int *fd, struct datapath *dp)
{
	if (prefix->addr.family == AF_INET) {
		struct loc4_key *k = key;
		k->prefixlen = prefix->prefixlen;
		memcpy(k->addr, prefix->addr.bytes, 4);
		*fd = bpf_map__fd(dp->skel->maps.locations4);
	} else if (prefix->addr.family == AF_INET6) {
		struct loc6_key *k = key;
		k->prefixlen = prefix->prefixlen;
		memcpy(k->addr, prefix->addr.bytes, 16);
		*fd = bpf_map__fd(dp->skel->maps.locations6);
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

int datapath_location_upsert(struct datapath *dp, const struct cidr *prefix,
			     const struct ip_addr *node4, const struct ip_addr *node6)
{
	return datapath_location_upsert_flags(dp, prefix, node4, node6, 0);
}

int datapath_location_upsert_flags(struct datapath *dp, const struct cidr *prefix,
				   const struct ip_addr *node4, const struct ip_addr *node6,
				   unsigned int flags)
{
	struct loc6_key key = { 0 };
	struct loc_info info = { .flags = flags };
	int fd, ret;

	if ((ret = loc_key(prefix, &key, &fd, dp)))
		return ret;
	copy_ip(info.node4, node4, 4);
	if (node6)
		copy_ip(info.node6, node6, 16);
	/* A prefix located at our own underlay address is ours: no endpoint there is a drop. */
	if (memcmp(dp->self4, info.node4, 4) == 0)
		info.flags |= LOC_SELF;
	if (bpf_map_update_elem(fd, &key, &info, BPF_ANY))
		return errno == E2BIG || errno == ENOSPC ?
		       map_full(&dp->full_locations, "location", prefix) : -errno;
	return 0;
}

int datapath_location_delete(struct datapath *dp, const struct cidr *prefix)
{
	struct loc6_key key = { 0 };
	int fd, ret;

	if ((ret = loc_key(prefix, &key, &fd, dp)))
		return ret;
	if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
		return -errno;
	return 0;
}

int datapath_location_lookup(struct datapath *dp, const struct ip_addr *ip, struct ip_addr *node4)
{
	struct loc6_key key = { 0 };
	struct loc_info info;
	struct cidr host = { .addr = *ip, .prefixlen = ip->family == AF_INET ? 32 : 128 };
	int fd, ret;

	if ((ret = loc_key(&host, &key, &fd, dp)))
		return ret;
	if (bpf_map_lookup_elem(fd, &key, &info))
		return -ENOENT;
	memset(node4, 0, sizeof(*node4));
	node4->family = AF_INET;
	memcpy(node4->bytes, info.node4, 4);
	return 0;
}

/* An LPM map's entries (loc6_key keys of family, values of vsize bytes), read in full
 * before any callback runs: callbacks may delete entries, which would upset the
 * iteration. The caller frees *keys and *values. */
static int lpm_snapshot(int fd, int family, size_t vsize, struct cidr **keys, void **values,
			size_t *n)
{
	size_t alen = family == AF_INET ? 4 : 16, cap = 64;
	struct cidr *k = malloc(cap * sizeof(*k));
	unsigned char *v = malloc(cap * vsize);
	struct loc6_key cur, next;
	void *prev = NULL;

	*n = 0;
	while (k && v && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (*n == cap) {
			void *nk = realloc(k, 2 * cap * sizeof(*k)), *nv;

			if (!nk)
				break;
			k = nk;
			if (!(nv = realloc(v, 2 * cap * vsize)))
				break;
			v = nv;
			cap *= 2;
		}
		if (bpf_map_lookup_elem(fd, &next, v + *n * vsize) == 0) {
			memset(&k[*n], 0, sizeof(k[*n]));
			k[*n].addr.family = family;
			k[*n].prefixlen = (uint8_t)next.prefixlen;
			memcpy(k[*n].addr.bytes, next.addr, alen);
			(*n)++;
		}
		cur = next;
		prev = &cur;
	}
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	*keys = k;
	*values = v;
	return 0;
}

static int foreach_family(struct datapath *dp, int family, dp_location_cb cb, void *arg)
{
	int fd = bpf_map__fd(family == AF_INET ? dp->skel->maps.locations4 : dp->skel->maps.locations6);
	struct loc_info *info;
	struct cidr *keys;
	size_t n;
	int ret;

	if ((ret = lpm_snapshot(fd, family, sizeof(*info), &keys, (void **)&info, &n)))
		return ret;
	for (size_t i = 0; i < n && !ret; i++) {
		struct ip_addr n4 = { .family = AF_INET };

		memcpy(n4.bytes, info[i].node4, 4);
		ret = cb(&keys[i], &n4, arg);
	}
	free(keys);
	free(info);
	return ret;
}

int datapath_location_foreach(struct datapath *dp, dp_location_cb cb, void *arg)
{
	int ret = foreach_family(dp, AF_INET, cb, arg);

	return ret ? ret : foreach_family(dp, AF_INET6, cb, arg);
}

/* Sum a per-CPU value made of n_u64 64-bit fields (every per-CPU map value here is). */
int percpu_sum(int fd, const void *key, uint64_t *sum, size_t n_u64)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *per;

	memset(sum, 0, n_u64 * sizeof(*sum));
	if (ncpu <= 0)
		return -EINVAL;
	per = calloc((size_t)ncpu * n_u64, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, per) == 0)
		for (int c = 0; c < ncpu; c++)
			for (size_t f = 0; f < n_u64; f++)
				sum[f] += per[(size_t)c * n_u64 + f];
	free(per);
	return 0;
}

int datapath_endpoint_counters(struct datapath *dp, int host_ifindex, struct dp_counters *out)
{
	__u32 key = (__u32)host_ifindex;
	uint64_t v[4];
	int ret = percpu_sum(bpf_map__fd(dp->skel->maps.metrics), &key, v, 4);

	/* struct ep_metrics: rx_packets, rx_bytes, tx_packets, tx_bytes */
	out->rx_packets = v[0];
	out->rx_bytes = v[1];
	out->tx_packets = v[2];
	out->tx_bytes = v[3];
	return ret;
}

int datapath_drop_counters(struct datapath *dp, uint64_t *counts, int n)
{
	int i;

	for (i = 0; i < n && i < DROP__MAX; i++) {
		__u32 key = (__u32)i;

		if (percpu_sum(bpf_map__fd(dp->skel->maps.drops), &key, &counts[i], 1))
			break;
	}
	return i;
}

static int ipcache_key(struct datapath *dp, const struct cidr *prefix, void *key, int *fd)
{
	int ret = loc_key(prefix, key, fd, dp);

	if (!ret)
		*fd = bpf_map__fd(prefix->addr.family == AF_INET ? dp->skel->maps.ipcache4 :
				  dp->skel->maps.ipcache6);
	return ret;
}

int datapath_ipcache_upsert(struct datapath *dp, const struct cidr *prefix, uint32_t identity)
{
	struct loc6_key key = { 0 };
	struct ipcache_info info = { .identity = identity };
	int fd, ret;

	if ((ret = ipcache_key(dp, prefix, &key, &fd)))
		return ret;
	if (bpf_map_update_elem(fd, &key, &info, BPF_ANY))
		return errno == E2BIG || errno == ENOSPC ?
		       map_full(&dp->full_ipcache, "ipcache", prefix) : -errno;
	return 0;
}

int datapath_ipcache_delete(struct datapath *dp, const struct cidr *prefix)
{
	struct loc6_key key = { 0 };
	int fd, ret;

	if ((ret = ipcache_key(dp, prefix, &key, &fd)))
		return ret;
	if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
		return -errno;
	return 0;
}

int datapath_ipcache_foreach(struct datapath *dp, dp_ipcache_cb cb, void *arg)
{
	int ret = 0;

	for (int f = 0; f < 2 && !ret; f++) {
		int fd = bpf_map__fd(f ? dp->skel->maps.ipcache6 : dp->skel->maps.ipcache4);
		struct ipcache_info *info;
		struct cidr *keys;
		size_t n;

		if ((ret = lpm_snapshot(fd, f ? AF_INET6 : AF_INET, sizeof(*info), &keys,
					(void **)&info, &n)))
			return ret;
		for (size_t i = 0; i < n && !ret; i++)
			ret = cb(&keys[i], info[i].identity, arg);
		free(keys);
		free(info);
	}
	return ret;
}

void datapath_close(struct datapath *dp)
{
	if (!dp)
		return;
	ring_buffer__free(dp->flows);
	/* Destroying the skeleton closes our fds only: the TC filters keep their programs
	 * and the pinned maps stay, so forwarding continues while the agent is away. */
	datapath_bpf__destroy(dp->skel);
	free(dp);
}
