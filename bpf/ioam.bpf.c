/* IPv6 In-situ OAM on the underlay device (native mode), in three roles:
 *  - ioam_egress (encap): pod traffic leaving the node gets a Hop-by-Hop header (or its
 *    existing one is extended) with pre-allocated trace options, this node's data filled;
 *  - ioam_ingress (transit or decap): packets arriving with IOAM get this node's data when
 *    the namespace is known; for local endpoints the IOAM is then removed and exported.
 * On a node's underlay device the datapath tail-calls them (from_container's native path
 * for sampled packets, from_underlay for Hop-by-Hop packets); the encap then sends the
 * packet where the datapath had decided (encap_done), the ingress tail-calls the datapath
 * back (ioam_next); attached on their own to another device, they return
 * TC_ACT_UNSPEC so the next filter runs. Reads and writes past the fixed headers are
 * checked against the packet's lengths, so lying lengths can never make the programs
 * read or write out of place. */
#include "lib/common.h"
#include <bpf/bpf_core_read.h>
#include "datapath_abi.h"
#include "ioam_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Builds for bench/ioam-parts.sh alone, which measures what parts of the work cost by
 * leaving them out: IOAM_BENCH_NO_DATA inserts and removes trace options but fills no
 * node's data in them; IOAM_BENCH_CLOCK_ONLY, with it, still reads the clock on each node
 * that would fill data. A normal build sets neither. */
#ifdef IOAM_BENCH_NO_DATA
#define FILL_DATA 0
#else
#define FILL_DATA 1
#endif

#define L3_OFF        14                   /* Ethernet */
#define HBH_OFF       (L3_OFF + 40)        /* right after the fixed IPv6 header */
#define MAX_TLVS      64                   /* options walked in one Hop-by-Hop header */
#define PKT_OFF_MASK  0xfff                /* bounds offsets into the linear data: past the
					    * largest Hop-by-Hop header (54 + 2048) */

#include "lib/endpoints_map.h"     /* the datapath's maps, shared through their pins */
#include "lib/ioam_maps.h"
#include "lib/tail_map.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOAM_NS_IDS);
	__type(key, __u32);
	__type(value, struct ioam_ns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_ns_table SEC(".maps");

/* A configured namespace, NULL for an id this node does not know. */
static __always_inline struct ioam_ns *ns_known(__u32 id)
{
	struct ioam_ns *ns = bpf_map_lookup_elem(&ioam_ns_table, &id);

	return ns && (ns->flags & IOAM_NS_KNOWN) ? ns : NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ioam_node);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_node SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ioam_pcpu);
} ioam_pcpu SEC(".maps");

static __always_inline struct ioam_pcpu *pcpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ioam_pcpu, &zero);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_traces SEC(".maps");

/* The fixed IPv6 header, read directly (no helper call on the common path); NULL for
 * anything else. */
static __always_inline int ipv6_header(struct __sk_buff *skb, struct ipv6hdr *out)
{
	void *data = pkt_data(skb), *end = pkt_end(skb);
	struct ipv6hdr *ip6 = data + L3_OFF;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return -1;
	if ((void *)(ip6 + 1) > end) {
		if (bpf_skb_load_bytes(skb, L3_OFF, out, sizeof(*out)))
			return -1;
	} else {
		__builtin_memcpy(out, ip6, sizeof(*out));
	}
	return out->version == 6 ? 0 : -1;
}

/* Per-CPU scratch space (node data, a rebuilt header): the 512-octet stack is spent. */
struct keep_buf {
	__u8 b[512];                   /* twice the mask below: offset and length each < 256 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keep_buf);
} ioam_scratch SEC(".maps");

/* What the walk of an arriving Hop-by-Hop header's options found. */
struct hbh_walk {
	__u32 off;                     /* where the walk stopped */
	__u32 n;                       /* trace options (the 0x31 byte), at opt[] */
	__u32 others;                  /* options that are neither padding nor IOAM */
	__u32 opt[IOAM_MAX_OPTS];      /* offsets in the Hop-by-Hop header */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hbh_walk);
} ioam_hbh SEC(".maps");

/* Where an arriving packet goes when IOAM is done with it: back into the datapath program
 * that handed it over (slot), or, attached on its own, to the next filter. If the slot is
 * empty, the packet goes on to the next filter too (the host stack forwards it). */
