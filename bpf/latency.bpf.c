// SPDX-License-Identifier: GPL-2.0
/* Per-container network-stack latency accounting, after MACE, on tracepoints only.
 *
 * Egress: from the sending system call in an enabled container's namespace (or, for a
 * packet no system call sends, its first transmission there) to its transmission on the
 * node's underlay device. Ingress: from reception on the underlay device to delivery to a
 * socket in the container. Every end point filters first on a map lookup (namespace inode
 * or underlay device), so traffic of containers that are not enabled costs one lookup.
 *
 * Correlation: egress packets are tied by sk_buff, else by packet key; ingress packets by
 * their data buffer (a socket often receives a clone) found in a per-CPU ring of recent
 * underlay receptions. Each packet gives one record in a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "latency_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET    2
#define AF_INET6   10
#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD
#define VXLAN_PORT 4789
#define IPPROTO_ICMPV6 58

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LAT_MAX_CONTAINERS);
	__type(key, __u32);                        /* netns inode */
	__type(value, struct lat_netns);
} lat_enabled SEC(".maps");

/* Node configuration, set by the agent between open and load: constants to the verifier. */
const volatile struct lat_config lat_conf = {};

/* The start of a sending system call in progress in an enabled namespace, kept in the task
 * itself: cheaper than a map keyed by thread id, and gone with the task. 0: none. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} lat_syscall SEC(".maps");

struct lat_flight {
	__u64 start_ns, queue_ns;
	__u32 len;
	__u8 family, start, pad[2];
	struct lat_key key;
	__u8 src[16], dst[16];
};

/* Egress packets on their way: by sk_buff address, and by key as the fallback. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LAT_INFLIGHT_MAX);
	__type(key, __u64);
	__type(value, struct lat_flight);
} lat_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LAT_INFLIGHT_MAX);
	__type(key, struct lat_key);
	__type(value, struct lat_flight);
} lat_inflight_key SEC(".maps");

/* The last underlay receptions on each CPU (delivery runs on the CPU that received). */
struct lat_rx_slot {
	__u64 head;
	__u64 ts;
	__u64 sig;                 /* the network header's first 8 bytes, lengths masked */
	__u64 tcp_end;             /* a TCP segment's end sequence | RX_TCP; 0 for others */
	__u32 off, len;            /* where the network header was in the buffer; TCP: IP length */
};
#define RX_TCP (1ULL << 32)
struct lat_rx_ring {
	__u32 pos, pad;
	struct lat_rx_slot s[LAT_RX_RING];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lat_rx_ring);
} lat_rx_recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LAT_MAX_CONTAINERS);
	__type(key, __u32);
	__type(value, struct lat_counters);
} lat_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} lat_events SEC(".maps");
#define LAT_RB_WAKEUP_BYTES (1 << 20)

/* A packet as parsed from kernel memory: addresses, key fields, length. */
struct lat_pkt {
	__u8 family, proto;
	__u16 id, sport, dport;
	__u32 seq, len;
	__u8 src[16], dst[16];
};

static __always_inline void count(__u32 slot, int c)
{
	struct lat_counters *v = bpf_map_lookup_elem(&lat_stats, &slot);

	if (v && c < LATC_N)
		v->v[c]++;
}

/* Kernel structures are read by direct dereference: tp_btf arguments are typed pointers, so
 * each field is one load the verifier guards (BPF_CORE_READ would be a helper call per hop,
 * and every probe runs on every packet of the host). */
static __always_inline __u32 net_inum(const struct net *net)
{
	return net->ns.inum;
}

static __always_inline __u32 dev_netns(const struct net_device *dev)
{
	return net_inum(dev->nd_net.net);
}

/* The packet's first bytes, copied in one read: IPv6 (40) plus the 24 octets of L4 header
 * and payload the keys use. */
#define LAT_HDR_READ 64
#define L4_READ      24

