/* Unit tests for IPAM: pool checks, node blocks and paired endpoint addresses. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "harness.h"
#include "ipam.h"

static char sbuf[CIDR_STRLEN], abuf[IP_STRLEN];

static struct ipam_pools pools(const char *c4, const char *c6, uint8_t b4, uint8_t b6)
{
	struct ipam_pools p = { .block4_len = b4, .block6_len = b6 };

	cidr_parse(c4, &p.cluster4);
	cidr_parse(c6, &p.cluster6);
	return p;
}

static void expect_bad(struct ipam_pools p, const char *msg)
{
	const char *why = NULL;

	CHECK(ipam_pools_check(&p, &why) == -EINVAL);
	CHECK_STR(why, msg);
}

static void test_check(void)
{
	struct ipam_pools p = pools("10.244.0.0/16", "fd00:244::/48", 24, 64), q;
	const char *why = NULL;

	CHECK(ipam_pools_check(&p, &why) == 0);
	q = pools("10.0.0.0/8", "fd00::/8", 30, 120);
	CHECK(ipam_pools_check(&q, &why) == 0);
	q = pools("10.0.0.0/8", "fd00::/8", 9, 100);
	CHECK(ipam_pools_check(&q, &why) == 0);

	expect_bad(pools("10.244.0.0/16", "fd00:244::/48", 12, 64),
		   "cluster-ipv4 10.244.0.0/16: block-ipv4-len 12 is shorter than the cluster prefix");
	expect_bad(pools("10.244.0.0/16", "fd00:244::/48", 16, 64),
		   "cluster-ipv4 10.244.0.0/16: block-ipv4-len 16 is not longer than the cluster prefix");
	expect_bad(pools("10.244.0.0/16", "fd00:244::/48", 31, 64),
		   "block-ipv4-len 31 is longer than 30 (a block needs room for endpoints)");
	expect_bad(pools("10.244.0.0/16", "fd00:244::/48", 24, 48),
		   "cluster-ipv6 fd00:244::/48: block-ipv6-len 48 is not longer than the cluster prefix");
	expect_bad(pools("10.244.0.0/16", "fd00:244::/48", 24, 121),
		   "block-ipv6-len 121 is longer than 120 (a block needs room for endpoints)");
	expect_bad(pools("10.244.1.0/16", "fd00:244::/48", 24, 64),
		   "cluster-ipv4 10.244.1.0/16 has host bits set (use 10.244.0.0/16)");
	expect_bad(pools("10.244.0.0/16", "fd00:244::1/48", 24, 64),
		   "cluster-ipv6 fd00:244::1/48 has host bits set (use fd00:244::/48)");
	expect_bad(pools("fd00::/8", "fd00:244::/48", 24, 64), "cluster-ipv4 must be an IPv4 CIDR");
	expect_bad(pools("10.244.0.0/16", "10.0.0.0/8", 24, 64), "cluster-ipv6 must be an IPv6 CIDR");
	/* IPv4 /8 blocks have 24 host bits, IPv6 /112 only 16: addresses could not pair */
	expect_bad(pools("10.0.0.0/7", "fd00::/8", 8, 112),
		   "block-ipv6-len 112 holds fewer addresses than block-ipv4-len 8");
	memset(&q, 0, sizeof(q));
	CHECK(ipam_pools_check(&q, &why) == -EINVAL);
	CHECK(ipam_pools_check(&q, NULL) == -EINVAL);   /* why is optional */
}

static void test_blocks(void)
{
	struct ipam_pools p = pools("10.244.0.0/16", "fd00:244::/48", 24, 64);
	struct cidr b4, b6, keep;

	CHECK(ipam_block_count(&p) == 256);
	CHECK(ipam_hosts_per_block(&p) == 253);
	CHECK(ipam_block(&p, 0, &b4, &b6) == 0);
	CHECK_STR(cidr_str(&b4, sbuf), "10.244.0.0/24");
	CHECK_STR(cidr_str(&b6, sbuf), "fd00:244::/64");
	CHECK(ipam_block(&p, 7, &b4, &b6) == 0);
	CHECK_STR(cidr_str(&b4, sbuf), "10.244.7.0/24");
	CHECK_STR(cidr_str(&b6, sbuf), "fd00:244:0:7::/64");
	CHECK(ipam_block(&p, 255, &b4, &b6) == 0);
	CHECK_STR(cidr_str(&b4, sbuf), "10.244.255.0/24");
	CHECK_STR(cidr_str(&b6, sbuf), "fd00:244:0:ff::/64");
	keep = b4;
	CHECK(ipam_block(&p, 256, &b4, &b6) == -ERANGE);
	CHECK(ip_equal(&b4.addr, &keep.addr));

	/* the smaller family bounds the block count */
	p = pools("10.0.0.0/8", "fd00:244::/60", 24, 64);
	CHECK(ipam_block_count(&p) == 16);
	CHECK(ipam_block(&p, 15, &b4, &b6) == 0);
	CHECK_STR(cidr_str(&b4, sbuf), "10.0.15.0/24");
	CHECK_STR(cidr_str(&b6, sbuf), "fd00:244:0:f::/64");
	CHECK(ipam_block(&p, 16, &b4, &b6) == -ERANGE);

	p = pools("10.244.0.0/16", "fd00:244::/48", 30, 120);
	CHECK(ipam_hosts_per_block(&p) == 1);
	CHECK(ipam_block_count(&p) == 16384);
	p = pools("10.244.0.0/16", "fd00:244::/48", 17, 64);
	CHECK(ipam_hosts_per_block(&p) == 32765);
}