static __always_inline int ioam_next(struct __sk_buff *skb, __u32 slot)
{
	if (skb->cb[0] == DP_CB_IOAM_CALL) {
		skb->cb[0] = DP_CB_IOAM_DONE;
		bpf_tail_call(skb, &dp_tail, slot);
		skb->cb[0] = 0;
	}
	return TC_ACT_UNSPEC;
}

/* Where the encap sends a packet when done: handed over by the datapath (x, its decision),
 * where to_native had decided; attached on its own (x NULL), to the next filter. */
static __always_inline int encap_done(struct __sk_buff *skb, struct dp_xmit *x)
{
	return x ? xmit_redirect(x->ifindex, x->neigh ? &x->nh : NULL) : TC_ACT_UNSPEC;
}

static __always_inline struct ioam_node *node_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ioam_node, &zero);
}

static __always_inline __u32 if_short(__u32 ifindex)
{
	return ifindex && ifindex < 0xffff ? ifindex : 0xffff;
}

/* Node data words for a trace type, in RFC 9197 order. Timestamps use the POSIX format
 * (seconds, microseconds) like Linux's own IOAM, so a domain mixing both stays coherent;
 * fields we cannot know stay all-ones, and so do words past the known fields (undefined
 * bits 12-21) up to NodeLen. */
struct node_data {
	__u32 w[32];
};

/* Set word *i of d to v (v absent: leave the all-ones) and move *i on. The index goes
 * through an empty asm, so the verifier sees a bounded unknown rather than a constant of
 * its path: the paths through the twelve optional fields then share one state instead of
 * 2^12, and no field's offset needs counting from the type's bits per packet. */
static __always_inline void next_word(struct node_data *d, __u32 *i, bool present, __u32 v)
{
	__u32 k = *i;

	asm volatile("" : "+r"(k));
	if (present)
		d->w[k & 31] = v;
	*i = k + 1;
}

/* A packet's timestamp, read once however many trace options it fills (valid != 0). */
struct pkt_clock {
	__u32 sec, usec, valid;
};

/* CLOCK_REALTIME as seconds and microseconds. Dividing the nanoseconds by 10^9 is a 64-bit
 * division, tens of cycles on every packet: the start of the current second is kept per
 * CPU instead, and only a new second (or a clock that stepped back) divides. The
 * microseconds are a multiplication by the reciprocal of 1000, exact for any 32-bit value. */
static __always_inline void wall_clock(const struct ioam_node *nc, struct pkt_clock *clk)
{
	__u64 now = bpf_ktime_get_boot_ns() + (nc ? nc->clock_offset : 0);
	struct ioam_pcpu *c = pcpu();
	__u64 base, s;

	if (c && now >= c->ts_base && now - c->ts_base < 1000000000ULL) {
		base = c->ts_base;
		s = c->ts_sec;
	} else {
		s = now / 1000000000ULL;
		base = s * 1000000000ULL;
		if (c) {
			c->ts_base = base;
			c->ts_sec = s;
		}
	}
	clk->sec = (__u32)s;
	clk->usec = (__u32)(((now - base) * 0x10624DD3ULL) >> 38);
	clk->valid = 1;
}

static __always_inline void build_node_data(struct node_data *d, __u32 type, const struct ioam_ns *ns,
					    __u8 hlim, __u32 in_if, __u32 out_if, struct pkt_clock *clk)
{
	struct ioam_node *nc = node_cfg();
	__u32 id = nc ? nc->id & 0xffffff : 0xffffff;
	__u64 idw = nc ? nc->id_wide & 0xffffffffffffffULL : 0xffffffffffffffULL;
	__u32 i = 0;

	__builtin_memset(d, 0xff, sizeof(*d));
	if (type & IOAM_BIT(0))
		next_word(d, &i, true, bpf_htonl(((__u32)hlim << 24) | id));
	if (type & IOAM_BIT(1))
		next_word(d, &i, true, bpf_htonl(if_short(in_if) << 16 | if_short(out_if)));
	if ((type & (IOAM_BIT(2) | IOAM_BIT(3))) && !clk->valid)
		wall_clock(nc, clk);
	if (type & IOAM_BIT(2))
		next_word(d, &i, true, bpf_htonl(clk->sec));
	if (type & IOAM_BIT(3))
		next_word(d, &i, true, bpf_htonl(clk->usec));
	if (type & IOAM_BIT(4))                   /* transit delay: unknown here */
		next_word(d, &i, false, 0);
	if (type & IOAM_BIT(5))
		next_word(d, &i, ns, ns ? bpf_htonl(ns->data) : 0);
	if (type & IOAM_BIT(6))                   /* queue depth: unknown here */
		next_word(d, &i, false, 0);
	if (type & IOAM_BIT(7))                   /* checksum complement: unused */
		next_word(d, &i, false, 0);
	if (type & IOAM_BIT(8)) {
		next_word(d, &i, true, bpf_htonl(((__u32)hlim << 24) | (__u32)(idw >> 32)));
		next_word(d, &i, true, bpf_htonl((__u32)idw));
	}
	if (type & IOAM_BIT(9)) {
		next_word(d, &i, true, in_if ? bpf_htonl(in_if) : 0xffffffff);
		next_word(d, &i, true, out_if ? bpf_htonl(out_if) : 0xffffffff);
	}
	if (type & IOAM_BIT(10)) {
		next_word(d, &i, ns, ns ? bpf_htonl((__u32)(ns->data_wide >> 32)) : 0);
		next_word(d, &i, ns, ns ? bpf_htonl((__u32)ns->data_wide) : 0);
	}
	/* bit 11 (buffer occupancy) stays all-ones */
}

