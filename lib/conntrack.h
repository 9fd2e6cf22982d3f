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

/* Size the kernel's conntrack hash (net.netfilter.nf_conntrack_buckets, host-wide, writable
 * from the initial network namespace only). Every conntrack dump walks all buckets, and
 * CRIU dumps a migrating container's namespace's entries twice inside the freeze: with the
 * default 262144 buckets on a 24 GiB machine that is about 20 ms. *old gets the size before.
 * Returns 0 or -errno. */
int ct_set_buckets(unsigned int buckets, unsigned int *old);