static void test_hosts(void)
{
	struct ipam_pools p = pools("10.244.0.0/16", "fd00:244::/48", 24, 64);
	struct ip_addr a4, a6;

	CHECK(ipam_host(&p, 3, 5, &a4, &a6) == 0);
	CHECK_STR(ip_str(&a4, abuf), "10.244.3.5");
	CHECK_STR(ip_str(&a6, abuf), "fd00:244:0:3::5");
	CHECK(ipam_host(&p, 7, 2, &a4, &a6) == 0);
	CHECK_STR(ip_str(&a4, abuf), "10.244.7.2");
	CHECK_STR(ip_str(&a6, abuf), "fd00:244:0:7::2");
	CHECK(ipam_host(&p, 7, 254, &a4, &a6) == 0);
	CHECK_STR(ip_str(&a4, abuf), "10.244.7.254");
	CHECK_STR(ip_str(&a6, abuf), "fd00:244:0:7::fe");
	CHECK(ipam_host(&p, 7, 0, &a4, &a6) == -ERANGE);     /* network */
	CHECK(ipam_host(&p, 7, 1, &a4, &a6) == -ERANGE);     /* gateway convention */
	CHECK(ipam_host(&p, 7, 255, &a4, &a6) == -ERANGE);   /* broadcast */
	CHECK(ipam_host(&p, 256, 2, &a4, &a6) == -ERANGE);
	CHECK(ipam_host(&p, 0, UINT64_MAX, &a4, &a6) == -ERANGE);

	/* a block spanning several bytes: the host index carries */
	p = pools("10.0.0.0/8", "fd00::/32", 20, 64);
	CHECK(ipam_host(&p, 1, 300, &a4, &a6) == 0);
	CHECK_STR(ip_str(&a4, abuf), "10.0.17.44");
	CHECK_STR(ip_str(&a6, abuf), "fd00:0:0:1::12c");
	CHECK(ipam_host(&p, 1, 4094, &a4, &a6) == 0);
	CHECK_STR(ip_str(&a4, abuf), "10.0.31.254");
	CHECK(ipam_host(&p, 1, 4095, &a4, &a6) == -ERANGE);

	/* smallest blocks */
	p = pools("10.244.0.0/16", "fd00:244::/48", 30, 120);
	CHECK(ipam_host(&p, 1, 2, &a4, &a6) == 0);
	CHECK_STR(ip_str(&a4, abuf), "10.244.0.6");
	CHECK_STR(ip_str(&a6, abuf), "fd00:244::102");
	CHECK(ipam_host(&p, 1, 3, &a4, &a6) == -ERANGE);
}

static void test_next_free(void)
{
	struct ipam_pools p = pools("10.244.0.0/16", "fd00:244::/48", 24, 64);
	uint64_t host = 0, used[300];

	CHECK(ipam_next_free(&p, NULL, 0, &host) == 0 && host == 2);
	used[0] = 2, used[1] = 3, used[2] = 5;
	CHECK(ipam_next_free(&p, used, 3, &host) == 0 && host == 4);
	used[0] = 5, used[1] = 3, used[2] = 2;                      /* unsorted */
	CHECK(ipam_next_free(&p, used, 3, &host) == 0 && host == 4);
	CHECK(used[0] == 5);                                        /* caller's array untouched */
	used[0] = 3, used[1] = 3, used[2] = 2, used[3] = 2;         /* duplicates */
	CHECK(ipam_next_free(&p, used, 4, &host) == 0 && host == 4);
	used[0] = 0, used[1] = 1, used[2] = 999, used[3] = 3;       /* out-of-range entries ignored */
	CHECK(ipam_next_free(&p, used, 4, &host) == 0 && host == 2);
	for (int i = 0; i < 253; i++)
		used[i] = (uint64_t)(254 - i);                      /* 2..254 all used */
	CHECK(ipam_next_free(&p, used, 253, &host) == -ENOSPC);
	used[100] = 1;                                              /* 154 freed */
	CHECK(ipam_next_free(&p, used, 253, &host) == 0 && host == 154);
	for (int i = 0; i < 252; i++)
		used[i] = (uint64_t)(2 + i);                        /* 2..253: only .254 left */
	CHECK(ipam_next_free(&p, used, 252, &host) == 0 && host == 254);

	p.block4_len = 30;
	used[0] = 2;
	CHECK(ipam_next_free(&p, used, 0, &host) == 0 && host == 2);
	CHECK(ipam_next_free(&p, used, 1, &host) == -ENOSPC);

	/* a huge block costs no memory proportional to its size */
	p = pools("10.0.0.0/7", "fd00::/8", 8, 64);
	used[0] = 2;
	CHECK(ipam_next_free(&p, used, 1, &host) == 0 && host == 3);
	CHECK(ipam_hosts_per_block(&p) == (1u << 24) - 3);
}

int main(void)
{
	test_check();
	test_blocks();
	test_hosts();
	test_next_free();
	return harness_done("test_ipam");
}