/* NodeLen of the fields bits 0-11 define. */
static __always_inline __u32 known_nodelen(__u32 type)
{
	return __builtin_popcount(type & IOAM_SHORT_MASK) + 2 * __builtin_popcount(type & IOAM_WIDE_MASK);
}

/* Whether this node's writes may go straight into the packet: unless the packet carries a
 * CHECKSUM_COMPLETE sum (received from a NIC that sums what it receives; packets from veth
 * and local sockets do not), no sum covers these octets. The kernel's view of the context
 * gives ip_summed with one load; asking a helper (bpf_csum_update with a zero difference)
 * cost a call on every packet. */
#define CHECKSUM_COMPLETE 2          /* include/linux/skbuff.h: a define, not in BTF */

extern void *bpf_cast_to_kern_ctx(void *) __ksym;

static __always_inline bool direct_writes(struct __sk_buff *skb)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);

	return BPF_CORE_READ_BITFIELD(kskb, ip_summed) != CHECKSUM_COMPLETE;
}

/* Write one octet at packet offset off (the option header's flags or RemainingLen). */
static __always_inline int write_octet(struct __sk_buff *skb, __u32 off, __u8 v, bool direct)
{
	__u8 *p = pkt_data(skb) + (off & PKT_OFF_MASK);

	if (!direct)
		return bpf_skb_store_bytes(skb, off, &v, 1, BPF_F_RECOMPUTE_CSUM);
	if ((void *)(p + 1) > pkt_end(skb))
		return -1;
	*p = v;
	return 0;
}

/* Write this node's data (nodelen words) at packet offset off: straight into the packet,
 * a word at a time, without a helper call, or, when a CHECKSUM_COMPLETE sum covers it,
 * with bpf_skb_store_bytes, which keeps that sum right. */
static __always_inline int write_node_data(struct __sk_buff *skb, __u32 off, __u32 type, __u32 nodelen,
					   const struct ioam_ns *ns, __u8 hlim, __u32 in_if, __u32 out_if,
					   bool direct, struct pkt_clock *clk)
{
	__u32 size = nodelen * 4, zero = 0;
	struct node_data *d = bpf_map_lookup_elem(&ioam_scratch, &zero);
	void *data, *end;

	if (!d || nodelen < 1 || nodelen > IOAM_NODE_WORDS)
		return -1;
	build_node_data(d, type, ns, hlim, in_if, out_if, clk);
	if (!direct) {
		asm volatile("" : "+r"(size));
		size &= 0x7c;             /* NodeLen is at most 31 words */
		if (!size)
			return -1;
		return bpf_skb_store_bytes(skb, off, d, size, BPF_F_RECOMPUTE_CSUM);
	}
	data = pkt_data(skb);
	end = pkt_end(skb);
	for (__u32 i = 0; i < IOAM_NODE_WORDS; i++) {
		__u32 *w;

		if (i >= nodelen)
			break;
		w = data + ((off + i * 4) & PKT_OFF_MASK);
		if ((void *)(w + 1) > end)
			return -1;
		*w = d->w[i & 31];
	}
	return 0;
}

/* ------------------------------------------------------------------ encap (egress) */

