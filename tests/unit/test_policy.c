/* Unit tests for the policy language and its compiler. */
#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>

#define POLICY_TEST_FILE "t.json"
#include "policy_expect.h"

static void test_parse_ok(void)
{
	struct policy *p;
	size_t n;

	CHECK(parse("{\"name\":\"web\",\"endpointSelector\":{\"matchLabels\":{\"app\":\"app2\"}},"
		    "\"ingress\":[{\"fromEndpoints\":[{\"matchLabels\":{\"app\":\"app1\"}}],"
		    "\"toPorts\":[{\"port\":80,\"protocol\":\"TCP\"},{\"port\":\"8000\",\"endPort\":8100,\"protocol\":\"any\"}]}],"
		    "\"egressDeny\":[{\"toCIDR\":[\"198.18.0.0/24\",\"fd00::/8\"]}]}", &p, &n) == 0);
	CHECK(n == 1);
	CHECK_STR(p[0].name, "web");
	CHECK(p[0].subject.n == 1);
	CHECK(p[0].n_rules == 2);
	CHECK(p[0].rules[0].dir == DIR_INGRESS && !p[0].rules[0].deny);
	CHECK(p[0].rules[0].n_ports == 2 && p[0].rules[0].ports[1].proto == 0);
	CHECK(p[0].rules[0].ports[1].end_port == 8100);
	CHECK(p[0].rules[1].dir == DIR_EGRESS && p[0].rules[1].deny && p[0].rules[1].n_cidrs == 2);

	/* encode → parse is the identity on the parts that matter */
	char *text = policy_encode(&p[0]);
	struct policy *q;
	size_t m;
	CHECK(text && parse(text, &q, &m) == 0);
	CHECK(m == 1 && q[0].n_rules == 2 && q[0].rules[0].ports[0].port == 80);
	free(text);
	policy_free(q, m);
	policy_free(p, n);

	CHECK(parse("[{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{}]},"
		    "{\"name\":\"b\",\"endpointSelector\":{},\"egress\":[{\"toPorts\":[{\"port\":53,\"protocol\":\"UDP\"}]}]}]",
		    &p, &n) == 0);
	CHECK(n == 2);
	policy_free(p, n);
}

static void test_parse_errors(void)
{
	expect_error("{", "line 1");
	expect_error("[]", "no policy");
	expect_error("{\"endpointSelector\":{},\"ingress\":[{}]}", "name");
	expect_error("{\"name\":\"a\",\"ingress\":[{}]}", "policy 'a': endpointSelector");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{}}", "no ingress");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingres\":[{}]}", "ingres: unknown field");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{\"toPorts\":[{\"port\":70000}]}]}",
		     "ingress[0].toPorts[0].port: 70000 is outside 1-65535");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{\"toPorts\":[{\"port\":0,\"endPort\":5}]}]}",
		     "outside 1-65535");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{\"toPorts\":[{\"port\":90,\"endPort\":80}]}]}",
		     "endPort");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{\"toPorts\":[{\"port\":80,\"protocol\":\"SCTP\"}]}]}",
		     "protocol");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{\"fromCIDR\":[\"10.0.0.0/33\"]}]}",
		     "ingress[0].fromCIDR[0]");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{\"fromCIDR\":[\"10.0.0.1/8\"]}]}",
		     "host bits");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{},\"egress\":[{\"fromCIDR\":[\"10.0.0.0/8\"]}]}",
		     "egress[0].fromCIDR: unknown field");
	expect_error("{\"name\":\"a\",\"endpointSelector\":{\"matchLabels\":{\"a b\":\"c\"}},\"ingress\":[{}]}",
		     "matchLabels");
	expect_error("[{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{}]},{\"name\":\"a\",\"endpointSelector\":{},\"ingress\":[{}]}]",
		     "twice");
	expect_error("{\"name\":\"a\",\"name\":\"b\",\"endpointSelector\":{},\"ingress\":[{}]}", "duplicate");
}

static void test_port_blocks(void)
{
	uint16_t ports[32];
	uint8_t bits[32];
	int n;

	n = port_range_blocks(80, 80, ports, bits, 32);
	CHECK(n == 1 && ports[0] == 80 && bits[0] == 16);
	n = port_range_blocks(8000, 8003, ports, bits, 32);    /* 8000 is 4-aligned */
	CHECK(n == 1 && ports[0] == 8000 && bits[0] == 14);
	n = port_range_blocks(1, 65535, ports, bits, 32);
	CHECK(n == 16);
	/* blocks tile the range exactly */
	n = port_range_blocks(1000, 2999, ports, bits, 32);
	uint32_t covered = 0, expect = 1000;
	for (int i = 0; i < n; i++) {
		CHECK(ports[i] == expect);
		expect += 1u << (16 - bits[i]);
		covered += 1u << (16 - bits[i]);
	}
	CHECK(covered == 2000);
	CHECK(n <= 30);
}

