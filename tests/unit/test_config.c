/* Unit tests for petreld's configuration parser and validator: good files, and every kind
 * of bad input with a message that names the line and the key. */
#include <errno.h>
#include <sys/socket.h>
#include "harness.h"
#include "config.h"

static char err[512];

static int parse(struct petreld_config *c, const char *text)
{
	config_defaults(c);
	err[0] = 0;
	return config_parse(c, text, err, sizeof(err));
}

/* Parse, then validate; the first error must be -EINVAL and contain needle. */
static void expect_bad(const char *text, const char *needle)
{
	struct petreld_config c;
	int ret = parse(&c, text);

	if (!ret)
		ret = config_validate(&c, err, sizeof(err));
	CHECK(ret == -EINVAL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "FAIL: for %s\n  error '%s' lacks '%s'\n", text, err, needle);
		harness_failed++;
	}
}

#define BASE "node = n1\nunderlay-ipv4 = 192.0.2.10\n"

static void test_defaults(void)
{
	struct petreld_config c;
	char buf[CIDR_STRLEN];

	config_defaults(&c);
	CHECK(c.flags == 0);
	CHECK_STR(cidr_str(&c.pools.cluster4, buf), "10.244.0.0/16");
	CHECK_STR(cidr_str(&c.pools.cluster6, buf), "fd00:244::/48");
	CHECK(c.pools.block4_len == 24 && c.pools.block6_len == 64);
	CHECK(c.mode == MODE_VXLAN && c.backend == BACKEND_EBPF);
	CHECK_STR(c.state_dir, "/var/lib/petrel");
	CHECK_STR(c.socket, "/run/petrel/petreld.sock");
	CHECK_STR(c.netns_prefix, "petrel-");
	CHECK_STR(c.etcd, "");
	CHECK(c.underlay_mtu == 1500);
	CHECK_STR(routing_mode_str(MODE_VXLAN), "vxlan");
	CHECK_STR(routing_mode_str(MODE_NATIVE), "native");
	/* defaults alone lack the node and its address */
	CHECK(config_validate(&c, err, sizeof(err)) == -EINVAL);
}

static void test_good(void)
{
	struct petreld_config c;
	char buf[CIDR_STRLEN];

	CHECK(parse(&c, "# petreld\n\nnode = node1\nunderlay-ipv4 = 198.18.0.11  # comment\n"
		       "underlay-ipv6=fd00:198:18::11\nmode = native\netcd = http://198.18.0.1:2379,http://h:1\n"
		       "  state-dir = /tmp/x  \n\t# indented comment\n   \n") == 0);
	CHECK(config_validate(&c, err, sizeof(err)) == 0);
	CHECK_STR(c.node, "node1");
	CHECK(c.mode == MODE_NATIVE);
	CHECK_STR(c.state_dir, "/tmp/x");
	CHECK_STR(c.bpf_dir, "/sys/fs/bpf/petrel/node1");
	CHECK_STR(c.etcd, "http://198.18.0.1:2379,http://h:1");
	CHECK(c.pools.block4_len == 24 && c.pools.cluster4.prefixlen == 16);
	CHECK(c.underlay6.family == AF_INET6);
	CHECK((c.flags & (HAS_NODE | HAS_UNDER4 | HAS_UNDER6 | HAS_MODE | HAS_ETCD | HAS_STATE_DIR)) ==
	      (HAS_NODE | HAS_UNDER4 | HAS_UNDER6 | HAS_MODE | HAS_ETCD | HAS_STATE_DIR));
	CHECK(!(c.flags & (HAS_BPF_DIR | HAS_CLUSTER4 | HAS_SOCKET)));

	/* every key once, CRLF line ends, no final newline */
	CHECK(parse(&c, "node = edge-7\r\nunderlay-device = ens3\r\nunderlay-ipv4 = 192.0.2.10\r\n"
		       "underlay-ipv6 = 2001:db8::10\r\ncluster-ipv4 = 10.32.0.0/12\r\n"
		       "cluster-ipv6 = fd00:32::/40\r\nblock-ipv4-len = 26\r\nblock-ipv6-len = 80\r\n"
		       "mode = vxlan\r\nstate-dir = /srv/petrel\r\nsocket = /run/p.sock\r\n"
		       "etcd = http://[::1]:2379\r\nbpf-pin-dir = /sys/fs/bpf/p\r\n"
		       "netns-prefix = pt-\r\nunderlay-mtu = 9000\r\npolicy-backend = ebpf") == 0);
	CHECK(config_validate(&c, err, sizeof(err)) == 0);
	CHECK_STR(c.node, "edge-7");
	CHECK_STR(c.underlay_dev, "ens3");
	CHECK_STR(ip_str(&c.underlay4, (char[IP_STRLEN]){ 0 }), "192.0.2.10");
	CHECK_STR(ip_str(&c.underlay6, (char[IP_STRLEN]){ 0 }), "2001:db8::10");
	CHECK_STR(cidr_str(&c.pools.cluster4, buf), "10.32.0.0/12");
	CHECK_STR(cidr_str(&c.pools.cluster6, buf), "fd00:32::/40");
	CHECK(c.pools.block4_len == 26 && c.pools.block6_len == 80);
	CHECK_STR(c.socket, "/run/p.sock");
	CHECK_STR(c.etcd, "http://[::1]:2379");
	CHECK_STR(c.bpf_dir, "/sys/fs/bpf/p");     /* explicit: not overwritten by validate */
	CHECK_STR(c.netns_prefix, "pt-");
	CHECK(c.underlay_mtu == 9000);

	/* the value keeps inner spaces; '=' inside a value is part of it */
	CHECK(parse(&c, BASE "etcd =\n") == 0 && c.etcd[0] == 0 && (c.flags & HAS_ETCD));
	CHECK(parse(&c, "") == 0 && c.flags == 0);
	CHECK(parse(&c, "\n\n# only comments\n") == 0 && c.flags == 0);

	/* iptables baseline goes with native routing */
	CHECK(parse(&c, BASE "mode = native\npolicy-backend = iptables\n") == 0);
	CHECK(config_validate(&c, err, sizeof(err)) == 0 && c.backend == BACKEND_IPTABLES);
}