/* Bytes of padding at the start of an existing Hop-by-Hop header's options. */
static __always_inline __u32 leading_pad(struct __sk_buff *skb, __u32 off, __u32 end)
{
	__u8 b[2];
	__u32 pad = 0;

	for (int i = 0; i < 8 && off < end; i++) {
		if (bpf_skb_load_bytes(skb, off, b, 1))
			break;
		if (b[0] == 0) {          /* Pad1 */
			pad++;
			off++;
			continue;
		}
		if (b[0] != 1 || bpf_skb_load_bytes(skb, off, b, 2))
			break;
		pad += b[1] + 2;          /* PadN */
		off += b[1] + 2;
	}
	return pad;
}

SEC("tc")
int ioam_egress(struct __sk_buff *skb)
{
	__u32 out_if = skb->ifindex, mtu = 0, zero = 0;
	struct dp_xmit *x = NULL;
	struct pkt_clock clk = {};
	struct ipv6hdr ip6;
	struct ioam_encap *enc;
	__u8 hbh[2] = {}, nexthdr;
	__u32 len, old_len = 0;

	if (skb->cb[0] == DP_CB_IOAM_CALL) {
		skb->cb[0] = 0;
		x = bpf_map_lookup_elem(&dp_xmit, &zero);
		if (!x)
			return TC_ACT_SHOT;
	}
	if (ipv6_header(skb, &ip6))
		return encap_done(skb, x);
	if (x) {
		/* The datapath knows the source is a local endpoint, sampled the packet by a
		 * rule and chose the egress device. */
		out_if = x->ifindex;
		mtu = x->mtu;
		enc = bpf_map_lookup_elem(&ioam_encap_slots, &x->slot);
	} else {
		/* Only pod traffic leaving this node enters the IOAM domain here. */
		struct ep_key src = { .family = AF_INET6 };

		__builtin_memcpy(src.addr, &ip6.saddr, 16);
		if (!bpf_map_lookup_elem(&endpoints, &src))
			return TC_ACT_UNSPEC;
		enc = ioam_encap_sampled(&ip6.daddr);
	}
	if (!enc)
		return encap_done(skb, x);
	len = enc->len;
	if (len < 8 || len > IOAM_TPL_MAX || (len & 7))
		return encap_done(skb, x);
	nexthdr = ip6.nexthdr;
	if (nexthdr == NEXTHDR_HOP) {
		/* Extend: our options go in front of the existing ones; the old two header
		 * bytes become a Pad2, which keeps every old option's alignment. Consecutive
		 * padding must stay within 7 octets (RFC 4942), as Linux receivers check. */
		if (bpf_skb_load_bytes(skb, HBH_OFF, hbh, 2))
			return encap_done(skb, x);
		old_len = (hbh[1] + 1) * 8;
		if (old_len + len > IOAM_HBH_MAX || HBH_OFF + old_len > skb->len ||
		    2 + leading_pad(skb, HBH_OFF + 2, HBH_OFF + old_len) > 7) {
			ioam_stat(IOAM_ST_ENCAP_FAIL);
			return encap_done(skb, x);
		}
	}
	/* Inside the datapath the packet is still on the endpoint's veth, where growing it is
	 * not checked against the underlay's MTU: check it here, so a packet that would no
	 * longer fit goes without IOAM rather than being dropped on the way. The FIB's MTU
	 * answers for a single packet; a GSO one (or no MTU) asks the kernel, which checks
	 * each segment. */
	if (x) {
		bool fits;

		if (mtu && !skb->gso_size) {
			fits = skb->len - L3_OFF + len <= mtu;
		} else {
			mtu = 0;
			fits = !bpf_check_mtu(skb, out_if, &mtu, (__s32)len, 0);
		}
		if (!fits) {
			ioam_stat(IOAM_ST_ENCAP_FAIL);
			return encap_done(skb, x);
		}
	}
	if (bpf_skb_adjust_room(skb, len, BPF_ADJ_ROOM_NET, 0)) {
		ioam_stat(IOAM_ST_ENCAP_FAIL);
		return encap_done(skb, x);
	}
	/* The new room is in the linear data: fill it straight, a word at a time. */
	{
		void *data = pkt_data(skb), *end = pkt_end(skb);
		struct ipv6hdr *hdr = data + L3_OFF;
		__u8 *hbh_new = data + HBH_OFF;

		for (__u32 i = 0; i < IOAM_TPL_MAX / 8; i++) {
			__u64 *w = (void *)hbh_new + i * 8;

			if (i * 8 >= len)
				break;
			if ((void *)(w + 1) > end)
				return TC_ACT_SHOT;
			*w = *(__u64 *)&enc->tpl[i * 8];
		}
		if ((void *)(hbh_new + 8) > end)
			return TC_ACT_SHOT;
		if (old_len) {
			__u8 *pad2 = hbh_new + (len & (IOAM_TPL_MAX - 1));

			if ((void *)(pad2 + 2) > end)
				return TC_ACT_SHOT;
			hbh_new[0] = hbh[0];
			hbh_new[1] = hbh[1] + len / 8;
			pad2[0] = 1;
			pad2[1] = 0;
		} else {
			hbh_new[0] = nexthdr;
			hdr->nexthdr = NEXTHDR_HOP;
		}
		hdr->payload_len = bpf_htons(bpf_ntohs(ip6.payload_len) + len);
	}
#ifdef IOAM_BENCH_CLOCK_ONLY
	wall_clock(node_cfg(), &clk);
	barrier_var(clk.usec);
#endif
	for (__u32 i = 0; FILL_DATA && i < IOAM_MAX_OPTS && i < enc->nopts; i++) {
		struct ioam_opt_info *o = &enc->opt[i];
		__u32 nsid = o->ns;

		if (o->nodelen && o->fill + o->nodelen * 4 <= len)
			write_node_data(skb, HBH_OFF + o->fill, o->type, o->nodelen,
					ns_known(nsid),
					ip6.hop_limit, skb->ingress_ifindex, out_if, true, &clk);
	}
	ioam_stat(IOAM_ST_ENCAP);
	return encap_done(skb, x);
}

