/* Forwarding decisions: local delivery with bpf_redirect_peer, or towards the node that
 * owns the destination, through the VXLAN overlay or by native routing. */
#pragma once
#include "common.h"
#include "maps.h"
#include "metrics.h"
#include "parse.h"
#include "policy_match.h"

static __always_inline struct ep_info *endpoint_at(__u32 family, const __u8 *addr)
{
	struct ep_key k = { .family = family };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&endpoints, &k);
}

static __always_inline bool prefix_match(const __u8 *a, const __u8 *prefix, __u32 len, __u32 max)
{
	for (__u32 i = 0; i < max; i++) {
		__u32 bits = i * 8;
		__u8 mask;

		if (bits >= len)
			return true;
		mask = len - bits >= 8 ? 0xff : (__u8)(0xff << (8 - (len - bits)));
		if ((a[i] & mask) != (prefix[i] & mask))
			return false;
	}
	return true;
}

static __always_inline bool in_cluster(const struct dp_cfg *cfg, const struct pkt *p)
{
	if (p->family == AF_INET)
		return prefix_match(p->dst, cfg->cluster4, cfg->cluster4_len, 4);
	return prefix_match(p->dst, cfg->cluster6, cfg->cluster6_len, 16);
}

static __always_inline struct loc_info *location_of(__u32 family, const __u8 *addr)
{
	if (family == AF_INET) {
		struct loc4_key k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, addr, 4);
		return bpf_map_lookup_elem(&locations4, &k);
	}
	struct loc6_key k6 = { .prefixlen = 128 };
	__builtin_memcpy(k6.addr, addr, 16);
	return bpf_map_lookup_elem(&locations6, &k6);
}

static __always_inline struct loc_info *location(const struct pkt *p)
{
	return location_of(p->family, p->dst);
}

static __always_inline int deliver_local(struct __sk_buff *skb, const struct ep_info *ep)
{
	/* The container sees frames from its gateway (the host side) to itself. */
	if (bpf_skb_store_bytes(skb, 0, ep->mac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, ep->host_mac, ETH_ALEN, 0))
		return drop(DROP_PARSE);
	count(ep->ifindex, skb->len, true);
	return bpf_redirect_peer(ep->ifindex, 0);
}

/* The tunnel key carries the source's identity, so the receiving node needs no lookup. */
static __always_inline int to_overlay(struct __sk_buff *skb, const struct dp_cfg *cfg,
				      const struct loc_info *loc, __u32 src_identity)
{
	struct bpf_tunnel_key key = {};

	key.remote_ipv4 = bpf_ntohl(*(__u32 *)loc->node4);
	key.tunnel_id = src_identity;
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX))
		return drop(DROP_TUNNEL);
	skb->mark |= MARK_KEYED;     /* the overlay's egress program leaves it alone */
	return bpf_redirect(cfg->vxlan_ifindex, 0);
}

/* The redirect to_native decided. A local endpoint's packet that an IOAM encap rule
 * samples goes through the IOAM encap first (a tail call; the encap sends it on with the
 * decision kept in dp_xmit); if the slot is empty it leaves without IOAM. mtu is the
 * egress device's as the FIB reported it, 0 when it did not. */
static __always_inline int xmit(struct __sk_buff *skb, struct ioam_encap *ioam, __u32 ifindex,
				__u32 mtu, struct bpf_redir_neigh *nh)
{
	if (ioam) {
		__u32 zero = 0;
		struct dp_xmit *x = bpf_map_lookup_elem(&dp_xmit, &zero);

		if (x) {
			x->ifindex = ifindex;
			x->neigh = nh != NULL;
			if (nh)
				x->nh = *nh;
			x->slot = ioam->slot;
			x->mtu = mtu;
			skb->cb[0] = DP_CB_IOAM_CALL;
			bpf_tail_call(skb, &dp_tail, DP_TAIL_IOAM_ENCAP);
			skb->cb[0] = 0;
		}
	}
	return xmit_redirect(ifindex, nh);
}

/* Whether IOAM encap wants this packet of a local endpoint (src): the rule for its
 * destination and its sampling, decided here so that unsampled packets cost no tail call. */
