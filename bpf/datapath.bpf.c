/* petrel's TC programs: thin entry points over bpf/lib/. from_container runs on the host
 * side of every endpoint veth, from_underlay on the node's underlay device (native mode),
 * from_overlay on the VXLAN device (vxlan mode), to_container counts host-stack delivery. */
#include "lib/common.h"
#include "lib/forward.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct ep_info *src;
	struct pkt p;

	if (parse(skb, &p))
		return drop(DROP_PARSE);
	count(skb->ifindex, skb->len, false);
	if (!p.family)
		return TC_ACT_OK;
	src = endpoint_at(p.family, p.src);
	if (!src) {
		/* A container frozen for migration: its kernel still retransmits, with a TCP
		 * clock the restored copy does not share. Not one of those may get out. */
		struct loc_info *loc = location_of(p.family, p.src);

		if (loc && (loc->flags & LOC_FROZEN))
			return drop(DROP_MIGRATING);
	}
	return forward(skb, &p, src, src ? src->identity : ipcache_identity(p.family, p.src));
}

/* Natively routed packets from other nodes: the sender's identity comes from the ipcache.
 * IPv6 packets with a Hop-by-Hop header go to IOAM (transit or decap) first, which hands
 * them back to this program, marked done. */
SEC("tc")
int from_underlay(struct __sk_buff *skb)
{
	bool ioam_done = skb->cb[0] == DP_CB_IOAM_DONE;
	struct pkt p;

	if (ioam_done)
		skb->cb[0] = 0;
	if (parse(skb, &p))
		return drop(DROP_PARSE);
	if (!p.family)
		return TC_ACT_OK;
	if (ioam_done) {
		/* IOAM looked the destination up already: no second look-up */
		__u32 zero = 0;
		struct dp_handback *hb = bpf_map_lookup_elem(&dp_handback, &zero);

		if (hb && hb->valid) {
			hb->valid = 0;
			return forward_to(skb, &p, NULL, ipcache_identity(p.family, p.src),
					  hb->local ? &hb->ep : NULL);
		}
	} else if (p.family == AF_INET6 && p.proto == NEXTHDR_HOP) {
		skb->cb[0] = DP_CB_IOAM_CALL;
		bpf_tail_call(skb, &dp_tail, DP_TAIL_IOAM_INGRESS);
		skb->cb[0] = 0;          /* no IOAM on this node: forward as it is */
	}
	return forward(skb, &p, NULL, ipcache_identity(p.family, p.src));
}

/* Decapsulated packets: the sending node put the sender's identity in the tunnel key. */
SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};
	struct pkt p;
	__u32 identity;
	int ret;

	if (parse(skb, &p))
		return drop(DROP_PARSE);
	if (!p.family)
		return TC_ACT_OK;
	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) == 0 && key.tunnel_id)
		identity = key.tunnel_id;
	else
		identity = ipcache_identity(p.family, p.src);
	ret = forward(skb, &p, NULL, identity);
	/* What goes on to this node's stack (replies of published-port flows whose endpoint
	 * moved away, held packets) carries another node's inner MACs: make it ours. */
	if (ret == TC_ACT_OK)
		bpf_skb_change_type(skb, 0 /* PACKET_HOST */);
	return ret;
}

/* Packets the node's own stack routes into the overlay (VXLAN device egress). Ours already
 * carry a tunnel key (marked MARK_KEYED); the stack's own, such as published-port flows still arriving at a
 * node their endpoint has left, get the key of the endpoint's current node here. */
SEC("tc")
int to_overlay_stack(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};
	struct loc_info *loc;
	struct dp_cfg *cfg;
	struct pkt p;
	__u32 zero = 0;

	if (skb->mark & MARK_KEYED) {
		skb->mark &= ~MARK_KEYED;
		return TC_ACT_OK;
	}
	if (parse(skb, &p) || !p.family)
		return drop(DROP_PARSE);
	cfg = bpf_map_lookup_elem(&dp_config, &zero);
	loc = location(&p);
	if (!cfg || !loc || (loc->flags & LOC_SELF))
		return drop(DROP_NO_LOCATION);
	__builtin_memset(&key, 0, sizeof(key));
	key.remote_ipv4 = bpf_ntohl(*(__u32 *)loc->node4);
	key.tunnel_id = ipcache_identity(p.family, p.src);
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX))
		return drop(DROP_TUNNEL);
	return TC_ACT_OK;
}

/* Packets the host stack delivers (published ports after DNAT): counted, and subject to
 * the endpoint's ingress policy with the client's identity (usually world). */
SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct ct_plan plan = {};
	struct ep_info *ep;
	struct pkt p;

	count(skb->ifindex, skb->len, true);
	if (parse(skb, &p) || !p.family)
		return TC_ACT_OK;
	ep = endpoint_at(p.family, p.dst);
	if (ep && !policy_allows(&p, ep, POLICY_INGRESS, ipcache_identity(p.family, p.src), &plan))
		return drop(DROP_POLICY);
	ct_commit(&p, &plan);
	return TC_ACT_OK;
}
