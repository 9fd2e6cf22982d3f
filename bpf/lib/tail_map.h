/* The prog array through which the datapath and IOAM hand packets to each other (slots and
 * skb->cb markers in bpf/datapath.h). Both objects include this definition and share the
 * pinned map by name; the agent fills the slots. */
#pragma once
#include "../datapath.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, DP_TAIL__MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dp_tail SEC(".maps");