static void test_set(void)
{
	struct petreld_config c;

	/* flags override file values through config_set, even keys set in the file */
	CHECK(parse(&c, BASE "mode = native\n") == 0);
	CHECK(config_set(&c, "mode", "vxlan", err, sizeof(err)) == 0 && c.mode == MODE_VXLAN);
	CHECK(config_set(&c, "colour", "blue", err, sizeof(err)) == -EINVAL);
	CHECK_STR(err, "key 'colour': unknown setting");
	CHECK(config_set(&c, "mode", "fast", err, sizeof(err)) == -EINVAL);
	CHECK_STR(err, "key 'mode': 'fast' is not vxlan or native");
	CHECK(c.mode == MODE_VXLAN);      /* a rejected value changes nothing */
	CHECK(config_set(&c, "underlay-mtu", "1400", err, sizeof(err)) == 0 && c.underlay_mtu == 1400);
	CHECK(config_set(&c, "underlay-mtu", "14x", err, sizeof(err)) == -EINVAL && c.underlay_mtu == 1400);
	CHECK(c.conntrack_buckets == 0);  /* the host's conntrack hash is left alone by default */
	CHECK(config_set(&c, "conntrack-buckets", "16384", err, sizeof(err)) == 0 &&
	      c.conntrack_buckets == 16384);
	CHECK(config_set(&c, "conntrack-buckets", "-1", err, sizeof(err)) == -EINVAL &&
	      c.conntrack_buckets == 16384);
	CHECK(config_set(&c, "block-ipv4-len", "+24", err, sizeof(err)) == -EINVAL);
	CHECK(config_set(&c, "block-ipv4-len", "0x18", err, sizeof(err)) == -EINVAL);
	CHECK(config_set(&c, "node", "n2", err, sizeof(err)) == 0);
	CHECK(config_validate(&c, err, sizeof(err)) == 0);
	CHECK_STR(c.bpf_dir, "/sys/fs/bpf/petrel/n2");
}

