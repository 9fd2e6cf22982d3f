/* nftables rules owned by petrel (table "inet petrel", via libnftables): masquerade for
 * traffic leaving the cluster, and DNAT for published ports. Acts on the current netns. */
#pragma once
#include <stdint.h>
#include "cidr.h"

struct nft_publish {
	uint8_t proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t host_port;            /* on the node's underlay addresses */
	struct ip_addr ep4, ep6;       /* endpoint addresses (family 0 = absent) */
	uint16_t port;                 /* endpoint port */
};

/* (Re)create the table idempotently: masquerade of cluster sources leaving through
 * underlay_dev towards non-cluster destinations, and empty publish maps for node4/node6.
 * Existing publish map elements are kept across a re-init (agent restart). */
int nft_init(const struct cidr *cluster4, const struct cidr *cluster6,
	     const char *underlay_dev, const struct ip_addr *node4, const struct ip_addr *node6);
/* Add or replace the DNAT mapping for (proto, host_port). -EBUSY if held by another endpoint
 * address (caller checks ownership first, this is a last guard). */
int nft_publish_add(const struct nft_publish *p);
int nft_publish_del(uint8_t proto, uint16_t host_port);     /* 0 if absent */
/* Remove the whole table. */
int nft_fini(void);
