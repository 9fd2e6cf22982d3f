/* Pure helpers of latency accounting, shared by the agent and the CLI and unit-tested:
 * log-linear latency histograms with percentiles, the per-packet record's JSON form, and
 * the correlation of ping replies with accounted egress and ingress latencies. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Histogram of nanosecond values: 16 linear buckets of 16 ns below 256 ns, then 16
 * sub-buckets per power of two up to 2^32 ns (about 4.3 s), so a percentile is off by at
 * most 1/32 of its value; larger values land in the last bucket. Exact count, sum, min, max. */
#define LAT_HIST_SUB     16
#define LAT_HIST_BUCKETS (LAT_HIST_SUB + (32 - 8) * LAT_HIST_SUB)

struct lat_hist {
	uint64_t count, sum, min, max;
	uint64_t b[LAT_HIST_BUCKETS];
};

int lat_hist_index(uint64_t ns);
/* Lowest value of bucket i, and its width. */
uint64_t lat_hist_lower(int i);
uint64_t lat_hist_width(int i);
void lat_hist_add(struct lat_hist *h, uint64_t ns);
void lat_hist_merge(struct lat_hist *into, const struct lat_hist *from);
/* The value below which a fraction q (0..1) of the samples lie: the middle of the bucket
 * holding it, clamped to [min, max]. 0 for an empty histogram. */
uint64_t lat_hist_quantile(const struct lat_hist *h, double q);
double lat_hist_mean(const struct lat_hist *h);
/* {"count","mean_ns","min_ns","max_ns","p50_ns","p90_ns","p99_ns","p999_ns","buckets":[[lower_ns,count],...]} */
json_t *lat_hist_json(const struct lat_hist *h);

/* Protocol and direction names of records. */
const char *lat_proto_name(int proto);
const char *lat_dir_name(int dir);

/* One accounted packet, as the agent streams it to the container. */
struct lat_record {
	uint64_t ts_ns;          /* CLOCK_MONOTONIC at the end point */
	uint64_t realtime_ns;    /* the same instant on CLOCK_REALTIME */
	uint64_t latency_ns;
	uint64_t stack_ns;       /* egress: time before the container's interface */
	int dir;                 /* 0 egress, 1 ingress */
	int proto, family;
	const char *match;       /* "skb", "key", "buffer" */
	const char *start;       /* egress: "syscall" or "queue" */
	uint16_t id, sport, dport;
	uint32_t seq, len;
	uint8_t src[16], dst[16];
};
json_t *lat_record_json(const struct lat_record *r);
/* The inverse, for readers of the stream (the CLI's ping). 0, or -EINVAL. */
struct lat_record_view {
	int dir, proto;
	uint64_t latency_ns, stack_ns;
	uint32_t seq, id;
	char src[64], dst[64];
};
int lat_record_parse(json_t *j, struct lat_record_view *out);

/* One reply line of iputils ping ("64 bytes from 10.0.0.1: icmp_seq=3 ttl=64 time=0.123 ms").
 * Returns 0 with seq and rtt in ns, -ENOENT for any other line. */
int lat_ping_parse_reply(const char *line, uint32_t *seq, uint64_t *rtt_ns);
/* "PING host (1.2.3.4) 56(84) bytes of data." -> the address. 0 or -ENOENT. */
int lat_ping_parse_header(const char *line, char *addr, size_t len);

/* Correlation of one ping session: replies by sequence, with the accounted latencies of
 * the request (egress) and of the reply (ingress) as they arrive, in any order. */
#define LAT_PING_MAX 65536
struct lat_ping_entry {
	uint64_t rtt_ns, egress_ns, ingress_ns, stack_ns;
	bool replied, has_egress, has_ingress;
};
struct lat_ping {
	struct lat_ping_entry *e;     /* indexed by seq (16 bits) */
	uint64_t replies, matched;
	double raw_sum;               /* over all replies, ns */
	double raw_matched_sum, corr_sum, egress_sum, ingress_sum;   /* over matched replies */
	double path_sum;              /* raw - (egress - stack) - ingress, over matched replies */
	uint64_t raw_min, raw_max, corr_min, corr_max;
	uint64_t corr_nonpositive;    /* corrected RTT <= 0: accounting exceeded the RTT */
};
int lat_ping_init(struct lat_ping *p);
void lat_ping_free(struct lat_ping *p);
void lat_ping_reply(struct lat_ping *p, uint32_t seq, uint64_t rtt_ns);
/* stack_ns: of an egress latency, the part before the container's interface. */
void lat_ping_latency(struct lat_ping *p, uint32_t seq, int dir, uint64_t ns, uint64_t stack_ns);
/* True once a reply has both latencies. */
bool lat_ping_complete(const struct lat_ping *p, uint32_t seq);
/* Corrected RTT of a complete reply: raw - egress - ingress (may be negative). */
int64_t lat_ping_corrected(const struct lat_ping *p, uint32_t seq);
/* The RTT without only the virtual path: raw - (egress - its stack part) - ingress, i.e.
 * keeping the container's own socket and IP send processing, which a native sender pays too. */
int64_t lat_ping_path_corrected(const struct lat_ping *p, uint32_t seq);
/* Fold one reply into the summary (complete or not). Call once per reply. */
void lat_ping_account(struct lat_ping *p, uint32_t seq);
/* {"replies","matched","matched_ratio","raw_avg_us","corrected_avg_us",...} */
json_t *lat_ping_summary(const struct lat_ping *p, uint64_t transmitted);