static __always_inline struct ioam_encap *ioam_encap_wanted(const struct pkt *p,
							    const struct ep_info *src)
{
	__u32 zero = 0, *flags;

	if (!src || p->family != AF_INET6)
		return NULL;
	flags = bpf_map_lookup_elem(&ioam_flags, &zero);
	if (!flags || !(*flags & IOAM_F_ENCAP))
		return NULL;
	return ioam_encap_sampled(p->dst);
}

static __always_inline int to_native(struct __sk_buff *skb, const struct pkt *p,
				     const struct loc_info *loc, const struct ep_info *src)
{
	struct ioam_encap *ioam = ioam_encap_wanted(p, src);
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	long ret;

	fib.ifindex = skb->ifindex;
	if (p->family == AF_INET) {
		fib.family = AF_INET;
		__builtin_memcpy(&fib.ipv4_dst, loc->node4, 4);
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, loc->node6, 16);
	}
	ret = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (ret == BPF_FIB_LKUP_RET_SUCCESS) {
		if (bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
		    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0))
			return drop(DROP_PARSE);
		/* With no tot_len given, a successful look-up reports the device's MTU. */
		return xmit(skb, ioam, fib.ifindex, fib.mtu_result, NULL);
	}
	if (ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return drop(DROP_FIB);
	/* The kernel resolves the next hop's MAC and sends the packet on. The FIB left the
	 * next hop in the destination field: the node itself, or a router on the way. */
	nh.nh_family = fib.family;
	if (p->family == AF_INET)
		nh.ipv4_nh = fib.ipv4_dst;
	else
		__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
	return xmit(skb, ioam, fib.ifindex, 0, &nh);
}

/* Replies of a flow that came in through another node's published port (see
 * struct return_key); NULL for every other packet. */
static __always_inline struct loc_info *return_route(const struct pkt *p)
{
	struct return_key k = { .family = p->family, .proto = p->proto,
				.ep_port = p->sport, .peer_port = p->dport };

	__builtin_memcpy(k.ep_addr, p->src, 16);
	__builtin_memcpy(k.peer_addr, p->dst, 16);
	return bpf_map_lookup_elem(&return_flows, &k);
}

/* Everything after parsing an IP packet (p->family set): local endpoint, remote node, or
 * the host stack. src is the sending endpoint when it is local (its egress policy applies),
 * src_identity the sender's identity (from the tunnel key, the ipcache, or src), ep the
 * destination endpoint when it is local. */
static __always_inline int forward_to(struct __sk_buff *skb, const struct pkt *p,
				      const struct ep_info *src, __u32 src_identity,
				      const struct ep_info *ep)
{
	struct ct_plan plan = {};
	struct loc_info *loc;
	struct dp_cfg *cfg;
	__u32 zero = 0;

	if (src && !policy_allows(p, src, POLICY_EGRESS,
				  ep ? ep->identity : ipcache_identity(p->family, p->dst), &plan))
		return drop(DROP_POLICY);
	if (ep) {
		if (!policy_allows(p, ep, POLICY_INGRESS, src_identity, &plan))
			return drop(DROP_POLICY);
		ct_commit(p, &plan);
		return deliver_local(skb, ep);
	}
	ct_commit(p, &plan);
	cfg = bpf_map_lookup_elem(&dp_config, &zero);
	if (!cfg)
		return drop(DROP_NO_CONFIG);
	if (!in_cluster(cfg, p)) {
		if ((loc = return_route(p)))
			return cfg->mode == DP_MODE_VXLAN ? to_overlay(skb, cfg, loc, src_identity) :
							    to_native(skb, p, loc, src);
		return TC_ACT_OK;     /* outside world: the host routes and masquerades */
	}
	loc = location(p);
	if (!loc)
		return drop(DROP_NO_LOCATION);
	if (loc->flags & LOC_HOST)
		return TC_ACT_OK;     /* held by a migration (from_overlay marks it ours) */
	if (loc->flags & LOC_SELF)
		return drop(DROP_NO_ENDPOINT);
	if (cfg->mode == DP_MODE_VXLAN)
		return to_overlay(skb, cfg, loc, src_identity);
	return to_native(skb, p, loc, src);
}

/* forward_to, with the destination endpoint (ep, NULL when not local) looked up here. */
static __always_inline int forward(struct __sk_buff *skb, const struct pkt *p,
				   const struct ep_info *src, __u32 src_identity)
{
	if (!p->family)
		return TC_ACT_OK;
	return forward_to(skb, p, src, src_identity, endpoint_at(p->family, p->dst));
}