/* ------------------------------------------------------- transit and decap (ingress) */

#define KEEP_MAX 240               /* octets of other options decap can keep */
#define KEEP_TLVS 32               /* options (any kind) in a header decap rebuilds */

/* Decap of a header that carries other options too: rebuild it with those alone, each at
 * its old alignment (offset modulo 8), at the end of the old header, then cut the front.
 * The walk runs under bpf_loop, so its callback is verified once. */
struct keep_ctx {
	struct __sk_buff *skb;
	__u8 *buf;                     /* a per-CPU scratch buffer: the stack is spent */
	__u32 off, end, pos;
	int fail;
};

static long keep_step(__u32 i, struct keep_ctx *c)
{
	__u8 t[2];
	__u32 len, pad, n;

	if (c->off >= c->end)
		return 1;
	if (bpf_skb_load_bytes(c->skb, c->off, t, 1))
		goto fail;
	if (t[0] == 0) {
		c->off++;
		return 0;
	}
	if (bpf_skb_load_bytes(c->skb, c->off, t, 2))
		goto fail;
	len = 2 + t[1];
	if (t[0] != 1 && t[0] != IOAM_HBH_OPT) {
		pad = ((c->off - HBH_OFF) - c->pos) & 7;
		if (c->pos + pad + len > KEEP_MAX)
			goto fail;
		if (pad > 1) {                    /* PadN; Pad1 is the zero already there */
			c->buf[c->pos & 255] = 1;
			c->buf[(c->pos + 1) & 255] = pad - 2;
		}
		c->pos += pad;
		n = len & 255;
		if (n < 2 || bpf_skb_load_bytes(c->skb, c->off, c->buf + (c->pos & 255), n))
			goto fail;
		c->pos += len;
	}
	c->off += len;
	return 0;
fail:
	c->fail = 1;
	return 1;
}

/* Returns 0, -1 (header untouched) when the other options take more than KEEP_MAX or
 * KEEP_TLVS, -2 when the packet could not be changed. */
static __noinline int keep_others(struct __sk_buff *skb, __u32 hbh_len, __u32 plen)
{
	struct keep_ctx c = { .skb = skb, .off = HBH_OFF + 2, .end = HBH_OFF + hbh_len, .pos = 2 };
	struct keep_buf *kb;
	__u32 pos, delta, pad, zero = 0;
	__u16 new_plen;

	kb = bpf_map_lookup_elem(&ioam_scratch, &zero);
	if (!kb)
		return -1;
	__builtin_memset(kb->b, 0, sizeof(kb->b));
	c.buf = kb->b;
	if (bpf_skb_load_bytes(skb, HBH_OFF, kb->b, 1))
		return -1;
	bpf_loop(KEEP_TLVS, keep_step, &c, 0);
	if (c.fail || c.off < c.end)
		return -1;
	pos = c.pos;
	pad = (8 - (pos & 7)) & 7;
	if (pad > 1) {
		kb->b[pos & 255] = 1;
		kb->b[(pos + 1) & 255] = pad - 2;
	}
	pos += pad;
	if (pos > KEEP_MAX + 8 || pos >= hbh_len)
		return -1;
	kb->b[1] = pos / 8 - 1;
	delta = hbh_len - pos;
	new_plen = bpf_htons((__u16)(plen - delta));
	asm volatile("" : "+r"(pos));
	pos &= 255;
	if (pos < 8)
		return -1;
	if (bpf_skb_store_bytes(skb, HBH_OFF + delta, kb->b, pos, 0) ||
	    bpf_skb_store_bytes(skb, L3_OFF + offsetof(struct ipv6hdr, payload_len), &new_plen, 2, 0) ||
	    bpf_skb_adjust_room(skb, -(__s32)delta, BPF_ADJ_ROOM_NET, 0))
		return -2;
	return 0;
}

