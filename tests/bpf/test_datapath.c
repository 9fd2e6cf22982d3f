/* BPF_PROG_RUN fixtures for the datapath: packets built here run through the real TC
 * programs; the verdict, the output bytes, the counters and the drop reasons are checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../unit/harness.h"
#include "tools/prog_run.h"
#include "datapath.skel.h"
#include "bpf/datapath_abi.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

static const uint8_t EP_MAC[6] = { 0x02, 0x50, 1, 2, 3, 4 };
static const uint8_t HOST_MAC[6] = { 0x02, 0x48, 1, 2, 3, 4 };

struct frame {
	uint8_t buf[256];
	uint32_t len;
};

static void udp4(struct frame *f, const char *src, const char *dst)
{
	memset(f, 0, sizeof(*f));
	f->len = frame4(f->buf, IPPROTO_UDP, src, 1000, dst, 7000);
}

static void udp6(struct frame *f, const char *src, const char *dst)
{
	memset(f, 0, sizeof(*f));
	f->len = frame6(f->buf, src, dst, 4);
}

/* A TCP-like IPv4 packet: only the ports matter to the datapath's parser. */
static void tcp4(struct frame *f, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	memset(f, 0, sizeof(*f));
	f->len = frame4(f->buf, IPPROTO_TCP, src, sport, dst, dport);
}

/* Run prog on frame f; returns the verdict and leaves the output in out. */
static int run(struct bpf_program *prog, struct frame *f, struct frame *out)
{
	int v = prog_run(prog, f->buf, f->len, out->buf, sizeof(out->buf), &out->len);

	return v == -100 ? -1 : v;
}

static uint64_t drops_of(struct datapath_bpf *skel, int reason)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t per[256] = { 0 }, sum = 0;
	uint32_t key = (uint32_t)reason;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &key, per);
	for (int i = 0; i < ncpu && i < 256; i++)
		sum += per[i];
	return sum;
}

static void add_endpoint_id(struct datapath_bpf *skel, int family, const char *ip, uint32_t ifindex,
			    uint32_t id, uint32_t identity)
{
	struct ep_key k = { .family = (uint32_t)family };
	struct ep_info v = { .ifindex = ifindex, .id = id, .identity = identity };

	inet_pton(family, ip, k.addr);
	memcpy(v.mac, EP_MAC, 6);
	memcpy(v.host_mac, HOST_MAC, 6);
	bpf_map_update_elem(bpf_map__fd(skel->maps.endpoints), &k, &v, BPF_ANY);
}

static void add_policy(struct datapath_bpf *skel, uint32_t ep, uint32_t identity, uint8_t dir,
		       uint16_t port, uint8_t verdict, uint32_t policy_id)
{
	struct policy_key k = { .prefixlen = POLICY_KEY_FIXED_BITS + 8 + 16, .ep_id = htonl(ep),
				.identity = htonl(identity), .dir = dir, .proto = IPPROTO_TCP,
				.port = htons(port) };
	struct policy_value v = { .verdict = verdict, .policy_id = policy_id };

	bpf_map_update_elem(bpf_map__fd(skel->maps.policy), &k, &v, BPF_ANY);
}

static void set_enforce(struct datapath_bpf *skel, uint32_t ep, int ingress, int egress)
{
	struct enforce_info e = { .ingress = (uint8_t)ingress, .egress = (uint8_t)egress };

	bpf_map_update_elem(bpf_map__fd(skel->maps.enforce), &ep, &e, BPF_ANY);
}

static uint64_t policy_packets(struct datapath_bpf *skel, uint32_t policy_id)
{
	struct policy_counters per[256];
	uint64_t sum = 0;

	memset(per, 0, sizeof(per));
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.policy_stats), &policy_id, per);
	for (int i = 0; i < libbpf_num_possible_cpus(); i++)
		sum += per[i].packets;
	return sum;
}