/* L4 fields from l4, a copy of the L4 header's first L4_READ octets (payload length plen). */
static __always_inline int parse_l4(const __u8 *l4, __u32 plen, int ingress, struct lat_pkt *p)
{
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		struct { __u8 type, code; __u16 csum, id, seq; } ic;

		__builtin_memcpy(&ic, l4, sizeof(ic));
		/* Only echo requests and replies carry an id and a sequence. */
		if (ic.type == 0 || ic.type == 8 || ic.type == 128 || ic.type == 129) {
			p->id = bpf_ntohs(ic.id);
			p->seq = bpf_ntohs(ic.seq);
		} else {
			p->seq = 0x80000000u | ic.type;
		}
	} else if (p->proto == IPPROTO_TCP) {
		struct tcphdr th;

		__builtin_memcpy(&th, l4, sizeof(th));
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
		p->seq = bpf_ntohl(th.seq);
		/* Ingress is keyed by end sequence, which the socket knows on delivery. */
		if (ingress)
			p->seq = lat_tcp_end_seq(p->seq, plen, th.doff * 4);
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr uh;
		__u64 data;
		__u32 n;

		__builtin_memcpy(&uh, l4, sizeof(uh));
		__builtin_memcpy(&data, l4 + sizeof(uh), sizeof(data));
		p->sport = bpf_ntohs(uh.source);
		p->dport = bpf_ntohs(uh.dest);
		/* The payload's first octets, up to 8, the rest zero (little-endian: low bytes). */
		n = plen > sizeof(uh) ? plen - sizeof(uh) : 0;
		if (n < 8)
			data &= (1ULL << (n * 8)) - 1;
		p->seq = lat_udp_key(data, plen);
	}
	return 0;
}

/* Parse the IP packet at nh, whose first LAT_HDR_READ octets b holds already; with decap,
 * look through a VXLAN encapsulation (b then gets the inner packet's). */
static __always_inline int parse_ip_copy(__u8 *b, const unsigned char *nh, int decap, int ingress,
					 struct lat_pkt *p)
{
	__u8 l4opt[L4_READ];

	__builtin_memset(p, 0, sizeof(*p));
	for (int round = 0; round < 2; round++) {
		const __u8 *l4;
		__u32 plen, l4off;

		if (round && bpf_probe_read_kernel(b, LAT_HDR_READ, nh))
			return -1;
		if ((b[0] >> 4) == 4) {
			struct iphdr ip;

			__builtin_memcpy(&ip, b, sizeof(ip));
			p->family = AF_INET;
			p->proto = ip.protocol;
			p->len = bpf_ntohs(ip.tot_len);
			__builtin_memset(p->src, 0, 16);
			__builtin_memset(p->dst, 0, 16);
			__builtin_memcpy(p->src, &ip.saddr, 4);
			__builtin_memcpy(p->dst, &ip.daddr, 4);
			l4off = ip.ihl * 4;
			if (l4off < sizeof(ip))
				return -1;
			plen = p->len > l4off ? p->len - l4off : 0;
			if (l4off == sizeof(ip)) {
				l4 = b + sizeof(ip);
			} else {              /* IP options: the L4 header is further on */
				if (bpf_probe_read_kernel(l4opt, sizeof(l4opt), nh + l4off))
					return -1;
				l4 = l4opt;
			}
		} else if ((b[0] >> 4) == 6) {
			struct ipv6hdr ip6;

			__builtin_memcpy(&ip6, b, sizeof(ip6));
			p->family = AF_INET6;
			p->proto = ip6.nexthdr;
			plen = bpf_ntohs(ip6.payload_len);
			p->len = plen + sizeof(ip6);
			__builtin_memcpy(p->src, &ip6.saddr, 16);
			__builtin_memcpy(p->dst, &ip6.daddr, 16);
			l4off = sizeof(ip6);
			l4 = b + sizeof(ip6);
		} else {
			return -1;
		}
		if (decap && round == 0 && p->proto == IPPROTO_UDP) {
			struct udphdr uh;
			__u16 ethertype;

			__builtin_memcpy(&uh, l4, sizeof(uh));
			if (uh.dest == bpf_htons(VXLAN_PORT)) {
				/* udp (8) + vxlan (8) + inner ethernet (14) */
				if (bpf_probe_read_kernel(&ethertype, 2, nh + l4off + 8 + 8 + 12))
					return -1;
				if (ethertype != bpf_htons(ETH_P_IP) && ethertype != bpf_htons(ETH_P_IPV6))
					return -1;
				nh = nh + l4off + 8 + 8 + 14;
				continue;
			}
		}
		return parse_l4(l4, plen, ingress, p);
	}
	return -1;
}

