/* The local endpoints map on its own, so programs outside the datapath (IOAM) can share
 * the pinned map by including just this definition. */
#pragma once
#include "../datapath_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DP_MAX_ENDPOINTS);
	__type(key, struct ep_key);
	__type(value, struct ep_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints SEC(".maps");
