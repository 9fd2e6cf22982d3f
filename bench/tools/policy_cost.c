/* Per-packet cost of petrel's policy enforcement against the rule count, measured on the
 * real datapath program with BPF_PROG_RUN: no veth, no scheduler, no iperf3, so the noise
 * that swamps a 5% band in the throughput benchmark (bench/policy.sh) is gone, and what is
 * left is the program's own work per packet.
 *
 * A policed endpoint (10.244.1.21, ingress) gets N non-matching CIDR rules (100.a.b.0/24,
 * each its own identity, allowed to port 80) plus the rule that allows 198.18.0.0/24 to
 * port 80. For N = 0 ... 10000 it times, on from_underlay:
 *   - denied: a packet from 203.0.113.9 (no rule matches): default-deny after the full
 *     lookup, every time (a denied flow leaves no conntrack entry);
 *   - new flow: a TCP packet from 198.18.0.254 with a fresh source port each time,
 *     allowed by the last rule and entered into conntrack;
 *   - established: the same allowed flow again (conntrack hit, the policy is skipped).
 * Rounds alternate between rule counts; medians are reported, with the ratio to N = 0
 * measured in the same run.
 * Usage: policy_cost [ROUNDS (default 5)] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "bpf/datapath_abi.h"
#include "tools/prog_run.h"

#define TC_ACT_SHOT 2
#define ALLOWED_ID 16
#define CIDR_ID_BASE 100000
#define REPEAT 200000          /* runs per timing of one packet (denied, established) */
#define NEW_FLOWS 20000        /* distinct flows per timing of new flows */

static const int counts[] = { 0, 100, 1000, 10000 };
#define N_COUNTS (int)(sizeof(counts) / sizeof(counts[0]))

static struct datapath_bpf *skel;
static char pin[64];                   /* the maps' pin directory */

/* Mean ns per run of from_underlay on the frame, over repeat runs; -1 on error. */
static double run_ns(const uint8_t *frame, uint32_t len, int repeat, int *verdict)
{
	uint8_t out[256];
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.from_underlay), &opts))
		return -1;
	*verdict = (int)opts.retval;
	return opts.duration;     /* the kernel reports the mean per run */
}

static void rule(uint32_t identity, int add)
{
	struct policy_key k = { .prefixlen = POLICY_KEY_FIXED_BITS + 8 + 16, .ep_id = htonl(11),
				.identity = htonl(identity), .dir = POLICY_INGRESS,
				.proto = IPPROTO_TCP, .port = htons(80) };
	struct policy_value v = { .verdict = DP_VERDICT_ALLOW, .policy_id = identity };

	if (add)
		bpf_map_update_elem(bpf_map__fd(skel->maps.policy), &k, &v, BPF_ANY);
	else
		bpf_map_delete_elem(bpf_map__fd(skel->maps.policy), &k);
}

static void cidr(const char *prefix, uint32_t len, uint32_t identity, int add)
{
	struct loc4_key k = { .prefixlen = len };
	struct ipcache_info v = { .identity = identity };

	inet_pton(AF_INET, prefix, k.addr);
	if (add)
		bpf_map_update_elem(bpf_map__fd(skel->maps.ipcache4), &k, &v, BPF_ANY);
	else
		bpf_map_delete_elem(bpf_map__fd(skel->maps.ipcache4), &k);
}

