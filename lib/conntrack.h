/* The node's conntrack table (libnetfilter_conntrack), read for one purpose: the flows
 * that reached an endpoint through a published port of this node (DNAT), which must keep
 * entering and leaving through this node after the endpoint migrates away. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "cidr.h"

struct ct_flow {
	uint8_t proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
	struct ip_addr peer;           /* the client */
	uint16_t peer_port;            /* host order */
	struct ip_addr ep;             /* the endpoint (DNAT target) */
	uint16_t ep_port;
};

/* Every DNATed TCP/UDP flow of the current netns whose target is ep4 or ep6. */
int ct_dnat_flows(const struct ip_addr *ep4, const struct ip_addr *ep6, struct ct_flow **out,
		  size_t *n);
