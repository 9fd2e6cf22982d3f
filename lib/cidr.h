/* IP addresses and prefixes for both families: pure parsing and arithmetic. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

struct ip_addr {
	int family;                 /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	};
};

struct cidr {
	struct ip_addr addr;
	uint8_t prefixlen;
};

#define IP_STRLEN   46  /* INET6_ADDRSTRLEN */
#define CIDR_STRLEN 50

int ip_parse(const char *s, struct ip_addr *out);            /* -EINVAL on junk */
int cidr_parse(const char *s, struct cidr *out);             /* "a/len"; bare address = host prefix */
const char *ip_str(const struct ip_addr *a, char buf[IP_STRLEN]);
const char *cidr_str(const struct cidr *c, char buf[CIDR_STRLEN]);
bool ip_equal(const struct ip_addr *a, const struct ip_addr *b);
bool cidr_contains(const struct cidr *c, const struct ip_addr *a);
bool cidr_overlaps(const struct cidr *a, const struct cidr *b);
/* Zero host bits; returns -EINVAL when prefixlen is out of range for the family. */
int cidr_normalize(struct cidr *c);
/* Sub-prefix number `index` of length sublen inside c; -ERANGE if it does not fit. */
int cidr_subnet(const struct cidr *c, uint8_t sublen, uint64_t index, struct cidr *out);
/* Address c.addr + offset (host part); -ERANGE if outside c. */
int cidr_host(const struct cidr *c, uint64_t offset, struct ip_addr *out);
/* Number of sub-prefixes of length sublen in c (saturating at UINT64_MAX). */
uint64_t cidr_count(const struct cidr *c, uint8_t sublen);
