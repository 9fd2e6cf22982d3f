/* Types shared by the latency-accounting probes (bpf/latency.bpf.c) and the agent
 * (agent/latency.c): the per-packet record, the enabled-namespace entry and the counters.
 * Plain fixed-size integer types only, so both sides see the same layout. */
#pragma once

#define LAT_MAX_CONTAINERS 64        /* enabled endpoints per node (counter slots) */
#define LAT_INFLIGHT_MAX   16384     /* egress packets between start and underlay */
#define LAT_RX_RING        256       /* per-CPU ring of underlay receptions (power of 2) */
#define LAT_RX_MAX_AGE_NS  200000000ULL /* a reception older than this never matches */
#define LAT_SYSCALL_MAX_AGE_NS 20000000ULL
#define LAT_EXPIRE_NS      1000000000ULL /* egress entries older than this are expired */

enum lat_dir {
	LAT_EGRESS = 0,                  /* container socket -> underlay transmission */
	LAT_INGRESS = 1,                 /* underlay reception -> container socket */
};

/* How the two ends of a packet were tied together. */
enum lat_match {
	LAT_MATCH_SKB = 0,               /* same sk_buff at both ends */
	LAT_MATCH_KEY = 1,               /* packet key (ICMP id/seq, 5-tuple + seq or payload hash) */
	LAT_MATCH_HEAD = 2,              /* same packet buffer (a clone delivered to the socket) */
};

/* Where the egress clock started. */
enum lat_start {
	LAT_START_SYSCALL = 0,           /* entry of the sending system call */
	LAT_START_QUEUE = 1,             /* first transmission in the container (no syscall: e.g. TCP ACK) */
};

/* Correlation key of a packet: its protocol-level identity, addresses left out so that a
 * masqueraded packet keeps its key. ICMP: id and sequence; TCP: ports and sequence (ingress:
 * end sequence); UDP: ports and a hash of length and first payload bytes. */
struct lat_key {
	__u32 netns;                     /* container's network namespace inode */
	__u8 proto;                      /* IPPROTO_ICMP, _ICMPV6, _TCP, _UDP */
	__u8 dir;
	__u16 id;                        /* ICMP id, or 0 */
	__u32 ports;                     /* sport << 16 | dport (host order), or 0 */
	__u32 seq;                       /* ICMP seq, TCP seq, UDP payload hash */
};

/* One packet's accounted latency; the ring buffer carries these to the agent. */
struct lat_event {
	__u64 ts_ns;                     /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at the end point */
	__u64 latency_ns;
	__u32 netns;
	__u8 dir, proto, family, match;
	__u8 start;                      /* enum lat_start (egress) */
	__u8 pad[3];
	__u16 id;                        /* ICMP id */
	__u16 sport, dport;              /* host order */
	__u16 pad2;
	__u32 seq;                       /* ICMP seq, TCP seq; UDP payload hash */
	__u32 len;                       /* IP packet length */
	__u8 src[16], dst[16];           /* addresses as the container sees them */
	__u64 stack_ns;                  /* egress: part spent before the container's interface */
};

/* Key of a UDP datagram: its first payload bytes (up to 8, little-endian, zero-padded)
 * mixed with the UDP length, the same on both sides of a masquerading node. */
static inline __u32 lat_udp_key(__u64 first8, __u32 udp_len)
{
	return (__u32)((first8 ^ (first8 >> 32)) * 16777619u) ^ (udp_len * 2654435761u);
}

/* Key of a TCP segment delivered to a socket: the sequence number after it, which the
 * socket's rcv_nxt equals once the segment is queued (even merged into the previous one). */
static inline __u32 lat_tcp_end_seq(__u32 seq, __u32 ip_payload_len, __u32 tcp_hdr_len)
{
	return ip_payload_len > tcp_hdr_len ? seq + (ip_payload_len - tcp_hdr_len) : seq;
}

/* Value of the enabled-namespace map, keyed by netns inode. */
struct lat_netns {
	__u32 ifindex;                   /* the container's interface (loopback is ignored) */
	__u32 slot;                      /* counter slot, < LAT_MAX_CONTAINERS */
};

/* Node-level configuration (array of one). */
struct lat_config {
	__u32 underlay_ifindex;
	__u32 node_netns;                /* the node namespace holding the underlay device */
	__u32 sys_send[6];               /* syscall numbers that send (0 = unused slot) */
};

/* Per-container counters (per-CPU array indexed by slot). */
enum lat_counter {
	LATC_EGRESS_STARTED,             /* packets that left the container's interface */
	LATC_EGRESS_MATCHED,             /* ... and were seen on the underlay */
	LATC_EGRESS_STALE,               /* an underlay packet found an entry of another packet */
	LATC_INGRESS_DELIVERED,          /* packets delivered to a socket in the container */
	LATC_INGRESS_MATCHED,            /* ... whose underlay reception was found */
	LATC_EVENTS_LOST,                /* records the ring buffer had no room for */
	LATC_N
};

struct lat_counters {
	__u64 v[LATC_N];
};
