/* IPv6 IOAM (RFC 9486 / RFC 9197) without side effects: parsing and checking of the
 * configuration values, encap templates for the eBPF program, and decoding of traces. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "bpf/ioam_abi.h"

#define IOAM_SIZE_MAX IOAM_DATA_MAX

/* "0x800000" / "800000": 24-bit trace type with only the bits petrel fills (0-11), not 0. */
int ioam_type_parse(const char *s, uint32_t *type, char *err, size_t errlen);
/* 4-octet words one node adds for a trace type (bits 0-11). */
unsigned ioam_nodelen(uint32_t type);
/* Pre-allocated size in bytes: a multiple of 4, at most 244, room for at least one node. */
int ioam_size_check(uint32_t type, long size, char *err, size_t errlen);
/* "K/N": insert into K of every N packets, 1 <= K <= N <= 1000000. */
int ioam_freq_parse(const char *s, uint32_t *k, uint32_t *n, char *err, size_t errlen);
/* Namespace id, decimal 0-65535 (or 0x hex). */
int ioam_ns_parse(const char *s, uint16_t *id, char *err, size_t errlen);
/* Hex (0x optional) or decimal value of at most `bits` bits. */
int ioam_value_parse(const char *s, unsigned bits, uint64_t *v, char *err, size_t errlen);

/* One trace option of an encap rule. */
struct ioam_opt_spec {
	uint16_t ns;
	uint32_t type;
	uint32_t size;                 /* pre-allocated bytes */
};
/* Build the Hop-by-Hop header the eBPF encap inserts (see struct ioam_encap): options in
 * the given order, the first one 4n-aligned, the whole a multiple of 8 octets. */
int ioam_template_build(const struct ioam_opt_spec *opts, size_t n, struct ioam_encap *out,
			char *err, size_t errlen);

/* One node's data in a trace; fields absent from the type or unknown (all-ones) are
 * reported as such by ioam_hop_json. */
struct ioam_hop {
	uint8_t hop_limit;
	uint32_t node_id;              /* bit 0 */
	uint16_t if_in, if_out;        /* bit 1 */
	uint32_t ts_sec, ts_subsec;    /* bits 2, 3 */
	uint32_t transit_delay;        /* bit 4 */
	uint32_t ns_data;              /* bit 5 */
	uint32_t queue_depth;          /* bit 6 */
	uint32_t csum_comp;            /* bit 7 */
	uint8_t hop_limit_wide;
	uint64_t node_id_wide;         /* bit 8 */
	uint32_t if_in_wide, if_out_wide;  /* bit 9 */
	uint64_t ns_data_wide;         /* bit 10 */
	uint32_t buffer_occupancy;     /* bit 11 */
};
/* Decode the node data list of a pre-allocated trace: data is the whole data area (len
 * bytes), filled from remlen*4 on. Hops come out in path order (first node first).
 * -EINVAL when nodelen, remlen and len do not fit together. */
int ioam_trace_decode(uint32_t type, unsigned nodelen, unsigned remlen, const uint8_t *data,
		      size_t len, struct ioam_hop *hops, size_t max, size_t *n);
/* JSON object of one hop's fields present in type; unknown values are null. */
json_t *ioam_hop_json(const struct ioam_hop *h, uint32_t type);
/* Whether the hop carries a timestamp (bits 2 and 3 set, values known, POSIX format:
 * seconds and microseconds, as Linux writes them); *ns gets ns since the epoch. */
int ioam_hop_time(const struct ioam_hop *h, uint32_t type, uint64_t *ns);
