/* The IOAM programs' own maps (namespaces, node data, per-CPU scratch, the trace export
 * ring): kept apart from ioam_maps.h, whose maps the datapath object shares. */
#pragma once
#include "common.h"
#include "../ioam_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOAM_NS_IDS);
	__type(key, __u32);
	__type(value, struct ioam_ns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_ns_table SEC(".maps");

/* A configured namespace, NULL for an id this node does not know. */
static __always_inline struct ioam_ns *ns_known(__u32 id)
{
	struct ioam_ns *ns = bpf_map_lookup_elem(&ioam_ns_table, &id);

	return ns && (ns->flags & IOAM_NS_KNOWN) ? ns : NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ioam_node);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_node SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ioam_pcpu);
} ioam_pcpu SEC(".maps");

static __always_inline struct ioam_pcpu *pcpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ioam_pcpu, &zero);
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ioam_traces SEC(".maps");

/* Per-CPU scratch space (node data, a rebuilt header): the 512-octet stack is spent. */
struct keep_buf {
	__u8 b[512];                   /* twice the mask below: offset and length each < 256 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keep_buf);
} ioam_scratch SEC(".maps");

/* What the walk of an arriving Hop-by-Hop header's options found. */
struct hbh_walk {
	__u32 off;                     /* where the walk stopped */
	__u32 n;                       /* trace options (the 0x31 byte), at opt[] */
	__u32 others;                  /* options that are neither padding nor IOAM */
	__u32 opt[IOAM_MAX_OPTS];      /* offsets in the Hop-by-Hop header */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hbh_walk);
} ioam_hbh SEC(".maps");

static __always_inline struct ioam_node *node_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ioam_node, &zero);
}
