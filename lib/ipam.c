/* IP address management: node blocks and endpoint addresses inside them (pure). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ipam.h"

/* ipam_pools_check's message names the values, so it is formatted into per-thread static
 * storage: the caller gets a string it need not free, as with strerror. */
static __thread char why_buf[160];

static int fail(const char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	if (why)
		*why = why_buf;
	return -EINVAL;
}

static int check_family(const struct cidr *c, const char *key, int family, uint8_t block_len,
			const char *block_key, int max_len, const char **why)
{
	char buf[CIDR_STRLEN];
	struct cidr n = *c;

	if (c->addr.family != family)
		return fail(why, "%s must be an IPv%c CIDR", key, family == AF_INET ? '4' : '6');
	if (cidr_normalize(&n))
		return fail(why, "%s has an invalid prefix length", key);
	if (!ip_equal(&n.addr, &c->addr))
		return fail(why, "%s %s has host bits set (use %s)", key, cidr_str(c, buf),
			    cidr_str(&n, (char[CIDR_STRLEN]){ 0 }));
	if (block_len <= c->prefixlen)
		return fail(why, "%s %s: %s %u is %s the cluster prefix", key, cidr_str(c, buf),
			    block_key, block_len,
			    block_len < c->prefixlen ? "shorter than" : "not longer than");
	if (block_len > max_len)
		return fail(why, "%s %u is longer than %d (a block needs room for endpoints)",
			    block_key, block_len, max_len);
	return 0;
}

int ipam_pools_check(const struct ipam_pools *p, const char **why)
{
	int ret;

	ret = check_family(&p->cluster4, "cluster-ipv4", AF_INET, p->block4_len, "block-ipv4-len", 30, why);
	if (!ret)
		ret = check_family(&p->cluster6, "cluster-ipv6", AF_INET6, p->block6_len, "block-ipv6-len",
				   120, why);
	if (ret)
		return ret;
	/* An endpoint's IPv6 address reuses its IPv4 host index (10.244.3.5 <-> fd00:244:0:3::5),
	 * so an IPv6 block must be at least as big as an IPv4 one. With the limits above
	 * (v4 /30 at most, v6 /120 at most) this only fails for very short IPv4 blocks. */
	if (128 - p->block6_len < 32 - p->block4_len)
		return fail(why, "block-ipv6-len %u holds fewer addresses than block-ipv4-len %u",
			    p->block6_len, p->block4_len);
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
	/* 2^(32-len) addresses minus network .0, gateway-convention .1 and broadcast. */
	if (p->block4_len > 30)
		return 0;
	return ((uint64_t)1 << (32 - p->block4_len)) - 3;
}

int ipam_block(const struct ipam_pools *p, uint64_t index, struct cidr *b4, struct cidr *b6)
{
	struct cidr r4, r6;

	if (index >= ipam_block_count(p))
		return -ERANGE;
	if (cidr_subnet(&p->cluster4, p->block4_len, index, &r4) ||
	    cidr_subnet(&p->cluster6, p->block6_len, index, &r6))
		return -ERANGE;
	*b4 = r4;
	*b6 = r6;
	return 0;
}

int ipam_host(const struct ipam_pools *p, uint64_t index, uint64_t host,
	      struct ip_addr *a4, struct ip_addr *a6)
{
	struct ip_addr r4, r6;
	struct cidr b4, b6;

	if (host < 2 || host >= 2 + ipam_hosts_per_block(p))
		return -ERANGE;
	if (ipam_block(p, index, &b4, &b6))
		return -ERANGE;
	if (cidr_host(&b4, host, &r4) || cidr_host(&b6, host, &r6))
		return -ERANGE;
	*a4 = r4;
	*a6 = r6;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int ipam_next_free(const struct ipam_pools *p, const uint64_t *used, size_t n_used, uint64_t *host)
{
	uint64_t last = 1 + ipam_hosts_per_block(p), want = 2;
	uint64_t *sorted = NULL;

	/* Sort a copy and walk it: memory follows the endpoints, not the block size. */
	if (n_used) {
		sorted = malloc(n_used * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, used, n_used * sizeof(*sorted));
		qsort(sorted, n_used, sizeof(*sorted), cmp_u64);
	}
	for (size_t i = 0; i < n_used && want <= last; i++) {
		if (sorted[i] == want)
			want++;
		else if (sorted[i] > want)
			break;
	}
	free(sorted);
	if (want > last)
		return -ENOSPC;
	*host = want;
	return 0;
}
