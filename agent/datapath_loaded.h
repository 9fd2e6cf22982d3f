/* Internal to agent/datapath.c (loading, endpoints, locations, ipcache) and
 * agent/datapath_policy.c (policy rules, counters, the flow log): the loaded datapath. */
#pragma once
#include <stdint.h>
#include "datapath.h"
#include "datapath.skel.h"

struct datapath {
	struct datapath_bpf *skel;
	struct ring_buffer *flows;
	dp_flow_cb flow_cb;
	void *flow_arg;
	uint8_t self4[4];                /* this node's underlay IPv4, for LOC_SELF */
	_Atomic uint64_t full_locations, full_ipcache;
};
/* A per-CPU map value of n_u64 counters at key, summed over the CPUs into sum. */
int percpu_sum(int fd, const void *key, uint64_t *sum, size_t n_u64);
