/* Unit tests for address and prefix parsing and arithmetic, and for IPAM. */
#include <errno.h>
#include <sys/socket.h>
#include "harness.h"
#include "cidr.h"
#include "ipam.h"

static const char *s(const struct cidr *c)
{
	static char buf[CIDR_STRLEN];
	return cidr_str(c, buf);
}

static void test_parse(void)
{
	struct cidr c;
	struct ip_addr a;

	CHECK(cidr_parse("10.244.0.0/16", &c) == 0 && c.prefixlen == 16 && c.addr.family == AF_INET);
	CHECK(cidr_parse("fd00:244::/48", &c) == 0 && c.prefixlen == 48 && c.addr.family == AF_INET6);
	CHECK(cidr_parse("10.1.2.3", &c) == 0 && c.prefixlen == 32);
	CHECK(cidr_parse("::1", &c) == 0 && c.prefixlen == 128);
	CHECK(cidr_parse("0.0.0.0/0", &c) == 0 && c.prefixlen == 0);
	const char *bad[] = { "", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/ 8",
			      "10.0.0.0/8x", "::/129", "10.0.0", "10.0.0.0.0/8", "abc", "10.0.0.0/0008",
			      " 10.0.0.0/8", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK(cidr_parse(bad[i], &c) == -EINVAL);
	CHECK(ip_parse("1.2.3.4", &a) == 0 && a.family == AF_INET);
	CHECK(ip_parse("1.2.3.4/32", &a) == -EINVAL);
}

static void test_math(void)
{
	struct cidr c, sub, d;
	struct ip_addr a, b;

	cidr_parse("10.244.0.0/16", &c);
	CHECK(cidr_subnet(&c, 24, 3, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.3.0/24");
	CHECK(cidr_subnet(&c, 24, 255, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.255.0/24");
	CHECK(cidr_subnet(&c, 24, 256, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 8, 0, &sub) == -ERANGE);
	CHECK(cidr_count(&c, 24) == 256);
	cidr_parse("fd00:244::/48", &c);
	CHECK(cidr_subnet(&c, 64, 3, &sub) == 0);
	CHECK_STR(s(&sub), "fd00:244:0:3::/64");
	CHECK(cidr_host(&sub, 5, &a) == 0);
	ip_parse("fd00:244:0:3::5", &b);
	CHECK(ip_equal(&a, &b));
	cidr_parse("::/0", &c);
	CHECK(cidr_count(&c, 128) == UINT64_MAX);
	cidr_parse("10.0.0.0/30", &c);
	CHECK(cidr_host(&c, 4, &a) == -ERANGE);
	cidr_parse("255.255.255.255/32", &c);
	CHECK(cidr_host(&c, 0, &a) == 0);
	cidr_parse("10.1.2.3/8", &c);
	CHECK(cidr_normalize(&c) == 0);
	CHECK_STR(s(&c), "10.0.0.0/8");
	cidr_parse("10.0.0.0/8", &c);
	cidr_parse("10.200.0.0/16", &d);
	CHECK(cidr_overlaps(&c, &d) && cidr_overlaps(&d, &c));
	cidr_parse("11.0.0.0/8", &d);
	CHECK(!cidr_overlaps(&c, &d));
	cidr_parse("fd00::/8", &d);
	CHECK(!cidr_overlaps(&c, &d));
	ip_parse("10.9.9.9", &a);
	CHECK(cidr_contains(&c, &a));
	ip_parse("::ffff:10.9.9.9", &a);
	CHECK(!cidr_contains(&c, &a));
}

static void test_ipam(void)
{
	struct ipam_pools p = { .block4_len = 24, .block6_len = 64 };
	struct ip_addr a4, a6, e;
	struct cidr b4, b6;
	uint64_t used[] = { 2, 3, 5 }, host;
	const char *why = NULL;

	cidr_parse("10.244.0.0/16", &p.cluster4);
	cidr_parse("fd00:244::/48", &p.cluster6);
	CHECK(ipam_pools_check(&p, &why) == 0);
	CHECK(ipam_block_count(&p) == 256);
	CHECK(ipam_hosts_per_block(&p) == 253);
	CHECK(ipam_block(&p, 7, &b4, &b6) == 0);
	CHECK_STR(s(&b4), "10.244.7.0/24");
	CHECK_STR(s(&b6), "fd00:244:0:7::/64");
	CHECK(ipam_host(&p, 7, 5, &a4, &a6) == 0);
	ip_parse("10.244.7.5", &e);
	CHECK(ip_equal(&a4, &e));
	ip_parse("fd00:244:0:7::5", &e);
	CHECK(ip_equal(&a6, &e));
	CHECK(ipam_host(&p, 7, 1, &a4, &a6) == -ERANGE);     /* gateway convention */
	CHECK(ipam_host(&p, 7, 255, &a4, &a6) == -ERANGE);   /* broadcast */
	CHECK(ipam_host(&p, 256, 2, &a4, &a6) == -ERANGE);
	CHECK(ipam_next_free(&p, used, 3, &host) == 0 && host == 4);
	p.block4_len = 30;
	CHECK(ipam_hosts_per_block(&p) == 1);
	uint64_t two = 2;
	CHECK(ipam_next_free(&p, &two, 1, &host) == -ENOSPC);
	p.block4_len = 12;
	CHECK(ipam_pools_check(&p, &why) == -EINVAL && strstr(why, "block-ipv4-len"));
	p.block4_len = 24;
	p.block6_len = 121;   /* 7 host bits cannot pair with 8 */
	CHECK(ipam_pools_check(&p, &why) == -EINVAL);
	p.block6_len = 64;
	cidr_parse("10.244.1.0/16", &p.cluster4);
	CHECK(ipam_pools_check(&p, &why) == -EINVAL && strstr(why, "host bits"));
}

int main(void)
{
	test_parse();
	test_math();
	test_ipam();
	return harness_done("test_cidr");
}
