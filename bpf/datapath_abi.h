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
	__u32 identity;                /* security identity of its labels */
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

/* skb->mark bit: the tunnel key is already set (bpf_skb_get_tunnel_key cannot read back
 * a key set for transmission). */
#define MARK_KEYED (1u << 20)

#define LOC_SELF 1                 /* the prefix lives on this node */
#define LOC_HOST 2                 /* hand to this node's stack: a migration holds it there */
#define LOC_FROZEN 4               /* its endpoint is frozen: drop what its kernel still sends */

struct loc_info {
	__u8 node4[4];                 /* node's underlay IPv4 */
	__u8 node6[16];                /* node's underlay IPv6 (zero if none) */
	__u32 flags;
};

/* A flow that entered the cluster through a port published on another node and whose
 * endpoint has since migrated here: its replies go back through that node, whose
 * conntrack undoes the DNAT, so the client keeps seeing the address it connected to. */
struct return_key {
	__u32 family;
	__u8 proto;
	__u8 pad[3];
	__u8 ep_addr[16];              /* the endpoint's address and port */
	__u8 peer_addr[16];            /* the outside client's */
	__u16 ep_port, peer_port;      /* network order */
};

/* IOAM folded into the datapath (native mode): the slots of the pinned dp_tail prog array.
 * from_underlay hands Hop-by-Hop packets to IOAM_INGRESS, which hands them back to UNDERLAY
 * (from_underlay again); the native path of a local endpoint's sampled packets goes to
 * IOAM_ENCAP, which sends them on itself where to_native had decided (dp_xmit). An empty
 * slot makes the tail call fail, and the packet goes on as if IOAM were off. */
enum dp_tail_slot {
	DP_TAIL_IOAM_INGRESS,
	DP_TAIL_IOAM_ENCAP,
	DP_TAIL_UNDERLAY,
	DP_TAIL__MAX,
};

/* skb->cb[0] across those tail calls: a TC program's cb starts with whatever earlier
 * layers left there, so each marker is a value no one else writes, and is cleared once read.
 * What else goes across is in per-CPU maps (dp_xmit, dp_handback). */
#define DP_CB_IOAM_CALL 0x10a0ca11     /* a datapath program handed the packet to IOAM */
#define DP_CB_IOAM_DONE 0x10a0d0e5     /* IOAM handed it back */

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

/* Identities of addresses: every endpoint's /32 and /128, and the CIDRs policies name. */
#define DP_IDENTITY_WORLD 2

struct ipcache_info {
	__u32 identity;
};

/* Policy: LPM key over (endpoint, peer identity, direction, protocol, port prefix).
 * Exact endpoint, identity and direction; protocol 0 and port prefixes as wildcards. */
#define POLICY_KEY_FIXED_BITS (32 + 32 + 8)
#define POLICY_INGRESS 0
#define POLICY_EGRESS  1
#define POLICY_MAX_ENTRIES 262144

struct policy_key {
	__u32 prefixlen;
	__u32 ep_id;                   /* big endian, like every field below */
	__u32 identity;                /* 0 = any peer */
	__u8 dir;
	__u8 proto;
	__u16 port;
};

#define DP_VERDICT_ALLOW 1
#define DP_VERDICT_DENY  2
#define RULE_DEFAULT_DENY 0xffff

struct policy_value {
	__u8 verdict;
	__u8 pad;
	__u16 rule;
	__u32 policy_id;
};

struct enforce_info {
	__u8 ingress, egress;          /* a policy selects this endpoint in that direction */
	__u8 pad[2];
};

/* Connection tracking: a flow allowed once is allowed both ways until it goes idle. */
struct ct_key {
	__u8 family, proto;
	__u16 sport, dport;
	__u8 pad[2];
	__u8 saddr[16], daddr[16];
};

struct ct_value {
	__u64 last_seen;
	__u32 policy_id;               /* the policy that allowed the flow (0: none enforced) */
	__u32 pad;
};

/* A policy decision, sent to the agent (rate-limited) for `petrel flows`. */
struct flow_event {
	__u64 ts;
	__u8 family, proto, dir, verdict;
	__u16 sport, dport;
	__u16 rule;
	__u8 saddr[16], daddr[16];
	__u32 src_identity, dst_identity;
	__u32 ep_id;
	__u32 policy_id;
	__u32 len;
};

struct policy_counters {
	__u64 packets, bytes;
};

#define FLOW_EVENTS_PER_SEC 2000       /* per CPU; the rest are counted, not sent */

/* Per-CPU token bucket for flow events: window start (s), events sent in it, suppressed. */
struct flow_budget {
	__u64 second;
	__u64 sent;
	__u64 suppressed;
};

/* Drop reasons: an index into the drops map. Names live in agent/datapath.c. */
enum drop_reason {
	DROP_PARSE = 0,                /* truncated or malformed IP header */
	DROP_NO_ENDPOINT,              /* in this node's block, but no such endpoint */
	DROP_NO_LOCATION,              /* inside the cluster, but no node owns it */
	DROP_FIB,                      /* no route to the owning node */
	DROP_TUNNEL,                   /* could not set the tunnel key */
	DROP_NO_CONFIG,                /* the config map is empty */
	DROP_POLICY,                   /* denied by a policy rule or by default-deny */
	DROP_MIGRATING,                /* sent by a container frozen for migration */
	DROP__MAX,
};
