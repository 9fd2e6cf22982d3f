/* The IOAM maps the datapath reads too: encap rules, their sampling counters, the event
 * counters and the datapath's IOAM switch. The datapath samples a local endpoint's packets
 * inline and tail-calls the encap only for the chosen ones; both objects share these
 * maps by their pins. */
#pragma once
#include "common.h"
#include "../ioam_abi.h"

/* Encap rules: the trie gives a destination prefix's slot, the array holds the rule in
 * it. The datapath finds a packet's slot once and hands it to the encap, which reads the
 * rule by index instead of walking the trie again. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, IOAM_MAX_ENCAP);
	__type(key, struct ioam_encap_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_encap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOAM_MAX_ENCAP);
	__type(key, __u32);
	__type(value, struct ioam_encap);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_encap_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOAM_MAX_ENCAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_sample SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IOAM_ST__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_stats SEC(".maps");

/* IOAM_F_* bits: which roles this node's datapath hands packets to (array of one). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_flags SEC(".maps");

static __always_inline void ioam_stat(enum ioam_stat s)
{
	__u32 k = s;
	__u64 *n = bpf_map_lookup_elem(&ioam_stats, &k);

	if (n)
		(*n)++;
}

/* The generation of the encap rules (array of one): the agent moves it on whenever it has
 * written them, which makes every CPU's memo below stale. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_encap_gen SEC(".maps");

/* Per CPU, the rule of the last destination looked up (slot, or -1 for none): a packet
 * to the same destination as the one before, the common case of a flow, skips the trie
 * walk (an LPM look-up costs 40-50 ns here). */
struct ioam_encap_memo {
	__u32 daddr[4];
	__u32 gen;
	__s32 slot;
	__u32 valid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ioam_encap_memo);
} ioam_encap_memo SEC(".maps");

/* The encap rule for a destination, NULL when none applies. */
static __always_inline struct ioam_encap *ioam_encap_rule(const void *daddr)
{
	struct ioam_encap_key key = { .prefixlen = 128 };
	struct ioam_encap_memo *m;
	const __u32 *a = daddr;
	__u32 zero = 0, *gen, *found, slot;

	gen = bpf_map_lookup_elem(&ioam_encap_gen, &zero);
	m = bpf_map_lookup_elem(&ioam_encap_memo, &zero);
	if (!gen || !m)
		return NULL;
	if (!m->valid || m->gen != *gen || m->daddr[0] != a[0] || m->daddr[1] != a[1] ||
	    m->daddr[2] != a[2] || m->daddr[3] != a[3]) {
		__builtin_memcpy(key.addr, daddr, 16);
		found = bpf_map_lookup_elem(&ioam_encap, &key);
		__builtin_memcpy(m->daddr, daddr, 16);
		m->gen = *gen;
		m->slot = found ? (__s32)*found : -1;
		m->valid = 1;
	}
	if (m->slot < 0)
		return NULL;
	slot = (__u32)m->slot;
	return bpf_map_lookup_elem(&ioam_encap_slots, &slot);
}

/* The encap rule for a destination, when this packet is one of the K in N it samples
 * (counted per CPU); NULL otherwise, the unsampled ones counted. */
static __always_inline struct ioam_encap *ioam_encap_sampled(const void *daddr)
{
	struct ioam_encap *enc = ioam_encap_rule(daddr);
	__u32 *cnt;

	if (!enc)
		return NULL;
	cnt = bpf_map_lookup_elem(&ioam_sample, &enc->slot);
	if (!cnt || !enc->freq_n)
		return NULL;
	if (++*cnt >= enc->freq_n)
		*cnt = 0;
	if (*cnt >= enc->freq_k) {
		ioam_stat(IOAM_ST_NOT_SAMPLED);
		return NULL;
	}
	return enc;
}