/* Grow or shrink the non-matching rules to n (rule i: 100.(i/256).(i%256).0/24). */
static void set_rules(int *have, int n)
{
	char prefix[32];

	for (; *have < n; (*have)++) {
		snprintf(prefix, sizeof(prefix), "100.%d.%d.0", *have / 256, *have % 256);
		cidr(prefix, 24, CIDR_ID_BASE + (uint32_t)*have, 1);
		rule(CIDR_ID_BASE + (uint32_t)*have, 1);
	}
	for (; *have > n; (*have)--) {
		snprintf(prefix, sizeof(prefix), "100.%d.%d.0", (*have - 1) / 256, (*have - 1) % 256);
		cidr(prefix, 24, 0, 0);
		rule(CIDR_ID_BASE + (uint32_t)*have - 1, 0);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int setup(void)
{
	struct dp_cfg cfg = { .mode = DP_MODE_NATIVE, .cluster4_len = 16, .cluster6_len = 48 };
	struct ep_key ek = { .family = AF_INET };
	struct ep_info ev = { .ifindex = 1, .id = 11, .identity = 301 };
	struct enforce_info en = { .ingress = 1 };
	struct loc4_key lk = { .prefixlen = 24 };
	struct loc_info lv = { .flags = LOC_SELF };
	uint32_t zero = 0, ep = 11;

	int ret = prog_run_pin_dir(pin, sizeof(pin), "bench");

	if (ret)
		return ret;
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin);
	skel = datapath_bpf__open_opts(&opts);
	if (!skel || datapath_bpf__load(skel))
		return -EINVAL;
	inet_pton(AF_INET, "10.244.0.0", cfg.cluster4);
	inet_pton(AF_INET6, "fd00:244::", cfg.cluster6);
	inet_pton(AF_INET, "198.18.0.11", cfg.self4);
	bpf_map_update_elem(bpf_map__fd(skel->maps.dp_config), &zero, &cfg, BPF_ANY);
	inet_pton(AF_INET, "10.244.1.21", ek.addr);
	bpf_map_update_elem(bpf_map__fd(skel->maps.endpoints), &ek, &ev, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(skel->maps.enforce), &ep, &en, BPF_ANY);
	inet_pton(AF_INET, "10.244.1.0", lk.addr);
	inet_pton(AF_INET, "198.18.0.11", lv.node4);
	bpf_map_update_elem(bpf_map__fd(skel->maps.locations4), &lk, &lv, BPF_ANY);
	cidr("198.18.0.0", 24, ALLOWED_ID, 1);
	rule(ALLOWED_ID, 1);
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5, have = 0, v;
	double denied[N_COUNTS][64], fresh[N_COUNTS][64], est[N_COUNTS][64], m[3][N_COUNTS];
	uint8_t frame[128];
	uint32_t len;
	uint16_t sport = 1024;

	if (geteuid() != 0) {
		fprintf(stderr, "policy_cost: needs root (BPF_PROG_RUN)\n");
		return 1;
	}
	if (rounds < 1 || rounds > 64)
		rounds = 5;
	if (setup()) {
		fprintf(stderr, "policy_cost: cannot load the datapath\n");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		for (int c = 0; c < N_COUNTS; c++) {
			int i = r % 2 ? N_COUNTS - 1 - c : c;    /* alternate the order */
			double sum = 0;

			set_rules(&have, counts[i]);
			len = frame4(frame, IPPROTO_TCP, "203.0.113.9", 5555, "10.244.1.21", 80);
			denied[i][r] = run_ns(frame, len, REPEAT, &v);
			if (v != TC_ACT_SHOT)
				fprintf(stderr, "policy_cost: the denied packet got verdict %d\n", v);
			for (int f = 0; f < NEW_FLOWS; f++) {
				if (++sport < 1024)
					sport = 1024;
				len = frame4(frame, IPPROTO_TCP, "198.18.0.254", sport, "10.244.1.21", 80);
				sum += run_ns(frame, len, 1, &v);
				if (v == TC_ACT_SHOT && f == 0)
					fprintf(stderr, "policy_cost: the allowed packet was dropped\n");
			}
			fresh[i][r] = sum / NEW_FLOWS;
			est[i][r] = run_ns(frame, len, REPEAT, &v);
		}
	}
	for (int c = 0; c < N_COUNTS; c++) {
		m[0][c] = median(denied[c], rounds);
		m[1][c] = median(fresh[c], rounds);
		m[2][c] = median(est[c], rounds);
	}
	printf("| non-matching rules | denied ns/packet (vs 0) | new allowed flow ns/packet (vs 0) | established ns/packet (vs 0) |\n");
	printf("|---|---|---|---|\n");
	for (int c = 0; c < N_COUNTS; c++)
		printf("| %d | %.0f (%.3f) | %.0f (%.3f) | %.0f (%.3f) |\n", counts[c], m[0][c],
		       m[0][c] / m[0][0], m[1][c], m[1][c] / m[1][0], m[2][c], m[2][c] / m[2][0]);
	printf("\nBPF_PROG_RUN on from_underlay, %d rounds (medians), %d runs per denied and "
	       "established timing, %d distinct new flows per new-flow timing.\n", rounds, REPEAT,
	       NEW_FLOWS);
	datapath_bpf__destroy(skel);
	return prog_run_pin_dir_remove(pin) ? 1 : 0;
}
