/* The prefix set and the sweep that pinned-map reconciliation uses. */
#include <errno.h>
#include <stdlib.h>
#include "harness.h"
#include "prefix_set.h"

int main(void)
{
	struct prefix_set *s = prefix_set_new();
	struct prefix_sweep sw = { .keep = s };
	struct cidr a, b, c, a24;
	struct ip_addr none = { 0 };

	CHECK(s != NULL);
	cidr_parse("10.0.0.1/32", &a);
	cidr_parse("fd00::1/128", &b);
	cidr_parse("10.0.0.2/32", &c);
	cidr_parse("10.0.0.1/24", &a24);
	CHECK(prefix_set_add(s, &a) == 0);
	CHECK(prefix_set_add(s, &a) == 0);                 /* a member once */
	CHECK(prefix_set_add_host(s, &b.addr) == 0);       /* /128 from an address */
	CHECK(prefix_set_add_host(s, &none) == 0);         /* no address: nothing */
	CHECK(prefix_set_count(s) == 2);
	CHECK(prefix_set_has(s, &a) && prefix_set_has(s, &b));
	CHECK(!prefix_set_has(s, &c));
	CHECK(!prefix_set_has(s, &a24));                   /* the length is part of the key */

	CHECK(prefix_sweep_note(&sw, &a) == 0 && sw.n == 0);
	for (int i = 0; i < 100; i++)
		CHECK(prefix_sweep_note(&sw, &c) == 0);
	CHECK(prefix_sweep_note(&sw, &a24) == 0);
	CHECK(sw.n == 101);
	CHECK(sw.stale[100].prefixlen == 24);
	prefix_sweep_free(&sw);
	CHECK(sw.n == 0 && sw.stale == NULL);
	prefix_set_free(s);
	return harness_done("test_prefix_set");
}
