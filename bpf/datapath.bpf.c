/* petrel's TC programs: thin entry points over bpf/lib/. from_container runs on the host
 * side of every endpoint veth, from_underlay on the node's underlay device (native mode),
 * from_overlay on the VXLAN device (vxlan mode), to_container counts host-stack delivery. */
#include "lib/common.h"
#include "lib/forward.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct pkt p;

	if (parse(skb, &p))
		return drop(DROP_PARSE);
	count(skb->ifindex, skb->len, false);
	return forward(skb, &p);
}

/* Packets arriving from other nodes, natively routed or decapsulated. */
static __always_inline int from_network(struct __sk_buff *skb)
{
	struct pkt p;

	if (parse(skb, &p))
		return drop(DROP_PARSE);
	return forward(skb, &p);
}

SEC("tc")
int from_underlay(struct __sk_buff *skb)
{
	return from_network(skb);
}

SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	return from_network(skb);
}

SEC("tc")
int to_container(struct __sk_buff *skb)
{
	count(skb->ifindex, skb->len, true);
	return TC_ACT_OK;
}
