/* Unit tests for address and prefix parsing and 128-bit prefix arithmetic. */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include "harness.h"
#include "cidr.h"

static const char *s(const struct cidr *c)
{
	static char buf[CIDR_STRLEN];
	return cidr_str(c, buf);
}

static const char *a(const struct ip_addr *x)
{
	static char buf[IP_STRLEN];
	return ip_str(x, buf);
}

static struct cidr C(const char *text)
{
	struct cidr c = { 0 };

	if (cidr_parse(text, &c))
		fprintf(stderr, "fixture '%s' does not parse\n", text);
	return c;
}

static void test_parse_good(void)
{
	static const struct { const char *in, *out; int family; } ok[] = {
		{ "10.244.0.0/16", "10.244.0.0/16", AF_INET },
		{ "fd00:244::/48", "fd00:244::/48", AF_INET6 },
		{ "10.1.2.3", "10.1.2.3/32", AF_INET },
		{ "::1", "::1/128", AF_INET6 },
		{ "::", "::/128", AF_INET6 },
		{ "0.0.0.0/0", "0.0.0.0/0", AF_INET },
		{ "::/0", "::/0", AF_INET6 },
		{ "255.255.255.255/32", "255.255.255.255/32", AF_INET },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", AF_INET6 },
		{ "FD00:244::1/64", "fd00:244::1/64", AF_INET6 },    /* host bits kept until normalized */
		{ "::ffff:10.1.2.3/96", "::ffff:10.1.2.3/96", AF_INET6 },
		{ "10.0.0.0/08", "10.0.0.0/8", AF_INET },
	};
	struct cidr c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(cidr_parse(ok[i].in, &c) == 0);
		CHECK(c.addr.family == ok[i].family);
		CHECK_STR(s(&c), ok[i].out);
	}
}

static void test_parse_bad(void)
{
	static const char *bad[] = {
		"", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "+10.0.0.0/8",
		"10.0.0.0/ 8", "10.0.0.0 /8", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/8x", "10.0.0.0/8/9",
		"10.0.0.0/0x8", "10.0.0.0/0008", "10.0.0.0/4294967304", "::/129", "::/999", "10.0.0",
		"10.0.0.0.0/8", "10.0.0.256/8", "010.0.0.0/8", "1.2.3.4x", "abc", "fd00::1::2/64",
		"fd00:244::/48\n", "fd00::%eth0/64", "[::1]/128", "10.0.0.0\t/8",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct cidr c, before;

	memset(&c, 0x5a, sizeof(c));
	before = c;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = cidr_parse(bad[i], &c);

		CHECK(ret == -EINVAL);
		if (ret != -EINVAL)
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
	}
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);   /* untouched on error */
	CHECK(cidr_parse(NULL, &c) == -EINVAL);
}

static void test_ip(void)
{
	struct ip_addr x, y;

	CHECK(ip_parse("1.2.3.4", &x) == 0 && x.family == AF_INET);
	CHECK(ip_parse("fd00::5", &y) == 0 && y.family == AF_INET6);
	CHECK(!ip_equal(&x, &y));
	CHECK(ip_parse("1.2.3.4/32", &x) == -EINVAL);
	CHECK(ip_parse(" 1.2.3.4", &x) == -EINVAL);
	CHECK(ip_parse("+1.2.3.4", &x) == -EINVAL);
	CHECK(ip_parse("", &x) == -EINVAL);
	CHECK(ip_parse(NULL, &x) == -EINVAL);
	ip_parse("1.2.3.4", &x);
	ip_parse("1.2.3.4", &y);
	CHECK(ip_equal(&x, &y));
	ip_parse("1.2.3.5", &y);
	CHECK(!ip_equal(&x, &y));
	/* the IPv4-mapped IPv6 address is a different address */
	ip_parse("::ffff:1.2.3.4", &y);
	CHECK(!ip_equal(&x, &y));
	CHECK_STR(a(&y), "::ffff:1.2.3.4");
	memset(&x, 0, sizeof(x));
	CHECK_STR(a(&x), "?");
	CHECK(!ip_equal(&x, &x));    /* no family: equal to nothing */
}