/* Parse the IP packet at nh; with decap, look through a VXLAN encapsulation. */
static __always_inline int parse_ip(const unsigned char *nh, int decap, int ingress, struct lat_pkt *p)
{
	__u8 b[LAT_HDR_READ];

	if (bpf_probe_read_kernel(b, sizeof(b), nh))
		return -1;
	return parse_ip_copy(b, nh, decap, ingress, p);
}

/* ICMP other than echo (neighbour discovery, MLD, errors) has no identity of its own:
 * its key is only the message type. */
static __always_inline int weak_key(const struct lat_pkt *p)
{
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
		return !!(p->seq & 0x80000000u);
	return p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP;
}

static __always_inline int same_addr(const __u8 *a, const __u8 *b)
{
	for (int i = 0; i < 16; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static __always_inline void key_of(const struct lat_pkt *p, __u32 netns, __u8 dir, struct lat_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->netns = netns;
	k->proto = p->proto;
	k->dir = dir;
	k->id = p->id;
	k->ports = (__u32)p->sport << 16 | p->dport;
	k->seq = p->seq;
}

static __always_inline int emit(const struct lat_pkt *p, __u32 netns, __u32 slot, __u8 dir,
				__u8 match, __u8 start, __u64 now, __u64 latency, __u64 stack)
{
	struct lat_event *e = bpf_ringbuf_reserve(&lat_events, sizeof(*e), 0);

	if (!e) {
		count(slot, LATC_EVENTS_LOST);
		return -1;
	}
	e->ts_ns = now;
	e->latency_ns = latency;
	e->netns = netns;
	e->dir = dir;
	e->proto = p->proto;
	e->family = p->family;
	e->match = match;
	e->start = start;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	e->pad2 = 0;
	e->id = p->id;
	e->sport = p->sport;
	e->dport = p->dport;
	e->seq = p->seq;
	e->len = p->len;
	e->stack_ns = stack;
	__builtin_memcpy(e->src, p->src, 16);
	__builtin_memcpy(e->dst, p->dst, 16);
	/* No wakeup per record: waking the agent for every packet would perturb the very
	 * latency being measured. It drains the ring on a timer; a filling ring wakes it. */
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&lat_events, BPF_RB_AVAIL_DATA) > LAT_RB_WAKEUP_BYTES ?
			   BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline const volatile struct lat_config *lat_cfg(void)
{
	return &lat_conf;
}

static __always_inline int is_send_syscall(const volatile struct lat_config *c, long id)
{
	for (int i = 0; i < 6; i++)
		if (c->sys_send[i] && c->sys_send[i] == id)
			return 1;
	return 0;
}

/* Egress start, part 1: a sending system call enters in an enabled namespace. */
SEC("tp_btf/sys_enter")
int BPF_PROG(lat_sys_enter, struct pt_regs *regs, long id)
{
	const volatile struct lat_config *c = lat_cfg();
	struct task_struct *t;
	__u64 *start;
	__u32 ns;

	if (!is_send_syscall(c, id))
		return 0;
	t = bpf_get_current_task_btf();
	ns = net_inum(t->nsproxy->net_ns);
	if (!bpf_map_lookup_elem(&lat_enabled, &ns))
		return 0;
	start = bpf_task_storage_get(&lat_syscall, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(lat_sys_exit, struct pt_regs *regs, long ret)
{
	const volatile struct lat_config *c = lat_cfg();
	__u64 *start;

	if (!is_send_syscall(c, regs->orig_ax))
		return 0;
	start = bpf_task_storage_get(&lat_syscall, bpf_get_current_task_btf(), 0, 0);
	if (start)
		*start = 0;
	return 0;
}

/* Egress start, part 2: the packet is queued on the container's interface. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(lat_dev_queue, struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	struct lat_flight f = {};
	struct lat_netns *en;
	struct lat_key k;
	struct lat_pkt p;
	__u64 now, key, *sys;
	__u32 ns, ifindex;

	ns = dev_netns(dev);
	en = bpf_map_lookup_elem(&lat_enabled, &ns);
	if (!en)
		return 0;
	ifindex = dev->ifindex;
	if (ifindex == 1 || (en->ifindex && en->ifindex != ifindex))
		return 0;
	if (parse_ip(skb->head + skb->network_header, 0, 0, &p))
		return 0;
	/* ICMP, UDP and TCP only: others (e.g. MLD behind a hop-by-hop header) have no key. */
	if (p.proto != IPPROTO_ICMP && p.proto != IPPROTO_ICMPV6 && p.proto != IPPROTO_TCP &&
	    p.proto != IPPROTO_UDP)
		return 0;
	now = bpf_ktime_get_ns();
	f.start_ns = now;
	f.queue_ns = now;
	f.start = LAT_START_QUEUE;
	sys = bpf_task_storage_get(&lat_syscall, bpf_get_current_task_btf(), 0, 0);
	if (sys && *sys && *sys <= now && now - *sys < LAT_SYSCALL_MAX_AGE_NS) {
		f.start_ns = *sys;
		f.start = LAT_START_SYSCALL;
		/* One system call starts one packet's clock; a large TCP write's later
		 * segments start when they are queued. */
		*sys = 0;
	}
	f.len = p.len;
	f.family = p.family;
	key_of(&p, ns, LAT_EGRESS, &f.key);
	__builtin_memcpy(f.src, p.src, 16);
	__builtin_memcpy(f.dst, p.dst, 16);
	key = (__u64)skb;
	bpf_map_update_elem(&lat_inflight, &key, &f, BPF_ANY);
	/* The keyed copy leaves the namespace out of the key: the underlay cannot know it. */
	key_of(&p, 0, LAT_EGRESS, &k);
	bpf_map_update_elem(&lat_inflight_key, &k, &f, BPF_ANY);
	count(en->slot, LATC_EGRESS_STARTED);
	return 0;
}

/* Egress end: transmission on the underlay device. */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(lat_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	const volatile struct lat_config *c = lat_cfg();
	struct lat_flight *f, fl;
	struct lat_netns *en;
	struct lat_key k;
	struct lat_pkt p;
	__u64 now, key;
	__u8 match = LAT_MATCH_SKB;

	if (dev->ifindex != c->underlay_ifindex || dev_netns(dev) != c->node_netns)
		return 0;
	key = (__u64)skb;
	f = bpf_map_lookup_elem(&lat_inflight, &key);
	if (parse_ip(skb->head + skb->network_header, 1, 0, &p))
		return 0;
	if (f) {
		fl = *f;
		bpf_map_delete_elem(&lat_inflight, &key);
		/* The address may have been reused by another packet: the key must survive
		 * (addresses and ICMP ids may not, when the node masquerades). */
		if (p.proto != fl.key.proto || p.seq != fl.key.seq ||
		    bpf_ktime_get_ns() - fl.start_ns > LAT_EXPIRE_NS ||
		    (weak_key(&p) && !same_addr(p.src, fl.src))) {
			en = bpf_map_lookup_elem(&lat_enabled, &fl.key.netns);
			if (en)
				count(en->slot, LATC_EGRESS_STALE);
			return 0;
		}
	} else {
		/* Not the same sk_buff (copied or segmented on its way): by packet key, when
		 * the packet has one (not ICMP errors or neighbour discovery). */
		if (weak_key(&p))
			return 0;
		key_of(&p, 0, LAT_EGRESS, &k);
		f = bpf_map_lookup_elem(&lat_inflight_key, &k);
		if (!f)
			return 0;
		fl = *f;
		match = LAT_MATCH_KEY;
		if (bpf_ktime_get_ns() - fl.start_ns > LAT_EXPIRE_NS)
			return 0;
	}
	key_of(&p, 0, LAT_EGRESS, &k);
	k.id = fl.key.id;
	k.seq = fl.key.seq;
	k.ports = fl.key.ports;
	bpf_map_delete_elem(&lat_inflight_key, &k);
	en = bpf_map_lookup_elem(&lat_enabled, &fl.key.netns);
	if (!en)
		return 0;
	now = bpf_ktime_get_ns();
	count(en->slot, LATC_EGRESS_MATCHED);
	/* Report the packet as the container sent it. */
	p.family = fl.family;
	p.proto = fl.key.proto;
	p.id = fl.key.id;
	p.sport = fl.key.ports >> 16;
	p.dport = fl.key.ports & 0xffff;
	p.seq = fl.key.seq;
	p.len = fl.len;
	__builtin_memcpy(p.src, fl.src, 16);
	__builtin_memcpy(p.dst, fl.dst, 16);
	emit(&p, fl.key.netns, en->slot, LAT_EGRESS, match, fl.start, now, now - fl.start_ns,
	     fl.queue_ns - fl.start_ns);
	return 0;
}

/* A signature of the packet a buffer held when received: packet buffers are recycled fast,
 * so the same address alone may be another packet. The IP lengths are masked: GRO rewrites
 * them when it merges segments into the first one's buffer. */
static __always_inline __u64 sig_of(__u64 v)
{
	if ((v & 0xf0) == 0x40)
		v &= ~0xffff0000ull;            /* IPv4 total length (bytes 2-3) */
	else
		v &= ~0xffff00000000ull;        /* IPv6 payload length (bytes 4-5) */
	return v;
}

static __always_inline __u64 header_sig(const unsigned char *nh)
{
	__u64 v = 0;

	if (bpf_probe_read_kernel(&v, sizeof(v), nh))
		return 0;
	return sig_of(v);
}

/* Ingress start: reception on the underlay device. Remember the buffer and the time. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(lat_rx, struct sk_buff *skb)
{
	const volatile struct lat_config *c = lat_cfg();
	struct net_device *dev = skb->dev;
	__u8 b[LAT_HDR_READ] __attribute__((aligned(8)));
	unsigned char *head, *data;
	struct lat_rx_ring *r;
	struct lat_pkt p;
	__u32 zero = 0, i;

	if (dev->ifindex != c->underlay_ifindex || dev_netns(dev) != c->node_netns)
		return 0;
	r = bpf_map_lookup_elem(&lat_rx_recent, &zero);
	if (!r)
		return 0;
	i = r->pos++ & (LAT_RX_RING - 1);
	head = skb->head;
	data = skb->data;
	r->s[i].head = (__u64)head;
	r->s[i].ts = bpf_ktime_get_ns();
	r->s[i].off = (__u32)(data - head);
	r->s[i].sig = 0;
	r->s[i].tcp_end = 0;
	if (bpf_probe_read_kernel(b, sizeof(b), data))
		return 0;
	r->s[i].sig = sig_of(*(__u64 *)b);
	/* TCP is matched by end sequence (NAT leaves it alone), since a segment's buffer may
	 * be gone by delivery: merged into the tail of the socket's receive queue. The same
	 * copy is parsed; only a VXLAN packet's inner header is read again. */
	if (!parse_ip_copy(b, data, 1, 1, &p) && p.proto == IPPROTO_TCP) {
		r->s[i].tcp_end = RX_TCP | p.seq;
		r->s[i].len = p.len;
	}
	return 0;
}

/* The newest of the last `slots` receptions in ring r with this TCP end sequence. */
static __always_inline struct lat_rx_slot *ring_find_tcp(struct lat_rx_ring *r, __u64 want, int slots)
{
	__u32 pos = r->pos;

	for (int n = 1; n <= slots; n++) {
		__u32 i = (pos - n) & (LAT_RX_RING - 1);

		if (r->s[i].tcp_end == want)
			return &r->s[i];
	}
	return NULL;
}

/* A TCP segment's underlay reception, by end sequence: in this CPU's ring first, then in the
 * latest receptions of the other CPUs, for segments that waited in a socket's backlog and
 * were delivered on the CPU its owner ran on. */
#define LAT_RX_XCPU_MAX   8
#define LAT_RX_XCPU_SLOTS 64
static __always_inline struct lat_rx_slot *tcp_reception(struct lat_rx_ring *r, __u64 want)
{
	__u32 zero = 0, me = bpf_get_smp_processor_id();
	struct lat_rx_slot *found = ring_find_tcp(r, want, LAT_RX_RING);

	for (__u32 cpu = 0; !found && cpu < LAT_RX_XCPU_MAX; cpu++) {
		struct lat_rx_ring *o;

		if (cpu == me)
			continue;
		o = bpf_map_lookup_percpu_elem(&lat_rx_recent, &zero, cpu);
		if (!o)
			break;
		found = ring_find_tcp(o, want, LAT_RX_XCPU_SLOTS);
	}
	return found;
}

/* Ingress end: data is ready on a socket of an enabled namespace; the packet just queued
 * is the tail of its receive queue. */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(lat_data_ready, const struct sock *sk)
{
	struct lat_netns *en;
	struct lat_rx_ring *r;
	struct sk_buff *skb;
	struct lat_pkt p;
	__u64 head, now, start = 0;
	__u32 ns, zero = 0, pos;
	__u8 match = LAT_MATCH_HEAD;

	ns = net_inum(sk->__sk_common.skc_net.net);
	en = bpf_map_lookup_elem(&lat_enabled, &ns);
	if (!en)
		return 0;
	skb = sk->sk_receive_queue.prev;
	if (!skb || (void *)skb == (void *)&sk->sk_receive_queue)
		return 0;
	if (parse_ip(skb->head + skb->network_header, 0, 1, &p))
		return 0;
	count(en->slot, LATC_INGRESS_DELIVERED);
	now = bpf_ktime_get_ns();
	r = bpf_map_lookup_elem(&lat_rx_recent, &zero);
	if (!r)
		return 0;
	pos = r->pos;
	if (p.proto == IPPROTO_TCP) {
		/* The segment just queued ends at rcv_nxt, whether it is the queue's tail or was
		 * merged into it (then the tail's header is an older segment's). */
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;
		__u64 want = RX_TCP | BPF_CORE_READ(tp, rcv_nxt);
		struct lat_rx_slot *rx = tcp_reception(r, want);

		if (rx) {
			start = rx->ts;
			p.seq = (__u32)want;
			p.len = rx->len;
			match = LAT_MATCH_KEY;
		}
	} else {
		head = (__u64)skb->head;
		for (int n = 1; n <= LAT_RX_RING; n++) {
			__u32 i = (pos - n) & (LAT_RX_RING - 1);

			if (r->s[i].head == head) {
				if (header_sig((unsigned char *)head + (r->s[i].off & 0xffff)) == r->s[i].sig)
					start = r->s[i].ts;
				break;
			}
		}
	}
	if (!start || start > now || now - start > LAT_RX_MAX_AGE_NS)
		return 0;
	count(en->slot, LATC_INGRESS_MATCHED);
	emit(&p, ns, en->slot, LAT_INGRESS, match, 0, now, now - start, 0);
	return 0;
}
