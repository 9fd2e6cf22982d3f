/* Frames and map set-up for tests/bpf/test_ioam.c: an IPv6 UDP frame with an optional
 * Hop-by-Hop header, one program run on it, and the IOAM maps filled as the agent would. */
#pragma once
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../unit/harness.h"
#include "tools/prog_run.h"
#include "ioam.skel.h"
#include "datapath.skel.h"
#include "bpf/datapath_abi.h"
#include "ioam.h"

#define TC_ACT_UNSPEC -1
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7
#define L3 14
#define HBH (L3 + 40)

static const char *POD_A = "fd00:244:0:1::5", *POD_B = "fd00:244:0:2::7";

struct frame {
	uint8_t buf[2048];
	uint32_t len;
};

/* UDP over IPv6 with 16 payload bytes; extra is an optional Hop-by-Hop header. */
static void udp6(struct frame *f, const char *src, const char *dst, const uint8_t *hbh, size_t hbh_len)
{
	struct ethhdr *eth = (void *)f->buf;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	uint8_t *p = (uint8_t *)(ip6 + 1);
	struct udphdr *udp;

	memset(f, 0, sizeof(*f));
	memset(eth->h_dest, 0xaa, 6);
	memset(eth->h_source, 0xbb, 6);
	eth->h_proto = htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->hop_limit = 63;
	inet_pton(AF_INET6, src, &ip6->saddr);
	inet_pton(AF_INET6, dst, &ip6->daddr);
	if (hbh_len) {
		ip6->nexthdr = 0;
		memcpy(p, hbh, hbh_len);
		p[0] = IPPROTO_UDP;
		p += hbh_len;
	} else {
		ip6->nexthdr = IPPROTO_UDP;
	}
	udp = (void *)p;
	udp->source = htons(4000);
	udp->dest = htons(5000);
	udp->len = htons(sizeof(*udp) + 16);
	memset(udp + 1, 0x5a, 16);
	ip6->payload_len = htons((uint16_t)(hbh_len + sizeof(*udp) + 16));
	f->len = (uint32_t)(L3 + 40 + hbh_len + sizeof(*udp) + 16);
}

static int run(struct bpf_program *prog, struct frame *f, struct frame *out)
{
	return prog_run(prog, f->buf, f->len, out->buf, sizeof(out->buf), &out->len);
}

static uint64_t stat_of(struct ioam_bpf *skel, int s)
{
	uint64_t per[256] = { 0 }, sum = 0;
	uint32_t key = (uint32_t)s;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.ioam_stats), &key, per);
	for (int i = 0; i < libbpf_num_possible_cpus() && i < 256; i++)
		sum += per[i];
	return sum;
}

static void set_node(struct ioam_bpf *skel, uint32_t id)
{
	struct ioam_node n = { .id = id, .id_wide = 0x1000000 + id };
	uint32_t zero = 0;

	bpf_map_update_elem(bpf_map__fd(skel->maps.ioam_node), &zero, &n, BPF_ANY);
}

static void add_ns(struct ioam_bpf *skel, uint32_t id, uint32_t data, uint64_t wide)
{
	struct ioam_ns v = { .data = data, .flags = IOAM_NS_KNOWN, .data_wide = wide };

	bpf_map_update_elem(bpf_map__fd(skel->maps.ioam_ns_table), &id, &v, BPF_ANY);
}

static void add_endpoint(struct ioam_bpf *skel, const char *ip, uint32_t ifindex)
{
	struct ep_key k = { .family = AF_INET6 };
	struct ep_info v = { .ifindex = ifindex };

	inet_pton(AF_INET6, ip, k.addr);
	bpf_map_update_elem(bpf_map__fd(skel->maps.endpoints), &k, &v, BPF_ANY);
}

static void del_endpoint(struct ioam_bpf *skel, const char *ip)
{
	struct ep_key k = { .family = AF_INET6 };

	inet_pton(AF_INET6, ip, k.addr);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.endpoints), &k);
}

/* Rules changed: the per-CPU memo of the last destination's rule is stale. */
static void bump_gen(struct ioam_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.ioam_encap_gen);
	uint32_t zero = 0, gen = 0;

	CHECK(bpf_map_lookup_elem(fd, &zero, &gen) == 0);
	gen++;
	CHECK(bpf_map_update_elem(fd, &zero, &gen, BPF_ANY) == 0);
}

static void set_encap(struct ioam_bpf *skel, const char *prefix, int plen, const struct ioam_opt_spec *o,
		      size_t n, uint32_t k, uint32_t freq_n, uint32_t slot)
{
	static struct ioam_encap e;
	struct ioam_encap_key key = { .prefixlen = (uint32_t)plen };
	char err[256];

	memset(&e, 0, sizeof(e));
	CHECK(ioam_template_build(o, n, &e, err, sizeof(err)) == 0);
	e.freq_k = k;
	e.freq_n = freq_n;
	e.slot = slot;
	inet_pton(AF_INET6, prefix, key.addr);
	CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.ioam_encap_slots), &slot, &e, BPF_ANY) == 0);
	CHECK(bpf_map_update_elem(bpf_map__fd(skel->maps.ioam_encap), &key, &slot, BPF_ANY) == 0);
	bump_gen(skel);
}

static uint32_t be32at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Traces exported by decap. */
static struct ioam_event last_ev;
static int n_ev;

static int on_event(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(last_ev)) {
		memcpy(&last_ev, data, sizeof(last_ev));
		n_ev++;
	}
	return 0;
}

/* Offset of the first IOAM option in a Hop-by-Hop header starting at HBH. */
static int find_opt(const struct frame *f, int nth)
{
	int end = HBH + (f->buf[HBH + 1] + 1) * 8, off = HBH + 2;

	while (off < end) {
		if (f->buf[off] == 0) {
			off++;
			continue;
		}
		if (f->buf[off] == IOAM_HBH_OPT && nth-- == 0)
			return off;
		off += 2 + f->buf[off + 1];
	}
	return -1;
}

/* The fixture the scenarios share, in order: each builds on the maps, counters and
 * frames the ones before it left (a transit visits what the encap produced). */
static char pin[64];
static struct ioam_bpf *skel;
static struct frame in, out, mid;
static struct ring_buffer *rb;
static int v, o;                 /* the last verdict and option offset */