static void test_bad(void)
{
	/* file syntax */
	expect_bad("node = n1\nnode = n2\n", "line 2: key 'node': set twice");
	expect_bad(BASE "\n# x\nmode = native\nmode = native\n", "line 6: key 'mode': set twice");
	expect_bad("node n1\n", "line 1: key 'node': missing '='");
	expect_bad(BASE "bogus\n", "line 3: key 'bogus': missing '='");
	expect_bad("frobnicate = 1\n", "line 1: key 'frobnicate': unknown setting");
	expect_bad("Node = n1\n", "key 'Node': unknown setting");      /* keys are exact */
	expect_bad("node-name = n1\n", "key 'node-name': unknown setting");
	expect_bad("= n1\n", "line 1: key '': unknown setting");
	expect_bad("node = \n", "line 1: key 'node'");

	/* values */
	expect_bad("node = Node_1\n", "line 1: key 'node'");
	expect_bad("node = -a\n", "key 'node'");
	expect_bad("node = a234567890123456789012345678901234567890123456789012345678901234\n", "key 'node'");
	expect_bad("node = n1\nunderlay-ipv4 = fd00::1\n", "line 2: key 'underlay-ipv4'");
	expect_bad("node = n1\nunderlay-ipv4 = 1.2.3\n", "key 'underlay-ipv4'");
	expect_bad(BASE "underlay-ipv6 = 1.2.3.4\n", "line 3: key 'underlay-ipv6'");
	expect_bad(BASE "underlay-device = a/b\n", "key 'underlay-device'");
	expect_bad(BASE "underlay-device = averyveryverylongname\n", "key 'underlay-device'");
	expect_bad(BASE "cluster-ipv4 = fd00::/8\n", "line 3: key 'cluster-ipv4'");
	expect_bad(BASE "cluster-ipv4 = 10.0.0.0\n", "key 'cluster-ipv4'");    /* needs a prefix */
	expect_bad(BASE "cluster-ipv4 = 10.0.0.0/33\n", "key 'cluster-ipv4'");
	expect_bad(BASE "cluster-ipv6 = 10.0.0.0/8\n", "key 'cluster-ipv6'");
	expect_bad(BASE "block-ipv4-len = 31\n", "key 'block-ipv4-len'");
	expect_bad(BASE "block-ipv4-len = 0\n", "key 'block-ipv4-len'");
	expect_bad(BASE "block-ipv4-len = 24x\n", "key 'block-ipv4-len'");
	expect_bad(BASE "block-ipv4-len = -24\n", "key 'block-ipv4-len'");
	expect_bad(BASE "block-ipv6-len = 121\n", "key 'block-ipv6-len'");
	expect_bad(BASE "block-ipv6-len = 99999999999999999999999\n", "key 'block-ipv6-len'");
	expect_bad(BASE "mode = sideways\n", "line 3: key 'mode'");
	expect_bad(BASE "policy-backend = pf\n", "key 'policy-backend'");
	expect_bad(BASE "state-dir = relative\n", "key 'state-dir': 'relative' is not an absolute path");
	expect_bad(BASE "socket = run/p.sock\n", "key 'socket'");
	expect_bad(BASE "socket = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "key 'socket'");
	expect_bad(BASE "bpf-pin-dir = sys/fs/bpf\n", "key 'bpf-pin-dir'");
	expect_bad(BASE "netns-prefix = a/b\n", "key 'netns-prefix'");
	expect_bad(BASE "netns-prefix = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		   "key 'netns-prefix'");
	expect_bad(BASE "underlay-mtu = 100\n", "key 'underlay-mtu'");
	expect_bad(BASE "underlay-mtu = 70000\n", "key 'underlay-mtu'");

	/* etcd endpoints */
	expect_bad(BASE "etcd = 198.18.0.1:2379\n", "key 'etcd': '198.18.0.1:2379' is not http[s]://HOST:PORT");
	expect_bad(BASE "etcd = https://h:2379\n", "key 'etcd-ca': required with an https:// etcd");
	expect_bad(BASE "etcd = https://h:2379\netcd-ca = /ca\netcd-cert = /c\n",
		   "key 'etcd-key': etcd-cert and etcd-key go together");
	expect_bad(BASE "etcd-bogus = x\n", "key 'etcd-bogus': unknown setting");
	expect_bad(BASE "containers-conf = rel.conf\n", "key 'containers-conf': 'rel.conf' is not an absolute path");
	expect_bad(BASE "etcd-user = node1\n", "key 'etcd-password-file': etcd-user and etcd-password-file go together");
	expect_bad(BASE "etcd-operator-password-file = /p\n",
		   "key 'etcd-operator-user': etcd-operator-user and etcd-operator-password-file go together");
	expect_bad(BASE "etcd-user = a/b\netcd-password-file = /p\n", "key 'etcd-user': 'a/b' is not a user name");
	{
		struct petreld_config t;

		CHECK(parse(&t, BASE "etcd = https://h:2379,https://h2:2379\netcd-ca = /ca\n"
			    "etcd-cert = /c\netcd-key = /k\n") == 0);
		CHECK_STR(t.etcd_ca, "/ca");
		CHECK_STR(t.etcd_key, "/k");
		CHECK(parse(&t, BASE "etcd-user = node1\netcd-password-file = /p\n"
			    "etcd-operator-user = operator\netcd-operator-password-file = /o\n") == 0);
		CHECK_STR(t.etcd_user, "node1");
		CHECK_STR(t.etcd_password_file, "/p");
		CHECK_STR(t.etcd_operator_user, "operator");
		CHECK_STR(t.etcd_operator_password_file, "/o");
		CHECK(parse(&t, BASE "containers-conf = /run/n1/containers.conf\n") == 0);
		CHECK_STR(t.containers_conf, "/run/n1/containers.conf");
	}
	expect_bad(BASE "etcd = http://h\n", "key 'etcd'");
	expect_bad(BASE "etcd = http://:2379\n", "key 'etcd'");
	expect_bad(BASE "etcd = http://h:\n", "key 'etcd'");
	expect_bad(BASE "etcd = http://h:99999\n", "key 'etcd': 'http://h:99999' has no valid port");
	expect_bad(BASE "etcd = http://h:0\n", "key 'etcd'");
	expect_bad(BASE "etcd = http://h:2379/v3\n", "key 'etcd'");
	expect_bad(BASE "etcd = http://h:2379,h2:2379\n", "key 'etcd': 'h2:2379'");

	/* cross-field checks in config_validate */
	expect_bad("node = n1\n", "key 'underlay-ipv4': required");
	expect_bad("underlay-ipv4 = 1.2.3.4\n", "key 'node': required");
	expect_bad("node = n1\nunderlay-ipv4 = 10.244.1.1\n",
		   "key 'underlay-ipv4': 10.244.1.1 lies inside cluster-ipv4 10.244.0.0/16");
	expect_bad(BASE "underlay-ipv6 = fd00:244:0:1::1\n",
		   "key 'underlay-ipv6': fd00:244:0:1::1 lies inside cluster-ipv6 fd00:244::/48");
	expect_bad("node = n1\nunderlay-ipv4 = 10.9.9.9\ncluster-ipv4 = 10.0.0.0/8\n",
		   "key 'underlay-ipv4'");
	expect_bad(BASE "cluster-ipv4 = 10.0.0.0/8\nblock-ipv4-len = 8\n",
		   "cluster-ipv4 10.0.0.0/8: block-ipv4-len 8 is not longer than the cluster prefix");
	expect_bad(BASE "block-ipv4-len = 12\n",
		   "cluster-ipv4 10.244.0.0/16: block-ipv4-len 12 is shorter than the cluster prefix");
	expect_bad(BASE "block-ipv6-len = 40\n",
		   "cluster-ipv6 fd00:244::/48: block-ipv6-len 40 is shorter than the cluster prefix");
	expect_bad(BASE "cluster-ipv4 = 10.0.0.1/8\n", "cluster-ipv4 10.0.0.1/8 has host bits set");
	expect_bad(BASE "cluster-ipv6 = fd00::1/64\nblock-ipv6-len = 96\n", "cluster-ipv6 fd00::1/64 has host bits");
	expect_bad(BASE "policy-backend = iptables\n", "key 'policy-backend'");
}

/* The shipped example must stay valid (the suite runs from the repository root). */
static void test_example(void)
{
	struct petreld_config c;
	char text[8192];
	FILE *f = fopen("etc/petreld.conf", "r");
	size_t n;

	if (!f) {
		printf("note: etc/petreld.conf not found from here; example not checked\n");
		return;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	CHECK(parse(&c, text) == 0);
	CHECK(config_validate(&c, err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "etc/petreld.conf: %s\n", err);
	CHECK_STR(c.node, "node1");
}

static void test_names(void)
{
	CHECK(name_valid("node-1") && name_valid("1abc") && name_valid("a") && name_valid("a-"));
	CHECK(name_valid("a23456789012345678901234567890123456789012345678901234567890123"));   /* 63 */
	CHECK(!name_valid("a234567890123456789012345678901234567890123456789012345678901234"));  /* 64 */
	CHECK(!name_valid("-a") && !name_valid("A") && !name_valid("") && !name_valid(NULL));
	CHECK(!name_valid("a_b") && !name_valid("a.b") && !name_valid("a b") && !name_valid("é"));
}

int main(void)
{
	test_defaults();
	test_good();
	test_set();
	test_bad();
	test_names();
	test_example();
	return harness_done("test_config");
}
