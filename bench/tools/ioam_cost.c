/* Per-packet cost of each IOAM role inside the datapath, measured with BPF_PROG_RUN on the
 * real programs tail-calling each other as on a node: no veth, no scheduler, no iperf3,
 * so what is left is the programs' own work per packet, which the throughput benchmark
 * (bench/ioam.sh) can only see through several percent of noise.
 *
 * In a network namespace of its own (prog_run_fib_netns: the native path's FIB lookup
 * succeeds there), it times single runs of:
 *   - encap: from_container, a local endpoint's UDP packet to another node's endpoint,
 *     IOAM encap off, then on with every packet sampled (trace type 0xf00000, room for 3
 *     nodes: 64 octets inserted);
 *   - transit: from_underlay on that packet for an endpoint of a third node, without IOAM
 *     (the packet as it was before encap) and with it;
 *   - decap: from_underlay on it for a local endpoint, without and with IOAM.
 * The frames are fresh for every run (BPF_PROG_RUN's repeat would run the encap on its own
 * output); medians over RUNS runs, rounds alternating off and on. BPF_PROG_RUN gives the
 * skb more headroom than a container's socket leaves, so the encap here never has to
 * reallocate the packet, which on a node it may.
 * Usage: ioam_cost [ROUNDS (default 5)] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath.skel.h"
#include "ioam.skel.h"
#include "bpf/datapath_abi.h"
#include "ioam.h"
#include "tools/prog_run.h"

#define TC_ACT_REDIRECT 7
#define RUNS 20001

static struct datapath_bpf *dp;
static struct ioam_bpf *io;
static char pin[64];
static int ifindex;                    /* the veth the FIB sends native traffic out of */

static const char *POD_A = "fd00:244:0:1::5", *POD_B = "fd00:244:0:2::7";

/* ns of one run of prog on the frame (its output in out), -1 on error. prog_run_on would
 * not give the time. */