/* Exporting every trace of a fast flow would cost more than the flow itself (a ring buffer
 * record and a wake-up of the agent per packet): at most export_rate a second per CPU go
 * out, the rest are counted. 0 means the default, 1000. A window starts with its first
 * trace; once its budget is spent, only every 64th trace looks at the clock for its end,
 * so a flow over the rate reads no clock per packet. The coarse clock (a tick's
 * resolution) is enough for that. */
static __always_inline bool export_allowed(void)
{
	struct ioam_node *nc = node_cfg();
	__u32 rate = nc && nc->export_rate ? nc->export_rate : 1000;
	struct ioam_pcpu *b = pcpu();

	if (!b)
		return false;
	if (b->sent >= rate && !(++b->skipped & 63) &&
	    bpf_ktime_get_coarse_ns() - b->second >= 1000000000ULL)
		b->sent = 0;                      /* the window is over */
	if (b->sent >= rate) {
		ioam_stat(IOAM_ST_EXPORT_SKIPPED);
		return false;
	}
	if (!b->sent)
		b->second = bpf_ktime_get_coarse_ns();
	b->sent++;
	return true;
}

/* Fill this node's data into the trace option at off (length optlen) if its namespace is
 * known. Returns 1 when the namespace is known here, 0 when it is left alone. */
struct visit {
	__u32 rel;                     /* the option's offset in the Hop-by-Hop header */
	__u32 hlim, in_if, out_if;
	__u32 decap;                   /* remove and export here */
	/* Per packet, kept across its options: */
	__s32 direct;                  /* direct_writes(), -1 until a write asks */
	struct pkt_clock clk;
};

