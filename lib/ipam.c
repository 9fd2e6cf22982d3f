/* IP address management: node blocks and endpoint addresses inside them (pure). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ipam.h"

int ipam_pools_check(const struct ipam_pools *p, const char **why)
{
	struct cidr n4 = p->cluster4, n6 = p->cluster6;

	if (p->cluster4.addr.family != AF_INET)
		return *why = "cluster-ipv4 must be an IPv4 CIDR", -EINVAL;
	if (p->cluster6.addr.family != AF_INET6)
		return *why = "cluster-ipv6 must be an IPv6 CIDR", -EINVAL;
	cidr_normalize(&n4);
	cidr_normalize(&n6);
	if (!ip_equal(&n4.addr, &p->cluster4.addr))
		return *why = "cluster-ipv4 has host bits set (e.g. use 10.244.0.0/16)", -EINVAL;
	if (!ip_equal(&n6.addr, &p->cluster6.addr))
		return *why = "cluster-ipv6 has host bits set (e.g. use fd00:244::/48)", -EINVAL;
	if (p->block4_len <= p->cluster4.prefixlen)
		return *why = "block-ipv4-len must be longer than the cluster-ipv4 prefix", -EINVAL;
	if (p->block4_len > 30)
		return *why = "block-ipv4-len must be at most 30 (a block needs room for endpoints)", -EINVAL;
	if (p->block6_len <= p->cluster6.prefixlen)
		return *why = "block-ipv6-len must be longer than the cluster-ipv6 prefix", -EINVAL;
	if (p->block6_len > 126)
		return *why = "block-ipv6-len must be at most 126", -EINVAL;
	if (128 - p->block6_len < 32 - p->block4_len)
		return *why = "IPv6 blocks must hold at least as many addresses as IPv4 blocks", -EINVAL;
	return 0;
}

uint64_t ipam_block_count(const struct ipam_pools *p)
{
	uint64_t c4 = cidr_count(&p->cluster4, p->block4_len);
	uint64_t c6 = cidr_count(&p->cluster6, p->block6_len);

	return c4 < c6 ? c4 : c6;
}

uint64_t ipam_hosts_per_block(const struct ipam_pools *p)
{
	/* 2^(32-len) addresses minus network, gateway-convention .1 and broadcast. */
	return ((uint64_t)1 << (32 - p->block4_len)) - 3;
}

int ipam_block(const struct ipam_pools *p, uint64_t index, struct cidr *b4, struct cidr *b6)
{
	if (index >= ipam_block_count(p))
		return -ERANGE;
	if (cidr_subnet(&p->cluster4, p->block4_len, index, b4) ||
	    cidr_subnet(&p->cluster6, p->block6_len, index, b6))
		return -ERANGE;
	return 0;
}

int ipam_host(const struct ipam_pools *p, uint64_t index, uint64_t host,
	      struct ip_addr *a4, struct ip_addr *a6)
{
	struct cidr b4, b6;

	if (host < 2 || host >= 2 + ipam_hosts_per_block(p))
		return -ERANGE;
	if (ipam_block(p, index, &b4, &b6))
		return -ERANGE;
	if (cidr_host(&b4, host, a4) || cidr_host(&b6, host, a6))
		return -ERANGE;
	return 0;
}

int ipam_next_free(const struct ipam_pools *p, const uint64_t *used, size_t n_used, uint64_t *host)
{
	uint64_t n = ipam_hosts_per_block(p);
	uint8_t *taken = calloc(n, 1);

	if (!taken)
		return -ENOMEM;
	for (size_t i = 0; i < n_used; i++)
		if (used[i] >= 2 && used[i] < 2 + n)
			taken[used[i] - 2] = 1;
	for (uint64_t i = 0; i < n; i++) {
		if (!taken[i]) {
			free(taken);
			*host = i + 2;
			return 0;
		}
	}
	free(taken);
	return -ENOSPC;
}
