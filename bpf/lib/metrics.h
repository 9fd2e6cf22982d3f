/* Per-endpoint counters and named drop reasons. */
#pragma once
#include "common.h"
#include "maps.h"

static __always_inline void count(__u32 ifindex, __u32 len, bool rx)
{
	struct ep_metrics *m = bpf_map_lookup_elem(&metrics, &ifindex);

	if (!m) {
		struct ep_metrics zero = {};
		bpf_map_update_elem(&metrics, &ifindex, &zero, BPF_NOEXIST);
		m = bpf_map_lookup_elem(&metrics, &ifindex);
		if (!m)
			return;
	}
	if (rx) {
		m->rx_packets++;
		m->rx_bytes += len;
	} else {
		m->tx_packets++;
		m->tx_bytes += len;
	}
}

static __always_inline int drop(enum drop_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);

	if (n)
		(*n)++;
	return TC_ACT_SHOT;
}