/* A global function: the verifier checks it once, not once per option of the caller's loop. */
__noinline int visit_trace(struct __sk_buff *skb, const struct ipv6hdr *ip6, struct visit *v)
{
	__u32 rel, hlim, in_if, out_if, decap;

	__u8 h[IOAM_OPT_HDR + IOAM_TRACE_HDR];
	__u32 nsid, nodelen, remlen, type, known, area, optlen, off;
	struct ioam_ns *ns;
	bool direct;

	if (!skb || !ip6 || !v)
		return 0;
	rel = v->rel;
	hlim = v->hlim;
	in_if = v->in_if;
	out_if = v->out_if;
	decap = v->decap;
	off = HBH_OFF + rel;
	/* The option with its header, read in place: the caller made the Hop-by-Hop header
	 * linear, and the walk checked the option lies within it. */
	{
		__u8 *p = pkt_data(skb) + (off & PKT_OFF_MASK);

		if ((void *)(p + sizeof(h)) > pkt_end(skb)) {
			ioam_stat(IOAM_ST_INCONSISTENT);
			return 0;
		}
		optlen = p[1];
		if (optlen + 2 < sizeof(h)) {
			ioam_stat(IOAM_ST_INCONSISTENT);
			return 0;
		}
		__builtin_memcpy(h, p, sizeof(h));
	}
	if (h[3] != IOAM_TYPE_PREALLOC) {
		ioam_stat(IOAM_ST_UNSUPPORTED);
		return 0;
	}
	nsid = (__u32)h[4] << 8 | h[5];
	ns = ns_known(nsid);
	if (!ns) {
		ioam_stat(IOAM_ST_UNKNOWN_NS);
		return 0;
	}
	/* A trace that is removed here and not exported needs no data from this node. */
	if (decap && !export_allowed())
		return 1;
	nodelen = h[6] >> 3;
	remlen = h[7] & 0x7f;
	type = (__u32)h[8] << 16 | (__u32)h[9] << 8 | h[10];
	area = optlen + 2 - sizeof(h);
	known = known_nodelen(type);
	/* RemainingLen past the end, or a NodeLen the type does not explain: do not touch. */
	if (remlen * 4 > area || nodelen < known || (nodelen > known && !(type & IOAM_UNDEF_MASK))) {
		ioam_stat(IOAM_ST_INCONSISTENT);
		return 1;
	}
	if (type & IOAM_OPAQUE_BIT) {
		ioam_stat(IOAM_ST_UNSUPPORTED);      /* RFC 9197: add no node data at all */
		goto exported;
	}
	if (v->direct < 0)
		v->direct = direct_writes(skb);
	direct = v->direct;
	if (remlen < nodelen) {
		h[6] |= IOAM_OVERFLOW;
		write_octet(skb, off + 6, h[6], direct);
		ioam_stat(IOAM_ST_OVERFLOW);
		goto exported;
	}
	remlen -= nodelen;
	if (write_node_data(skb, off + sizeof(h) + remlen * 4, type, nodelen, ns, hlim, in_if, out_if,
			    direct, &v->clk))
		return 1;
	h[7] = (h[7] & 0x80) | remlen;
	write_octet(skb, off + 7, h[7], direct);
	if (!decap)
		ioam_stat(IOAM_ST_TRANSIT);
exported:
	if (decap) {
		struct ioam_event *ev = bpf_ringbuf_reserve(&ioam_traces, sizeof(*ev), 0);
		struct ioam_node *nc = node_cfg();

		if (!ev) {
			ioam_stat(IOAM_ST_EXPORT_LOST);
			return 1;
		}
		ev->time = bpf_ktime_get_boot_ns() + (nc ? nc->clock_offset : 0);
		ev->ifindex = skb->ifindex;
		ev->ns = nsid;
		ev->nodelen = nodelen;
		ev->flags = (h[6] & 7) << 1 | h[7] >> 7;
		ev->remlen = h[7] & 0x7f;
		ev->type = type;
		__builtin_memcpy(ev->src, &ip6->saddr, 16);
		__builtin_memcpy(ev->dst, &ip6->daddr, 16);
		__builtin_memset(ev->data, 0, sizeof(ev->data));
		ev->data_len = area;
		if (area > IOAM_DATA_MAX || area < 4 ||
		    bpf_skb_load_bytes(skb, off + sizeof(h), ev->data, area)) {
			ev->data_len = 0;
		}
		bpf_ringbuf_submit(ev, 0);
		ioam_stat(IOAM_ST_EXPORT);
	}
	return 1;
}

