/* The prog array through which the datapath and IOAM hand packets to each other (slots and
 * skb->cb markers in bpf/datapath_abi.h). Both objects include this definition and share the
 * pinned map by name; the agent fills the slots. */
#pragma once
#include "../datapath_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, DP_TAIL__MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_tail SEC(".maps");

/* What ioam_ingress learnt about the destination before handing a packet back to
 * from_underlay, which then need not look the endpoint up a second time (per CPU: the
 * hand-back runs on the same CPU, in the same softirq run). valid is set by ioam_ingress
 * for the packet it hands back and cleared by from_underlay once read. */
struct dp_handback {
	__u32 valid;
	__u32 local;                   /* the destination is a local endpoint: ep */
	struct ep_info ep;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dp_handback);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_handback SEC(".maps");

/* What to_native decided for a packet it hands to the IOAM encap (same CPU, same softirq
 * run): where to send it, which the encap does itself when done, with no tail call back;
 * the rule that sampled it; the egress MTU. */
struct dp_xmit {
	__u32 ifindex;
	__u32 neigh;                           /* bpf_redirect_neigh with nh, else bpf_redirect */
	struct bpf_redir_neigh nh;
	__u32 slot;                            /* the encap rule, in ioam_encap_slots */
	__u32 mtu;                             /* the FIB's MTU of ifindex, 0 when it gave none */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dp_xmit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_xmit SEC(".maps");

/* Send a packet out of ifindex as to_native decided: through the neighbour table to nh
 * when the FIB had not resolved the next hop's address, else straight. */
static __always_inline int xmit_redirect(__u32 ifindex, struct bpf_redir_neigh *nh)
{
	return nh ? bpf_redirect_neigh(ifindex, nh, sizeof(*nh), 0) : bpf_redirect(ifindex, 0);
}