static const struct policy_entry *find(const struct policy_compiled *c, uint32_t ep, int dir,
				       uint32_t id, uint8_t proto, uint16_t port, uint8_t bits)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct policy_entry *e = &c->entries[i];
		if (e->ep_id == ep && e->dir == dir && e->identity == id && e->proto == proto &&
		    e->port == port && e->port_bits == bits)
			return e;
	}
	return NULL;
}

static void test_compile(void)
{
	struct policy *p;
	size_t n;
	struct ep_label app1[] = { { "app", "app1" } }, app2[] = { { "app", "app2" } },
			app3[] = { { "app", "app3" } };
	struct policy_subject subjects[] = { { 10, app2, 1 }, { 11, app3, 1 } };
	struct identity_ref ids[] = {
		{ .identity = 300, .labels = app1, .n_labels = 1 },
		{ .identity = 301, .labels = app2, .n_labels = 1 },
		{ .identity = 302, .labels = app3, .n_labels = 1 },
		{ .identity = 2 }, { .identity = 900 },
	};
	struct policy_compiled c;
	const struct policy_entry *e;

	cidr_parse("0.0.0.0/0", &ids[3].cidr);
	cidr_parse("198.18.0.0/24", &ids[4].cidr);
	CHECK(parse("[{\"name\":\"allow\",\"endpointSelector\":{\"matchLabels\":{\"app\":\"app2\"}},"
		    "\"ingress\":[{\"fromEndpoints\":[{\"matchLabels\":{\"app\":\"app1\"}}],\"toPorts\":[{\"port\":80}]},"
		    "{\"fromCIDR\":[\"198.18.0.0/16\"],\"toPorts\":[{\"port\":8000,\"endPort\":8003}]}]},"
		    "{\"name\":\"deny\",\"endpointSelector\":{\"matchLabels\":{\"app\":\"app2\"}},"
		    "\"ingressDeny\":[{\"fromEndpoints\":[{\"matchLabels\":{\"app\":\"app1\"}}],\"toPorts\":[{\"port\":80,\"endPort\":81}]}]}]",
		    &p, &n) == 0);
	CHECK(policy_compile(p, n, subjects, 2, ids, 5, &c) == 0);
	/* app2 is enforced on ingress only; app3 is not selected at all */
	CHECK(c.n_enforce == 1 && c.enforce[0].ep_id == 10 && c.enforce[0].ingress && !c.enforce[0].egress);
	/* port 80 from app1: allowed by "allow" but covered by the deny of 80-81 → deny wins */
	e = find(&c, 10, DIR_INGRESS, 300, IPPROTO_TCP, 80, 16);
	CHECK(e && e->verdict == VERDICT_DENY && e->policy_idx == 1);
	/* the deny itself, 80-81 as one /15 block */
	e = find(&c, 10, DIR_INGRESS, 300, IPPROTO_TCP, 80, 15);
	CHECK(e && e->verdict == VERDICT_DENY);
	/* the CIDR /16 rule covers the /24 CIDR identity, but not world */
	e = find(&c, 10, DIR_INGRESS, 900, IPPROTO_TCP, 8000, 14);
	CHECK(e && e->verdict == VERDICT_ALLOW && e->policy_idx == 0 && e->rule_idx == 1);
	CHECK(find(&c, 10, DIR_INGRESS, 2, IPPROTO_TCP, 8000, 14) == NULL);
	CHECK(find(&c, 11, DIR_INGRESS, 300, IPPROTO_TCP, 80, 16) == NULL);
	policy_compiled_free(&c);
	policy_free(p, n);

	/* A rule without peers or ports allows everything: one wildcard entry. */
	CHECK(parse("{\"name\":\"open\",\"endpointSelector\":{},\"egress\":[{}]}", &p, &n) == 0);
	CHECK(policy_compile(p, n, subjects, 2, ids, 5, &c) == 0);
	CHECK(c.n == 2 && find(&c, 10, DIR_EGRESS, 0, 0, 0, 0) && find(&c, 11, DIR_EGRESS, 0, 0, 0, 0));
	policy_compiled_free(&c);
	policy_free(p, n);

	/* Rule count does not change per-key entries: 1000 non-matching rules add nothing for app2. */
	char *big = malloc(200000), *w = big;
	w += sprintf(w, "{\"name\":\"many\",\"endpointSelector\":{\"matchLabels\":{\"app\":\"app2\"}},\"ingress\":[");
	for (int i = 0; i < 1000; i++)
		w += sprintf(w, "%s{\"fromCIDR\":[\"203.0.%d.%d/32\"],\"toPorts\":[{\"port\":%d}]}", i ? "," : "",
			     i / 250, i % 250, 1000 + i);
	sprintf(w, "]}");
	CHECK(parse(big, &p, &n) == 0);
	CHECK(p[0].n_rules == 1000);
	CHECK(policy_compile(p, n, subjects, 2, ids, 5, &c) == 0);
	CHECK(c.n == 0 && c.n_enforce == 1);
	policy_compiled_free(&c);
	policy_free(p, n);
	free(big);
}

int main(void)
{
	test_parse_ok();
	test_parse_errors();
	test_port_blocks();
	test_compile();
	return harness_done("test_policy");
}
