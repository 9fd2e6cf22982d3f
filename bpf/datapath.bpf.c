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
	return forward(skb, &p, src, src ? src->identity : ipcache_identity(p.family, p.src));
}

/* Natively routed packets from other nodes: the sender's identity comes from the ipcache. */
SEC("tc")
int from_underlay(struct __sk_buff *skb)
{
	struct pkt p;

	if (parse(skb, &p))
		return drop(DROP_PARSE);
	if (!p.family)
		return TC_ACT_OK;
	return forward(skb, &p, NULL, ipcache_identity(p.family, p.src));
}

/* Decapsulated packets: the sending node put the sender's identity in the tunnel key. */
SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};
	struct pkt p;
	__u32 identity;

	if (parse(skb, &p))
		return drop(DROP_PARSE);
	if (!p.family)
		return TC_ACT_OK;
	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) == 0 && key.tunnel_id)
		identity = key.tunnel_id;
	else
		identity = ipcache_identity(p.family, p.src);
	return forward(skb, &p, NULL, identity);
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
