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

#include "lib/endpoints_map.h"     /* the datapath's maps, shared through their pins */
#include "lib/ioam_maps.h"
#include "lib/tail_map.h"

#include "lib/ioam_prog_maps.h"
#include "lib/ioam_hbh.h"
#include "lib/ioam_trace.h"

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

/* ------------------------------------------------------------------ encap (egress) */

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
