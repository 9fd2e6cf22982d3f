/* The node's conntrack table (libnetfilter_conntrack), read for one purpose: the flows this
 * node translates for an endpoint, which must keep passing through this node after the
 * endpoint migrates away. Two kinds: a client's flow that came in through a published port
 * (DNAT to the endpoint), and the endpoint's own connection out of the cluster
 * (masqueraded, SNAT). Either way the translation lives only in this node's conntrack. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cidr.h"

enum ct_nat { CT_DNAT = 1, CT_SNAT = 2 };

struct ct_flow {
	uint8_t proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
	enum ct_nat nat;
	struct ip_addr peer;           /* the client (DNAT), the outside server (SNAT) */
	uint16_t peer_port;            /* host order */
	struct ip_addr ep;             /* the endpoint's own address */
	uint16_t ep_port;
	uint32_t timeout;              /* seconds conntrack keeps it without traffic */
};

/* Whether flows of endpoint address ep are wanted. */
typedef bool (*ct_want_fn)(const struct ip_addr *ep, void *arg);

/* Every translated TCP/UDP flow of the current netns whose endpoint want() accepts. */
int ct_nat_flows(ct_want_fn want, void *arg, struct ct_flow **out, size_t *n);
/* ct_nat_flows for the two addresses of one endpoint (a family 0 address: none). */
int ct_endpoint_flows(const struct ip_addr *ep4, const struct ip_addr *ep6, struct ct_flow **out,
		      size_t *n);
/* Whether two flows are the same (protocol, addresses and ports). */
bool ct_flow_same(const struct ct_flow *a, const struct ct_flow *b);

/* Size the kernel's conntrack hash (net.netfilter.nf_conntrack_buckets, host-wide, writable
 * from the initial network namespace only). Every conntrack dump walks all buckets, and
 * CRIU dumps a migrating container's namespace's entries twice inside the freeze: with the
 * default 262144 buckets on a 24 GiB machine that is about 20 ms. *old gets the size before.
 * Returns 0 or -errno. */
int ct_set_buckets(unsigned int buckets, unsigned int *old);
