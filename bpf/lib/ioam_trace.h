/* IOAM pre-allocated trace options (RFC 9197): this node's data, built in RFC order and
 * written into a packet's trace, and the visit of an arriving trace option. */
#pragma once
#include "common.h"
#include "ioam_hbh.h"
#include "ioam_prog_maps.h"

/* ioam.bpf.c sets FILL_DATA 0 for bench/ioam-parts.sh's builds alone. */
#ifndef FILL_DATA
#define FILL_DATA 1
#endif

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
