/* Packet parsing: Ethernet, then IPv4 or IPv6 addresses and the L4 protocol. */
#pragma once
#include "common.h"

struct pkt {
	__u32 family;              /* AF_INET, AF_INET6, or 0 for non-IP */
	__u8 src[16], dst[16];
	__u8 proto;
	__u16 sport, dport;        /* network order; 0 for protocols without ports */
	__u32 len;
};

struct l4ports {
	__u16 source, dest;
};

/* 0 on success (family 0 for non-IP frames), -1 for a truncated or malformed IP packet. */
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	void *l4 = NULL;

	__builtin_memset(p, 0, sizeof(*p));
	p->len = skb->len;
	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl < 5 || ip->version != 4 ||
		    (void *)ip + ip->ihl * 4 > end)
			return -1;
		p->family = AF_INET;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		p->proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return -1;
		p->family = AF_INET6;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		p->proto = ip6->nexthdr;
		l4 = (void *)(ip6 + 1);
	}
	/* Ports, for policy and connection tracking; fragments past the first carry none. */
	if (l4 && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP)) {
		struct l4ports *ports = l4;

		if ((void *)(ports + 1) > end)
			return -1;
		p->sport = ports->source;
		p->dport = ports->dest;
	}
	return 0;
}
