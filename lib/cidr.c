/* IPv4/IPv6 addresses and prefixes: strict parsing and 128-bit prefix arithmetic (pure). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cidr.h"

static int addr_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static int addr_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

int ip_parse(const char *s, struct ip_addr *out)
{
	struct ip_addr a;

	memset(&a, 0, sizeof(a));
	if (!s || !*s || strlen(s) >= IP_STRLEN)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.v6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*out = a;
	return 0;
}

int cidr_parse(const char *s, struct cidr *out)
{
	char buf[CIDR_STRLEN], *slash, *end;
	struct cidr c;
	long len;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (ip_parse(buf, &c.addr))
		return -EINVAL;
	if (!slash) {
		c.prefixlen = (uint8_t)addr_bits(c.addr.family);
	} else {
		if (!isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 3)
			return -EINVAL;
		len = strtol(slash + 1, &end, 10);
		if (*end || len < 0 || len > addr_bits(c.addr.family))
			return -EINVAL;
		c.prefixlen = (uint8_t)len;
	}
	*out = c;
	return 0;
}

const char *ip_str(const struct ip_addr *a, char buf[IP_STRLEN])
{
	if (!a->family || !inet_ntop(a->family, a->bytes, buf, IP_STRLEN))
		snprintf(buf, IP_STRLEN, "?");
	return buf;
}

const char *cidr_str(const struct cidr *c, char buf[CIDR_STRLEN])
{
	char ip[IP_STRLEN];

	snprintf(buf, CIDR_STRLEN, "%s/%u", ip_str(&c->addr, ip), c->prefixlen);
	return buf;
}

bool ip_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return a->family == b->family && a->family &&
	       memcmp(a->bytes, b->bytes, (size_t)addr_bytes(a->family)) == 0;
}

/* Do the first `bits` bits of x and y agree? */
static bool prefix_equal(const uint8_t *x, const uint8_t *y, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(x, y, (size_t)full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		return (x[full] & mask) == (y[full] & mask);
	}
	return true;
}

bool cidr_contains(const struct cidr *c, const struct ip_addr *a)
{
	return c->addr.family == a->family && a->family &&
	       prefix_equal(c->addr.bytes, a->bytes, c->prefixlen);
}

bool cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	int bits = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen;

	return a->addr.family == b->addr.family && a->addr.family &&
	       prefix_equal(a->addr.bytes, b->addr.bytes, bits);
}

int cidr_normalize(struct cidr *c)
{
	int nbytes, bits;

	if (c->addr.family != AF_INET && c->addr.family != AF_INET6)
		return -EINVAL;
	bits = addr_bits(c->addr.family);
	if (c->prefixlen > bits)
		return -EINVAL;
	nbytes = addr_bytes(c->addr.family);
	for (int i = 0; i < nbytes; i++) {
		int keep = c->prefixlen - i * 8;
		if (keep >= 8)
			continue;
		c->addr.bytes[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	return 0;
}

/* Add v << shift to the big-endian byte array; -ERANGE on overflow out of the top. */
static int add_shifted(uint8_t *bytes, int nbytes, uint64_t v, int shift)
{
	int byte = nbytes - 1 - shift / 8, bit = shift % 8;
	unsigned __int128 carry = (unsigned __int128)v << bit;

	for (int i = byte; i >= 0 && carry; i--) {
		carry += bytes[i];
		bytes[i] = (uint8_t)carry;
		carry >>= 8;
	}
	return carry ? -ERANGE : 0;
}

uint64_t cidr_count(const struct cidr *c, uint8_t sublen)
{
	int diff = sublen - c->prefixlen;

	if (sublen < c->prefixlen || sublen > addr_bits(c->addr.family))
		return 0;
	return diff >= 64 ? UINT64_MAX : (uint64_t)1 << diff;
}

int cidr_subnet(const struct cidr *c, uint8_t sublen, uint64_t index, struct cidr *out)
{
	struct cidr r = *c;
	int bits = addr_bits(c->addr.family);

	if (!c->addr.family || sublen < c->prefixlen || sublen > bits)
		return -ERANGE;
	if (sublen - c->prefixlen < 64 && index >= cidr_count(c, sublen))
		return -ERANGE;
	cidr_normalize(&r);
	if (add_shifted(r.addr.bytes, addr_bytes(r.addr.family), index, bits - sublen))
		return -ERANGE;
	r.prefixlen = sublen;
	*out = r;
	return 0;
}

int cidr_host(const struct cidr *c, uint64_t offset, struct ip_addr *out)
{
	struct cidr r = *c;
	int hostbits = addr_bits(c->addr.family) - c->prefixlen;

	if (!c->addr.family)
		return -ERANGE;
	if (hostbits < 64 && offset >= ((uint64_t)1 << hostbits))
		return -ERANGE;
	cidr_normalize(&r);
	if (add_shifted(r.addr.bytes, addr_bytes(r.addr.family), offset, 0))
		return -ERANGE;
	*out = r.addr;
	return 0;
}