static void test_normalize(void)
{
	struct cidr c;

	c = C("10.1.2.3/8");
	CHECK(cidr_normalize(&c) == 0);
	CHECK_STR(s(&c), "10.0.0.0/8");
	c = C("10.255.255.255/9");
	cidr_normalize(&c);
	CHECK_STR(s(&c), "10.128.0.0/9");
	c = C("1.2.3.4/0");
	cidr_normalize(&c);
	CHECK_STR(s(&c), "0.0.0.0/0");
	c = C("1.2.3.4/32");
	cidr_normalize(&c);
	CHECK_STR(s(&c), "1.2.3.4/32");
	c = C("fd00:244:1:2:3:4:5:6/63");
	cidr_normalize(&c);
	CHECK_STR(s(&c), "fd00:244:1:2::/63");
	c = C("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127");
	cidr_normalize(&c);
	CHECK_STR(s(&c), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
	c = C("10.0.0.0/8");
	c.prefixlen = 33;
	CHECK(cidr_normalize(&c) == -EINVAL);
	c = C("::/0");
	c.prefixlen = 129;
	CHECK(cidr_normalize(&c) == -EINVAL);
	memset(&c, 0, sizeof(c));
	CHECK(cidr_normalize(&c) == -EINVAL);
}

static void test_contains_overlaps(void)
{
	struct cidr c = C("10.0.0.0/8"), d;
	struct ip_addr x;

	ip_parse("10.9.9.9", &x);
	CHECK(cidr_contains(&c, &x));
	ip_parse("11.0.0.0", &x);
	CHECK(!cidr_contains(&c, &x));
	ip_parse("9.255.255.255", &x);
	CHECK(!cidr_contains(&c, &x));
	ip_parse("::ffff:10.9.9.9", &x);
	CHECK(!cidr_contains(&c, &x));
	d = C("0.0.0.0/0");
	ip_parse("255.255.255.255", &x);
	CHECK(cidr_contains(&d, &x));
	ip_parse("::", &x);
	CHECK(!cidr_contains(&d, &x));       /* families never mix */
	d = C("fd00:244::/48");
	ip_parse("fd00:244:0:ffff::1", &x);
	CHECK(cidr_contains(&d, &x));
	ip_parse("fd00:245::1", &x);
	CHECK(!cidr_contains(&d, &x));
	d = C("10.1.2.3/32");
	ip_parse("10.1.2.3", &x);
	CHECK(cidr_contains(&d, &x));
	ip_parse("10.1.2.4", &x);
	CHECK(!cidr_contains(&d, &x));
	d = C("10.1.2.0/23");              /* non-byte boundary */
	ip_parse("10.1.3.255", &x);
	CHECK(cidr_contains(&d, &x));
	ip_parse("10.1.4.0", &x);
	CHECK(!cidr_contains(&d, &x));

	d = C("10.200.0.0/16");
	CHECK(cidr_overlaps(&c, &d) && cidr_overlaps(&d, &c));
	d = C("11.0.0.0/8");
	CHECK(!cidr_overlaps(&c, &d));
	d = C("fd00::/8");
	CHECK(!cidr_overlaps(&c, &d));
	d = C("0.0.0.0/0");
	CHECK(cidr_overlaps(&c, &d) && cidr_overlaps(&d, &c));
	d = C("10.0.0.0/8");
	CHECK(cidr_overlaps(&c, &d));
	c = C("fd00:244::/48");
	d = C("fd00:244:0:3::/64");
	CHECK(cidr_overlaps(&c, &d));
	d = C("fd00:243::/48");
	CHECK(!cidr_overlaps(&c, &d));
}

static void test_count(void)
{
	struct cidr c = C("10.244.0.0/16");

	CHECK(cidr_count(&c, 24) == 256);
	CHECK(cidr_count(&c, 16) == 1);
	CHECK(cidr_count(&c, 32) == 65536);
	CHECK(cidr_count(&c, 15) == 0);
	CHECK(cidr_count(&c, 33) == 0);
	c = C("0.0.0.0/0");
	CHECK(cidr_count(&c, 32) == ((uint64_t)1 << 32));
	c = C("::/0");
	CHECK(cidr_count(&c, 63) == ((uint64_t)1 << 63));
	CHECK(cidr_count(&c, 64) == UINT64_MAX);     /* 2^64 saturates */
	CHECK(cidr_count(&c, 128) == UINT64_MAX);
	CHECK(cidr_count(&c, 129) == 0);
	c = C("fd00:244::/48");
	CHECK(cidr_count(&c, 64) == 65536);
	CHECK(cidr_count(&c, 112) == UINT64_MAX);
}

static void test_subnet(void)
{
	struct cidr c = C("10.244.0.0/16"), sub, keep = C("1.1.1.1/32");

	CHECK(cidr_subnet(&c, 24, 0, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.0.0/24");
	CHECK(cidr_subnet(&c, 24, 3, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.3.0/24");
	CHECK(cidr_subnet(&c, 24, 255, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.255.0/24");
	sub = keep;
	CHECK(cidr_subnet(&c, 24, 256, &sub) == -ERANGE);
	CHECK(ip_equal(&sub.addr, &keep.addr));        /* untouched on error */
	CHECK(cidr_subnet(&c, 8, 0, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 33, 0, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 16, 0, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.0.0/16");
	CHECK(cidr_subnet(&c, 16, 1, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 26, 5, &sub) == 0);       /* carries across a byte */
	CHECK_STR(s(&sub), "10.244.1.64/26");
	CHECK(cidr_subnet(&c, 32, 65535, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.255.255/32");
	CHECK(cidr_subnet(&c, 32, 65536, &sub) == -ERANGE);
	c = C("10.244.7.9/16");                         /* host bits ignored */
	CHECK(cidr_subnet(&c, 24, 1, &sub) == 0);
	CHECK_STR(s(&sub), "10.244.1.0/24");

	c = C("0.0.0.0/0");
	CHECK(cidr_subnet(&c, 32, 0xffffffffu, &sub) == 0);
	CHECK_STR(s(&sub), "255.255.255.255/32");
	CHECK(cidr_subnet(&c, 32, 0x100000000ull, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 1, 1, &sub) == 0);
	CHECK_STR(s(&sub), "128.0.0.0/1");

	c = C("fd00:244::/48");
	CHECK(cidr_subnet(&c, 64, 3, &sub) == 0);
	CHECK_STR(s(&sub), "fd00:244:0:3::/64");
	CHECK(cidr_subnet(&c, 64, 65535, &sub) == 0);
	CHECK_STR(s(&sub), "fd00:244:0:ffff::/64");
	CHECK(cidr_subnet(&c, 64, 65536, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 56, 0x12, &sub) == 0);
	CHECK_STR(s(&sub), "fd00:244:0:1200::/56");
	CHECK(cidr_subnet(&c, 128, UINT64_MAX, &sub) == 0);   /* 80 bits of room: fits */
	CHECK_STR(s(&sub), "fd00:244::ffff:ffff:ffff:ffff/128");

	c = C("::/0");
	CHECK(cidr_subnet(&c, 64, UINT64_MAX, &sub) == 0);   /* index lands in the top 64 bits */
	CHECK_STR(s(&sub), "ffff:ffff:ffff:ffff::/64");
	CHECK(cidr_subnet(&c, 128, UINT64_MAX, &sub) == 0);
	CHECK_STR(s(&sub), "::ffff:ffff:ffff:ffff/128");
	CHECK(cidr_subnet(&c, 65, UINT64_MAX, &sub) == 0);
	CHECK_STR(s(&sub), "7fff:ffff:ffff:ffff:8000::/65");
	c = C("ffff:ffff:ffff:ffff::/64");
	CHECK(cidr_subnet(&c, 128, UINT64_MAX, &sub) == 0);
	CHECK_STR(s(&sub), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	c = C("::/120");
	CHECK(cidr_subnet(&c, 128, 255, &sub) == 0);
	CHECK_STR(s(&sub), "::ff/128");
	CHECK(cidr_subnet(&c, 128, 256, &sub) == -ERANGE);
	CHECK(cidr_subnet(&c, 129, 0, &sub) == -ERANGE);
	memset(&c, 0, sizeof(c));
	CHECK(cidr_subnet(&c, 0, 0, &sub) == -ERANGE);
}

static void test_host(void)
{
	struct cidr c = C("10.0.0.0/30");
	struct ip_addr x, keep;

	CHECK(cidr_host(&c, 0, &x) == 0);
	CHECK_STR(a(&x), "10.0.0.0");
	CHECK(cidr_host(&c, 3, &x) == 0);
	CHECK_STR(a(&x), "10.0.0.3");
	ip_parse("1.1.1.1", &keep);
	x = keep;
	CHECK(cidr_host(&c, 4, &x) == -ERANGE);
	CHECK(ip_equal(&x, &keep));
	c = C("10.244.3.0/24");
	CHECK(cidr_host(&c, 5, &x) == 0);
	CHECK_STR(a(&x), "10.244.3.5");
	CHECK(cidr_host(&c, 256, &x) == -ERANGE);
	c = C("10.244.0.0/16");
	CHECK(cidr_host(&c, 258, &x) == 0);     /* carries into the third byte */
	CHECK_STR(a(&x), "10.244.1.2");
	c = C("255.255.255.255/32");
	CHECK(cidr_host(&c, 0, &x) == 0);
	CHECK_STR(a(&x), "255.255.255.255");
	CHECK(cidr_host(&c, 1, &x) == -ERANGE);
	c = C("0.0.0.0/0");
	CHECK(cidr_host(&c, 0xffffffffu, &x) == 0);
	CHECK_STR(a(&x), "255.255.255.255");
	CHECK(cidr_host(&c, 0x100000000ull, &x) == -ERANGE);
	CHECK(cidr_host(&c, UINT64_MAX, &x) == -ERANGE);

	c = C("fd00:244:0:3::/64");
	CHECK(cidr_host(&c, 5, &x) == 0);
	CHECK_STR(a(&x), "fd00:244:0:3::5");
	CHECK(cidr_host(&c, UINT64_MAX, &x) == 0);
	CHECK_STR(a(&x), "fd00:244:0:3:ffff:ffff:ffff:ffff");
	c = C("fd00:244:0:3::/65");
	CHECK(cidr_host(&c, UINT64_MAX, &x) == -ERANGE);
	CHECK(cidr_host(&c, 0x7fffffffffffffffull, &x) == 0);
	CHECK_STR(a(&x), "fd00:244:0:3:7fff:ffff:ffff:ffff");
	c = C("::/0");
	CHECK(cidr_host(&c, UINT64_MAX, &x) == 0);
	CHECK_STR(a(&x), "::ffff:ffff:ffff:ffff");
	c = C("::1/128");
	CHECK(cidr_host(&c, 0, &x) == 0);
	CHECK_STR(a(&x), "::1");
	CHECK(cidr_host(&c, 1, &x) == -ERANGE);
	c = C("fd00::ff/120");
	CHECK(cidr_host(&c, 0x80, &x) == 0);     /* from the normalized base, not the host bits */
	CHECK_STR(a(&x), "fd00::80");
	memset(&c, 0, sizeof(c));
	CHECK(cidr_host(&c, 0, &x) == -ERANGE);
}

static void test_str(void)
{
	char buf[CIDR_STRLEN];
	struct cidr c = C("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");

	CHECK_STR(cidr_str(&c, buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	CHECK(strlen(buf) < CIDR_STRLEN);
	/* printing and parsing round-trip */
	struct cidr d;
	CHECK(cidr_parse(buf, &d) == 0 && ip_equal(&c.addr, &d.addr) && c.prefixlen == d.prefixlen);
}

int main(void)
{
	test_parse_good();
	test_parse_bad();
	test_ip();
	test_normalize();
	test_contains_overlaps();
	test_count();
	test_subnet();
	test_host();
	test_str();
	return harness_done("test_cidr");
}