SEC("tc")
int ioam_ingress(struct __sk_buff *skb)
{
	struct ep_key dst = { .family = AF_INET6 };
	struct dp_handback *back = NULL;
	struct visit v = {};
	struct hbh_walk *hb;
	struct ep_info *ep;
	struct ipv6hdr ip6;
	__u32 hbh_len, known = 0, zero = 0;
	__u8 *data, *end, hbh_next;

	/* Tail-called from from_underlay: tell it the endpoint look-up below (only that one). */
	if (skb->cb[0] == DP_CB_IOAM_CALL) {
		back = bpf_map_lookup_elem(&dp_handback, &zero);
		if (back)
			back->valid = 0;
	}
	if (ipv6_header(skb, &ip6) || ip6.nexthdr != NEXTHDR_HOP)
		return ioam_next(skb, DP_TAIL_UNDERLAY);
	/* The Hop-by-Hop header is read in place, not copied by a helper call: it is in the
	 * linear data but for a packet whose headers a driver split off, which is pulled in. */
	data = pkt_data(skb);
	end = pkt_end(skb);
	if (data + HBH_OFF + 2 > end) {
		if (bpf_skb_pull_data(skb, HBH_OFF + 2))
			goto malformed;
		data = pkt_data(skb);
		end = pkt_end(skb);
		if (data + HBH_OFF + 2 > end)
			goto malformed;
	}
	hbh_next = data[HBH_OFF];
	hbh_len = (data[HBH_OFF + 1] + 1) * 8;
	if (HBH_OFF + hbh_len > skb->len || hbh_len > bpf_ntohs(ip6.payload_len))
		goto malformed;
	if (data + HBH_OFF + hbh_len > end) {
		if (bpf_skb_pull_data(skb, HBH_OFF + hbh_len))
			goto malformed;
		data = pkt_data(skb);
		end = pkt_end(skb);
		if (data + HBH_OFF + hbh_len > end)
			goto malformed;
	}
	hb = bpf_map_lookup_elem(&ioam_hbh, &zero);
	if (!hb)
		return ioam_next(skb, DP_TAIL_UNDERLAY);
	/* Walk the options; any that runs past the header makes the packet malformed. The walk
	 * keeps its state in per-CPU memory, not on the stack: values the verifier does not
	 * track let it check one pass of the loop instead of every path through 64. */
	{
		volatile struct hbh_walk *w = hb;

		w->off = 2;
		w->n = 0;
		w->others = 0;
		for (int i = 0; i < MAX_TLVS; i++) {
			__u32 o = w->off, found;
			__u8 type, len, *p;

			if (o >= hbh_len)
				break;
			p = data + ((HBH_OFF + o) & PKT_OFF_MASK);
			if ((void *)(p + 1) > (void *)end)
				goto malformed;
			type = p[0];
			if (type == 0) {
				w->off = o + 1;
				continue;
			}
			if (o + 2 > hbh_len || (void *)(p + 2) > (void *)end)
				goto malformed;
			len = p[1];
			if (o + 2 + len > hbh_len)
				goto malformed;
			found = w->n;
			if (type == IOAM_HBH_OPT && found < IOAM_MAX_OPTS) {
				w->opt[found & (IOAM_MAX_OPTS - 1)] = o;
				w->n = found + 1;
			} else if (type != 1) {
				w->others = w->others + 1;
			}
			w->off = o + 2 + len;
		}
	}
	if (!hb->n)
		return ioam_next(skb, DP_TAIL_UNDERLAY);
	__builtin_memcpy(dst.addr, &ip6.daddr, 16);
	ep = bpf_map_lookup_elem(&endpoints, &dst);
	if (back) {
		back->local = ep != NULL;
		if (ep)
			back->ep = *ep;
		back->valid = 1;
	}
	v.hlim = ip6.hop_limit;
	v.in_if = skb->ifindex;
	v.out_if = ep ? ep->ifindex : 0;
	v.decap = ep != NULL;
	v.direct = -1;
	for (__u32 i = 0; i < IOAM_MAX_OPTS; i++) {
		if (i >= hb->n)
			break;
		v.rel = hb->opt[i & (IOAM_MAX_OPTS - 1)];
#ifdef IOAM_BENCH_CLOCK_ONLY
		if (!v.decap) {
			wall_clock(node_cfg(), &v.clk);
			barrier_var(v.clk.usec);
		}
#endif
		known += FILL_DATA ? visit_trace(skb, &ip6, &v) : 1;
	}
	if (!ep)
		return ioam_next(skb, DP_TAIL_UNDERLAY);
	/* Decap: a header of padding and our own trace options goes away whole; with other
	 * options it is rebuilt without ours; with unknown namespaces it stays. */
	/* More options than one walk covers, or namespaces unknown here: keep the header. */
	if (hb->off < hbh_len || known != hb->n) {
		ioam_stat(IOAM_ST_KEPT);
		return ioam_next(skb, DP_TAIL_UNDERLAY);
	}
	if (hb->others) {
		int r = keep_others(skb, hbh_len, bpf_ntohs(ip6.payload_len));

		if (r == -2)
			return TC_ACT_SHOT;
		ioam_stat(r ? IOAM_ST_KEPT : IOAM_ST_DECAP);
		return ioam_next(skb, DP_TAIL_UNDERLAY);
	}
	{
		struct ipv6hdr *hdr = pkt_data(skb) + L3_OFF;
		__u16 plen = bpf_htons(bpf_ntohs(ip6.payload_len) - hbh_len);

		if ((void *)(hdr + 1) <= pkt_end(skb)) {
			hdr->nexthdr = hbh_next;
			hdr->payload_len = plen;
		} else if (bpf_skb_store_bytes(skb, L3_OFF + offsetof(struct ipv6hdr, nexthdr), &hbh_next, 1, 0) ||
			   bpf_skb_store_bytes(skb, L3_OFF + offsetof(struct ipv6hdr, payload_len), &plen, 2, 0)) {
			return TC_ACT_SHOT;
		}
		if (bpf_skb_adjust_room(skb, -(__s32)hbh_len, BPF_ADJ_ROOM_NET, 0))
			return TC_ACT_SHOT;
	}
	ioam_stat(IOAM_ST_DECAP);
	return ioam_next(skb, DP_TAIL_UNDERLAY);
malformed:
	ioam_stat(IOAM_ST_MALFORMED);
	return TC_ACT_SHOT;
}
