/* Types and constants shared by the eBPF datapath and its user-space loader. Nothing else
 * lives here: maps are in bpf/lib/maps.h, logic in bpf/lib/ and bpf/datapath.bpf.c. */
#pragma once

#ifndef __bpf__
#include <linux/types.h>
#endif

#define DP_MODE_VXLAN   0
#define DP_MODE_NATIVE  1
#define DP_VNI          1          /* one overlay network for now */
#define DP_MAX_ENDPOINTS 16384
#define DP_MAX_LOCATIONS 65536

/* An endpoint address: the key of the local endpoints map. */
struct ep_key {
	__u32 family;                  /* AF_INET (2) or AF_INET6 (10) */
	__u8 addr[16];                 /* IPv4 in the first 4 bytes */
};

struct ep_info {
	__u32 ifindex;                 /* host side of the veth */
	__u32 id;
	__u8 mac[6];                   /* container side */
	__u8 host_mac[6];
};

/* LPM keys: a node's block, or a /32 (/128) endpoint entry that wins over the block. */
struct loc4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct loc6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#define LOC_SELF 1                 /* the prefix lives on this node */

struct loc_info {
	__u8 node4[4];                 /* node's underlay IPv4 */
	__u8 node6[16];                /* node's underlay IPv6 (zero if none) */
	__u32 flags;
};

struct dp_cfg {
	__u32 mode;                    /* DP_MODE_* */
	__u32 underlay_ifindex;
	__u32 vxlan_ifindex;
	__u8 self4[4];
	__u8 self6[16];
	__u8 cluster4[4];
	__u32 cluster4_len;
	__u8 cluster6[16];
	__u32 cluster6_len;
};

struct ep_metrics {
	__u64 rx_packets, rx_bytes;    /* delivered to the endpoint */
	__u64 tx_packets, tx_bytes;    /* sent by the endpoint */
};

/* Drop reasons: an index into the drops map. Names live in agent/datapath.c. */
enum drop_reason {
	DROP_PARSE = 0,                /* truncated or malformed IP header */
	DROP_NO_ENDPOINT,              /* in this node's block, but no such endpoint */
	DROP_NO_LOCATION,              /* inside the cluster, but no node owns it */
	DROP_FIB,                      /* no route to the owning node */
	DROP_TUNNEL,                   /* could not set the tunnel key */
	DROP_NO_CONFIG,                /* the config map is empty */
	DROP__MAX,
};