/* Policy fixtures: allow, deny over allow, default-deny, replies of allowed flows, CIDR. */
static void test_policy(struct datapath_bpf *skel)
{
	struct frame in, out;
	struct loc4_key ck = { .prefixlen = 24 };
	struct ipcache_info ci = { .identity = 16 };
	uint64_t denied = drops_of(skel, DROP_POLICY);

	add_endpoint_id(skel, AF_INET, "10.244.1.20", 1, 10, 300);   /* S: app1 */
	add_endpoint_id(skel, AF_INET, "10.244.1.21", 1, 11, 301);   /* D: app2 */
	set_enforce(skel, 11, 1, 0);                                  /* D: ingress policed */
	add_policy(skel, 11, 300, POLICY_INGRESS, 80, DP_VERDICT_ALLOW, 77);

	tcp4(&in, "10.244.1.20", 1000, "10.244.1.21", 80);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_REDIRECT);     /* allow */
	CHECK(policy_packets(skel, 77) == 1);
	tcp4(&in, "10.244.1.20", 1001, "10.244.1.21", 81);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_SHOT);         /* default-deny */
	CHECK(drops_of(skel, DROP_POLICY) == denied + 1);
	CHECK(policy_packets(skel, 0) >= 1);

	/* Established flows skip the policy and still count for it. */
	tcp4(&in, "10.244.1.20", 1000, "10.244.1.21", 80);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_REDIRECT);
	CHECK(policy_packets(skel, 77) == 2);

	/* Deny for any peer wins over the allow for app1, for a new flow. */
	add_policy(skel, 11, 0, POLICY_INGRESS, 80, DP_VERDICT_DENY, 78);
	tcp4(&in, "10.244.1.20", 1002, "10.244.1.21", 80);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_SHOT);
	CHECK(policy_packets(skel, 78) == 1);

	/* Replies: S now polices its ingress with no rule; the reply of S's allowed flow
	 * passes, a new flow from D to S does not. */
	set_enforce(skel, 10, 1, 0);
	tcp4(&in, "10.244.1.21", 80, "10.244.1.20", 1000);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_REDIRECT);
	tcp4(&in, "10.244.1.21", 80, "10.244.1.20", 2000);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_SHOT);

	/* CIDR peers: 198.18.0.0/24 has identity 16, allowed to 8080; others are world. */
	inet_pton(AF_INET, "198.18.0.0", ck.addr);
	bpf_map_update_elem(bpf_map__fd(skel->maps.ipcache4), &ck, &ci, BPF_ANY);
	add_policy(skel, 11, 16, POLICY_INGRESS, 8080, DP_VERDICT_ALLOW, 79);
	tcp4(&in, "198.18.0.254", 5555, "10.244.1.21", 8080);
	CHECK(run(skel->progs.from_underlay, &in, &out) == TC_ACT_REDIRECT);
	CHECK(policy_packets(skel, 79) == 1);
	tcp4(&in, "203.0.113.9", 5555, "10.244.1.21", 8080);
	CHECK(run(skel->progs.from_underlay, &in, &out) == TC_ACT_SHOT);
	/* the same client through the host stack (published port) meets the same policy */
	tcp4(&in, "203.0.113.9", 5556, "10.244.1.21", 8080);
	CHECK(run(skel->progs.to_container, &in, &out) == TC_ACT_SHOT);
}

static void add_endpoint(struct datapath_bpf *skel, int family, const char *ip, uint32_t ifindex)
{
	struct ep_key k = { .family = (uint32_t)family };
	struct ep_info v = { .ifindex = ifindex, .id = 7 };

	inet_pton(family, ip, k.addr);
	memcpy(v.mac, EP_MAC, 6);
	memcpy(v.host_mac, HOST_MAC, 6);
	bpf_map_update_elem(bpf_map__fd(skel->maps.endpoints), &k, &v, BPF_ANY);
}

static void add_loc4(struct datapath_bpf *skel, const char *prefix, int len, const char *node, int self)
{
	struct loc4_key k = { .prefixlen = (uint32_t)len };
	struct loc_info v = { .flags = self ? LOC_SELF : 0 };

	inet_pton(AF_INET, prefix, k.addr);
	inet_pton(AF_INET, node, v.node4);
	bpf_map_update_elem(bpf_map__fd(skel->maps.locations4), &k, &v, BPF_ANY);
}