static double run_once(struct bpf_program *prog, const uint8_t *in, uint32_t len, uint8_t *out,
		       uint32_t *out_len, int *verdict)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = 2048, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		return -1;
	*verdict = (int)opts.retval;
	*out_len = opts.data_size_out;
	return opts.duration;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_runs(struct bpf_program *prog, const uint8_t *in, uint32_t len, int want)
{
	static double v[RUNS];
	static uint8_t out[2048];
	uint32_t out_len;
	int verdict;

	for (int i = 0; i < RUNS; i++) {
		v[i] = run_once(prog, in, len, out, &out_len, &verdict);
		if (verdict != want) {
			fprintf(stderr, "ioam_cost: %s returned %d, not %d\n", bpf_program__name(prog),
				verdict, want);
			return -1;
		}
	}
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

static void tail(uint32_t slot, struct bpf_program *prog)
{
	int fd = prog ? bpf_program__fd(prog) : -1;

	if (prog)
		bpf_map_update_elem(bpf_map__fd(dp->maps.dp_tail), &slot, &fd, BPF_ANY);
	else
		bpf_map_delete_elem(bpf_map__fd(dp->maps.dp_tail), &slot);
}

static void encap_on(int on)
{
	uint32_t zero = 0, flags = on ? IOAM_F_ENCAP : 0;

	bpf_map_update_elem(bpf_map__fd(dp->maps.ioam_flags), &zero, &flags, BPF_ANY);
	tail(DP_TAIL_IOAM_ENCAP, on ? io->progs.ioam_egress : NULL);
}

static void endpoint(const char *ip, uint32_t ifx, int add)
{
	struct ep_key k = { .family = AF_INET6 };
	struct ep_info v = { .ifindex = ifx, .id = ifx, .identity = 300 + ifx };

	inet_pton(AF_INET6, ip, k.addr);
	if (add)
		bpf_map_update_elem(bpf_map__fd(dp->maps.endpoints), &k, &v, BPF_ANY);
	else
		bpf_map_delete_elem(bpf_map__fd(dp->maps.endpoints), &k);
}

static int setup(void)
{
	struct dp_cfg cfg = { .mode = DP_MODE_NATIVE, .cluster4_len = 16, .cluster6_len = 32 };
	struct loc6_key lk = { .prefixlen = 64 };
	struct loc_info lv = { 0 };
	struct ioam_node node = { .id = 1, .export_rate = 1000 };
	struct ioam_ns ns = { .data = 0xdeadbeef, .flags = IOAM_NS_KNOWN };
	struct ioam_opt_spec spec = { .ns = 123, .type = 0xf00000, .size = 48 };
	struct ioam_encap_key ek = { .prefixlen = 32 };
	static struct ioam_encap enc;
	uint32_t zero = 0, nsid = 123;
	char err[256];

	if ((ifindex = prog_run_fib_netns()) < 0)
		return -1;
	if (prog_run_pin_dir(pin, sizeof(pin), "ioamcost"))
		return -1;
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin);
	dp = datapath_bpf__open_opts(&opts);
	if (!dp || datapath_bpf__load(dp))
		return -1;
	io = ioam_bpf__open_opts(&opts);           /* shares the pinned maps */
	if (!io || ioam_bpf__load(io))
		return -1;
	inet_pton(AF_INET6, "fd00:244::", cfg.cluster6);
	inet_pton(AF_INET6, "fd00:198:18::11", cfg.self6);
	bpf_map_update_elem(bpf_map__fd(dp->maps.dp_config), &zero, &cfg, BPF_ANY);
	inet_pton(AF_INET6, "fd00:244:0:2::", lk.addr);
	inet_pton(AF_INET6, "fd00:198:18::12", lv.node6);
	bpf_map_update_elem(bpf_map__fd(dp->maps.locations6), &lk, &lv, BPF_ANY);
	endpoint(POD_A, 41, 1);
	bpf_map_update_elem(bpf_map__fd(io->maps.ioam_node), &zero, &node, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(io->maps.ioam_ns_table), &nsid, &ns, BPF_ANY);
	if (ioam_template_build(&spec, 1, &enc, err, sizeof(err)))
		return -1;
	enc.freq_k = enc.freq_n = 1;
	inet_pton(AF_INET6, "fd00:244::", ek.addr);
	bpf_map_update_elem(bpf_map__fd(io->maps.ioam_encap_slots), &enc.slot, &enc, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(io->maps.ioam_encap), &ek, &enc.slot, BPF_ANY);
	tail(DP_TAIL_UNDERLAY, dp->progs.from_underlay);
	tail(DP_TAIL_IOAM_INGRESS, io->progs.ioam_ingress);
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5, verdict, ret = 1;
	static uint8_t plain[2048], traced[2048];
	uint32_t plain_len, traced_len;
	double m[6][64], med[6];
	static const char *const names[3] = { "encap (node1, from_container)",
					      "transit (node3, from_underlay)",
					      "decap (node2, from_underlay)" };

	if (geteuid() != 0) {
		fprintf(stderr, "ioam_cost: needs root (BPF_PROG_RUN, a network namespace)\n");
		return 1;
	}
	if (rounds < 1 || rounds > 64)
		rounds = 5;
	if (setup()) {
		fprintf(stderr, "ioam_cost: cannot set up the namespace or load the programs\n");
		goto out;
	}
	plain_len = frame6(plain, POD_A, POD_B, 1200);   /* like bench/ioam.sh's iperf3 */
	encap_on(1);
	run_once(dp->progs.from_container, plain, plain_len, traced, &traced_len, &verdict);
	if (verdict != TC_ACT_REDIRECT || traced_len != plain_len + 64) {
		fprintf(stderr, "ioam_cost: the encap gave verdict %d, %u octets\n", verdict, traced_len);
		goto out;
	}
	for (int r = 0; r < rounds; r++) {
		for (int on = 0; on < 2; on++) {
			int o = r % 2 ? !on : on;     /* alternate the order */

			encap_on(o);
			m[o][r] = median_runs(dp->progs.from_container, plain, plain_len, TC_ACT_REDIRECT);
			m[2 + o][r] = median_runs(dp->progs.from_underlay, o ? traced : plain,
						  o ? traced_len : plain_len, TC_ACT_REDIRECT);
			endpoint(POD_B, 42, 1);
			m[4 + o][r] = median_runs(dp->progs.from_underlay, o ? traced : plain,
						  o ? traced_len : plain_len, TC_ACT_REDIRECT);
			endpoint(POD_B, 42, 0);
			if (m[o][r] < 0 || m[2 + o][r] < 0 || m[4 + o][r] < 0)
				goto out;
		}
	}
	for (int i = 0; i < 6; i++) {
		qsort(m[i], (size_t)rounds, sizeof(double), cmp);
		med[i] = m[i][rounds / 2];
	}
	printf("| role | datapath ns/packet without IOAM | with IOAM | IOAM's cost (ns) |\n|---|---|---|---|\n");
	for (int i = 0; i < 3; i++)
		printf("| %s | %.0f | %.0f | %.0f |\n", names[i], med[2 * i], med[2 * i + 1],
		       med[2 * i + 1] - med[2 * i]);
	printf("\nBPF_PROG_RUN, 1200-octet UDP, trace type 0xf00000 with room for 3 nodes, every "
	       "packet sampled; medians of %d rounds of %d single runs.\n", rounds, RUNS);
	ret = 0;
out:
	/* The pinned maps go on every way out, or each failed run would leave a set behind. */
	ioam_bpf__destroy(io);
	datapath_bpf__destroy(dp);
	if (pin[0] && prog_run_pin_dir_remove(pin))
		ret = 1;
	return ret;
}
