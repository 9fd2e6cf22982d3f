/* Unit tests for petreld's configuration parser and validator. */
#include <errno.h>
#include "harness.h"
#include "config.h"

static char err[512];

static int parse(struct petreld_config *c, const char *text)
{
	config_defaults(c);
	err[0] = 0;
	return config_parse(c, text, err, sizeof(err));
}

static void expect_bad(const char *text, const char *needle)
{
	struct petreld_config c;
	int ret = parse(&c, text);

	if (!ret)
		ret = config_validate(&c, err, sizeof(err));
	CHECK(ret == -EINVAL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "error '%s' lacks '%s'\n", err, needle);
		harness_failed++;
	}
}

int main(void)
{
	struct petreld_config c;

	CHECK(parse(&c, "# petreld\n\nnode = node1\nunderlay-ipv4 = 198.18.0.11  # comment\n"
		       "underlay-ipv6=fd00:198:18::11\nmode = native\netcd = http://198.18.0.1:2379,http://h:1\n"
		       "  state-dir = /tmp/x  \n") == 0);
	CHECK(config_validate(&c, err, sizeof(err)) == 0);
	CHECK_STR(c.node, "node1");
	CHECK(c.mode == MODE_NATIVE);
	CHECK_STR(c.state_dir, "/tmp/x");
	CHECK_STR(c.bpf_dir, "/sys/fs/bpf/petrel/node1");
	CHECK(c.pools.block4_len == 24 && c.pools.cluster4.prefixlen == 16);
	CHECK(c.flags & HAS_ETCD);

	/* flags override file values through config_set */
	CHECK(config_set(&c, "mode", "vxlan", err, sizeof(err)) == 0 && c.mode == MODE_VXLAN);
	CHECK(config_set(&c, "colour", "blue", err, sizeof(err)) == -EINVAL && strstr(err, "colour"));

	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\nmode = sideways\n", "line 3: key 'mode'");
	expect_bad("node = n1\nnode = n2\n", "line 2: key 'node': set twice");
	expect_bad("node n1\n", "line 1: expected 'key = value'");
	expect_bad("frobnicate = 1\n", "key 'frobnicate': unknown setting");
	expect_bad("node = Node_1\n", "key 'node'");
	expect_bad("node = n1\n", "key 'underlay-ipv4': required");
	expect_bad("underlay-ipv4 = 1.2.3.4\n", "key 'node': required");
	expect_bad("node = n1\nunderlay-ipv4 = fd00::1\n", "key 'underlay-ipv4'");
	expect_bad("node = n1\nunderlay-ipv4 = 10.244.1.1\n", "inside cluster-ipv4");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\ncluster-ipv4 = fd00::/8\n", "key 'cluster-ipv4'");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\ncluster-ipv4 = 10.0.0.0/8\nblock-ipv4-len = 8\n", "block-ipv4-len");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\ncluster-ipv4 = 10.0.0.1/8\n", "host bits");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\netcd = 198.18.0.1:2379\n", "key 'etcd'");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\netcd = http://h:99999\n", "key 'etcd'");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\nstate-dir = relative\n", "absolute path");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\nunderlay-mtu = 100\n", "underlay-mtu");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3.4\nblock-ipv4-len = 31\n", "block-ipv4-len");

	CHECK(name_valid("node-1") && name_valid("1abc") && !name_valid("-a") && !name_valid("A") &&
	      !name_valid("") && !name_valid("a_b"));
	return harness_done("test_config");
}