int main(void)
{
	char pin[64];
	struct datapath_bpf *skel;
	struct frame in, out;
	struct dp_cfg cfg = { .mode = DP_MODE_VXLAN, .vxlan_ifindex = 1, .cluster4_len = 16, .cluster6_len = 48 };
	uint32_t zero = 0;
	int v;

	if (geteuid() != 0) {
		printf("SKIP: BPF_PROG_RUN needs root\n");
		return HARNESS_SKIP;
	}
	if (prog_run_pin_dir(pin, sizeof(pin), "test")) {
		printf("SKIP: no bpffs at /sys/fs/bpf (%s)\n", strerror(errno));
		return HARNESS_SKIP;
	}
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin);
	skel = datapath_bpf__open_opts(&opts);
	CHECK(skel != NULL);
	if (!skel || datapath_bpf__load(skel)) {
		fprintf(stderr, "cannot load the datapath\n");
		return 1;
	}
	inet_pton(AF_INET, "10.244.0.0", cfg.cluster4);
	inet_pton(AF_INET6, "fd00:244::", cfg.cluster6);
	inet_pton(AF_INET, "198.18.0.11", cfg.self4);
	bpf_map_update_elem(bpf_map__fd(skel->maps.dp_config), &zero, &cfg, BPF_ANY);
	add_endpoint(skel, AF_INET, "10.244.1.3", 1);
	add_endpoint(skel, AF_INET6, "fd00:244:0:1::3", 1);
	add_loc4(skel, "10.244.1.0", 24, "198.18.0.11", 1);
	add_loc4(skel, "10.244.2.0", 24, "198.18.0.12", 0);

	/* Local delivery, IPv4: redirect to the peer with the MACs rewritten. */
	udp4(&in, "10.244.1.2", "10.244.1.3");
	v = run(skel->progs.from_container, &in, &out);
	CHECK(v == TC_ACT_REDIRECT);
	CHECK(memcmp(out.buf, EP_MAC, 6) == 0 && memcmp(out.buf + 6, HOST_MAC, 6) == 0);
	CHECK(memcmp(out.buf + 12, in.buf + 12, in.len - 12) == 0);   /* L3 and up untouched */

	/* Local delivery, IPv6, arriving over the overlay. */
	udp6(&in, "fd00:244:0:2::9", "fd00:244:0:1::3");
	v = run(skel->progs.from_overlay, &in, &out);
	CHECK(v == TC_ACT_REDIRECT);
	CHECK(memcmp(out.buf, EP_MAC, 6) == 0);

	/* Remote node, vxlan mode: tunnel key set and redirected to the VXLAN device. */
	udp4(&in, "10.244.1.2", "10.244.2.5");
	v = run(skel->progs.from_container, &in, &out);
	CHECK(v == TC_ACT_REDIRECT);
	CHECK(memcmp(out.buf, in.buf, in.len) == 0);   /* the inner frame is sent as it is */

	/* A /32 entry pointing at this node wins over node2's block: no such endpoint → drop. */
	add_loc4(skel, "10.244.2.5", 32, "198.18.0.11", 1);
	uint64_t before = drops_of(skel, DROP_NO_ENDPOINT);
	v = run(skel->progs.from_container, &in, &out);
	CHECK(v == TC_ACT_SHOT);
	CHECK(drops_of(skel, DROP_NO_ENDPOINT) == before + 1);

	/* In our own block but no endpoint: dropped and counted as no-endpoint. */
	udp4(&in, "10.244.2.7", "10.244.1.99");
	v = run(skel->progs.from_underlay, &in, &out);
	CHECK(v == TC_ACT_SHOT);
	CHECK(drops_of(skel, DROP_NO_ENDPOINT) == before + 2);

	/* Inside the cluster CIDR but in no block: no-location. */
	udp4(&in, "10.244.1.2", "10.244.77.1");
	v = run(skel->progs.from_container, &in, &out);
	CHECK(v == TC_ACT_SHOT && drops_of(skel, DROP_NO_LOCATION) == 1);

	/* Outside the cluster: handed to the host stack untouched. */
	udp4(&in, "10.244.1.2", "198.18.0.254");
	v = run(skel->progs.from_container, &in, &out);
	CHECK(v == TC_ACT_OK && memcmp(out.buf, in.buf, in.len) == 0);
	udp6(&in, "fd00:244:0:1::2", "fd00:198:18::254");
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_OK);

	/* Non-IP frames (ARP) pass. */
	udp4(&in, "10.244.1.2", "10.244.1.3");
	((struct ethhdr *)in.buf)->h_proto = htons(ETH_P_ARP);
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_OK);

	/* An IPv4 header whose length lies past the packet is a parse error. (The kernel's
	 * BPF_PROG_RUN itself refuses frames shorter than a full IP header.) */
	udp4(&in, "10.244.1.2", "10.244.1.3");
	in.len = sizeof(struct ethhdr) + sizeof(struct iphdr);
	((struct iphdr *)(in.buf + sizeof(struct ethhdr)))->ihl = 15;
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_SHOT);
	CHECK(drops_of(skel, DROP_PARSE) == 1);
	udp4(&in, "10.244.1.2", "10.244.1.3");
	((struct iphdr *)(in.buf + sizeof(struct ethhdr)))->ihl = 3;
	CHECK(run(skel->progs.from_container, &in, &out) == TC_ACT_SHOT);
	CHECK(drops_of(skel, DROP_PARSE) == 2);

	/* Counters: tx counted on the sending veth (ifindex 1 in the test context). */
	struct ep_metrics per[256];
	uint32_t idx = 1;
	uint64_t tx = 0, rx = 0;
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.metrics), &idx, per) == 0);
	for (int i = 0; i < libbpf_num_possible_cpus(); i++) {
		tx += per[i].tx_packets;
		rx += per[i].rx_packets;
	}
	CHECK(tx >= 6 && rx >= 2);

	test_policy(skel);

	/* Native mode: a remote destination goes through the FIB. Under BPF_PROG_RUN the
	 * node address has no route in this netns, so the FIB answers "no route": dropped
	 * and counted, which proves the native branch ran. */
	cfg.mode = DP_MODE_NATIVE;
	bpf_map_update_elem(bpf_map__fd(skel->maps.dp_config), &zero, &cfg, BPF_ANY);
	add_loc4(skel, "10.244.2.5", 32, "198.18.0.12", 0);
	udp4(&in, "10.244.1.2", "10.244.2.5");
	v = run(skel->progs.from_container, &in, &out);
	CHECK((v == TC_ACT_SHOT && drops_of(skel, DROP_FIB) == 1) || v == TC_ACT_REDIRECT);

	datapath_bpf__destroy(skel);
	if (prog_run_pin_dir_remove(pin))
		return 1;
	return harness_done("test_datapath");
}
