/* IPv6 In-situ OAM (RFC 9486 Hop-by-Hop option 0x31 carrying an RFC 9197 pre-allocated
 * trace): types and constants shared by bpf/ioam.bpf.c and its user-space side. */
#pragma once

#ifndef __bpf__
#include <linux/types.h>
#endif

#define IOAM_HBH_OPT         0x31   /* RFC 9486 Hop-by-Hop option type */
#define IOAM_TYPE_PREALLOC   0      /* IOAM option type: pre-allocated trace */
#define IOAM_TRACE_HDR       8      /* namespace id, NodeLen/flags/RemainingLen, type */
#define IOAM_OPT_HDR         4      /* option type, length, reserved, IOAM option type */
#define IOAM_DATA_MAX        244    /* largest pre-allocated data area (RemainingLen 61) */
#define IOAM_NODE_WORDS      31     /* NodeLen is 5 bits of 4-octet units */
#define IOAM_MAX_OPTS        8      /* trace options (namespaces) one encap rule inserts */
#define IOAM_TPL_MAX         1024   /* bytes one encap rule inserts at most */
#define IOAM_MAX_ENCAP       64     /* encap rules (destination prefixes) */
#define IOAM_NS_IDS          65536  /* Namespace-ID is 16 bits: one table entry each */
#define IOAM_HBH_MAX         2048   /* Hdr Ext Len is 8 bits of 8-octet units */
#define IOAM_OVERFLOW        0x04   /* the O flag in the trace header's 7th byte */

/* Trace type: bit i (RFC numbering) is the i-th most significant of the 24 bits. */
#define IOAM_BIT(i)          (1u << (23 - (i)))
#define IOAM_SHORT_MASK      0xff1000   /* bits 0-7 and 11: one 4-octet word each */
#define IOAM_WIDE_MASK       0x00e000   /* bits 8-10: two words each */
#define IOAM_UNDEF_MASK      0x000ffc   /* bits 12-21: undefined, filled with all-ones */
#define IOAM_OPAQUE_BIT      IOAM_BIT(22)
#define IOAM_SUPPORTED_MASK  0xfff000   /* bits 0-11 can be configured */

/* ioam_flags: the roles the datapath hands packets to on the underlay device. Ingress
 * needs no flag: from_underlay tries the tail call for Hop-by-Hop packets only, and an
 * empty slot costs a failed call; encap is decided per packet, so it is switched off here. */
#define IOAM_F_ENCAP         1

/* Namespace table: an array indexed by namespace id, so the per-packet look-up is an
 * index, not a hash; flags says whether the id is configured. */
#define IOAM_NS_KNOWN        1

struct ioam_ns {
	__u32 data;                    /* namespace data, short (bit 5) */
	__u32 flags;                   /* IOAM_NS_* */
	__u64 data_wide;               /* namespace data, wide (bit 10) */
};

/* This node's identity, array of one. */
struct ioam_node {
	__u32 id;                      /* 24 bits (bit 0) */
	__u32 pad;
	__u64 id_wide;                 /* 56 bits (bit 8) */
	__u64 clock_offset;            /* CLOCK_REALTIME minus CLOCK_BOOTTIME, ns */
	__u32 export_rate;             /* traces exported per second and CPU at most */
	__u32 pad2;
};

/* Per-CPU state, array of one: the export budget, and the start of the wall-clock second
 * the last timestamp fell in, so a timestamp needs no 64-bit division per packet. */
struct ioam_pcpu {
	__u64 second;                  /* when the current export window began (coarse ns) */
	__u64 sent;                    /* traces exported in it */
	__u64 skipped;                 /* traces not exported since; every 64th reads the clock */
	__u64 ts_base;                 /* CLOCK_REALTIME ns at the start of second ts_sec */
	__u64 ts_sec;
};

/* One trace option in an encap template. */
struct ioam_opt_info {
	__u16 fill;                    /* offset in tpl where this node's data goes */
	__u16 ns;
	__u32 type;                    /* 24-bit trace type */
	__u32 nodelen;                 /* 4-octet units */
};

struct ioam_encap_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* An encap rule: the bytes inserted after the IPv6 header. tpl is a complete Hop-by-Hop
 * header (next header filled per packet) made of a PadN when needed and nopts trace
 * options that already account for this node's data. */
struct ioam_encap {
	__u32 slot;                    /* its index in ioam_encap_slots and ioam_sample */
	__u32 freq_k, freq_n;          /* insert into k of every n packets */
	__u32 len;                     /* bytes of tpl, a multiple of 8 */
	__u32 nopts;
	struct ioam_opt_info opt[IOAM_MAX_OPTS];
	__u8 tpl[IOAM_TPL_MAX];
};

/* Counters, per-CPU array. */
enum ioam_stat {
	IOAM_ST_ENCAP,                 /* options inserted (packets) */
	IOAM_ST_NOT_SAMPLED,           /* matched an encap rule but not picked by 1-in-n */
	IOAM_ST_ENCAP_FAIL,            /* could not grow the packet (MTU, HBH too long) */
	IOAM_ST_TRANSIT,               /* trace options this node filled in transit */
	IOAM_ST_DECAP,                 /* packets whose IOAM was removed before delivery */
	IOAM_ST_EXPORT,                /* traces exported */
	IOAM_ST_EXPORT_LOST,           /* traces the ring buffer had no room for */
	IOAM_ST_OVERFLOW,              /* no room left: Overflow flag set */
	IOAM_ST_UNKNOWN_NS,            /* options of namespaces unknown here, left alone */
	IOAM_ST_INCONSISTENT,          /* NodeLen/RemainingLen/type that do not add up: left alone */
	IOAM_ST_UNSUPPORTED,           /* opaque state snapshot or non-trace IOAM options: left alone */
	IOAM_ST_MALFORMED,             /* broken Hop-by-Hop header: dropped */
	IOAM_ST_KEPT,                  /* decap left the header: other options or unknown namespaces */
	IOAM_ST_EXPORT_SKIPPED,        /* traces not exported: over the export rate */
	IOAM_ST__MAX
};

/* One decapsulated trace, sent to user space through the ring buffer. */
struct ioam_event {
	__u64 time;                    /* CLOCK_REALTIME ns at decap */
	__u32 ifindex;
	__u16 ns;
	__u8 nodelen;
	__u8 flags;                    /* the 4 flag bits; 0x8 is Overflow */
	__u32 type;
	__u8 remlen;
	__u8 pad[3];
	__u32 data_len;                /* bytes in data (the whole pre-allocated area) */
	__u8 src[16], dst[16];
	__u8 data[IOAM_DATA_MAX];
};
