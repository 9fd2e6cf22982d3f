/* IP address management: per-node blocks carved out of the cluster CIDRs, and
 * endpoint addresses inside a block. Pure logic; persistence is the caller's. */
#pragma once
#include "cidr.h"

struct ipam_pools {
	struct cidr cluster4, cluster6;   /* e.g. 10.244.0.0/16, fd00:244::/48 */
	uint8_t block4_len, block6_len;   /* e.g. 24 and 64: block i = i-th subnet of each */
};

/* Validate pools: families, normalized prefixes, block lengths inside cluster, at least one block.
 * On error, *why gets a static message naming the problem. */
int ipam_pools_check(const struct ipam_pools *p, const char **why);
/* How many blocks (min over both families) and hosts per block (usable host indexes 2..n+1). */
uint64_t ipam_block_count(const struct ipam_pools *p);
uint64_t ipam_hosts_per_block(const struct ipam_pools *p);
/* Block number `index` in both families. */
int ipam_block(const struct ipam_pools *p, uint64_t index, struct cidr *b4, struct cidr *b6);
/* Endpoint address pair for host index `host` (>= 2; .1 is reserved for the gateway
 * convention and .0 for the network) inside block `index`. */
int ipam_host(const struct ipam_pools *p, uint64_t index, uint64_t host,
	      struct ip_addr *a4, struct ip_addr *a6);
/* Lowest free host index given a sorted-or-not array of used ones; -ENOSPC when full. */
int ipam_next_free(const struct ipam_pools *p, const uint64_t *used, size_t n_used, uint64_t *host);
