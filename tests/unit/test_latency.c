/* Unit tests for latency accounting's pure code: histogram buckets and percentiles, the
 * record's JSON form and its parser, ping output parsing, reply correlation and the summary,
 * and the packet keys shared with the eBPF probes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/types.h>
#include "harness.h"
#include "latency.h"
#include "bpf/latency_abi.h"

static void test_buckets(void)
{
	/* Every value lies in its bucket, buckets are contiguous and ordered. */
	for (uint64_t v = 0; v < (1ull << 33); v = v < 4096 ? v + 1 : v + v / 7) {
		int i = lat_hist_index(v);

		CHECK(i >= 0 && i < LAT_HIST_BUCKETS);
		if (i < LAT_HIST_BUCKETS - 1)
			CHECK(v >= lat_hist_lower(i) && v < lat_hist_lower(i) + lat_hist_width(i));
	}
	for (int i = 0; i + 1 < LAT_HIST_BUCKETS; i++)
		CHECK(lat_hist_lower(i) + lat_hist_width(i) == lat_hist_lower(i + 1));
	CHECK(lat_hist_index(0) == 0);
	CHECK(lat_hist_index(255) == 15);
	CHECK(lat_hist_index(256) == 16);
	CHECK(lat_hist_index(UINT64_MAX) == LAT_HIST_BUCKETS - 1);
	/* Relative width: at most 1/16 of the bucket's lower bound above 256 ns. */
	for (int i = LAT_HIST_SUB; i < LAT_HIST_BUCKETS; i++)
		CHECK(lat_hist_width(i) * 16 <= lat_hist_lower(i));
}

static void test_quantiles(void)
{
	struct lat_hist h = { 0 }, h2 = { 0 };
	json_t *j;

	CHECK(lat_hist_quantile(&h, 0.5) == 0);
	CHECK(lat_hist_mean(&h) == 0);
	/* 1..1000 us: p50 ~ 500 us, p99 ~ 990 us, within the bucket resolution. */
	for (uint64_t us = 1; us <= 1000; us++)
		lat_hist_add(&h, us * 1000);
	CHECK(h.count == 1000 && h.min == 1000 && h.max == 1000000);
	CHECK(llabs((long long)lat_hist_quantile(&h, 0.5) - 500000) <= 500000 / 16);
	CHECK(llabs((long long)lat_hist_quantile(&h, 0.99) - 990000) <= 990000 / 16);
	CHECK(lat_hist_quantile(&h, 0) == 1000 && lat_hist_quantile(&h, 1) == 1000000);
	CHECK(lat_hist_mean(&h) == 500500.0);
	/* Quantiles stay within [min, max] even for one sample. */
	lat_hist_add(&h2, 12345);
	CHECK(lat_hist_quantile(&h2, 0.5) == 12345 && lat_hist_quantile(&h2, 0.999) == 12345);
	lat_hist_merge(&h2, &h);
	CHECK(h2.count == 1001 && h2.min == 1000 && h2.max == 1000000);
	j = lat_hist_json(&h);
	CHECK(json_integer_value(json_object_get(j, "count")) == 1000);
	CHECK(json_integer_value(json_object_get(j, "p99_ns")) >= json_integer_value(json_object_get(j, "p50_ns")));
	CHECK(json_array_size(json_object_get(j, "buckets")) > 10);
	json_decref(j);
}

static void test_record(void)
{
	struct lat_record r = { .ts_ns = 5, .realtime_ns = 7, .latency_ns = 42000, .dir = 0, .proto = 1,
				.family = 2, .match = "skb", .start = "syscall", .id = 9, .seq = 3, .len = 84,
				.src = { 10, 244, 0, 2 }, .dst = { 198, 18, 0, 254 } };
	struct lat_record_view v;
	json_t *j = lat_record_json(&r);

	CHECK_STR(json_string_value(json_object_get(j, "dir")), "egress");
	CHECK_STR(json_string_value(json_object_get(j, "proto")), "icmp");
	CHECK_STR(json_string_value(json_object_get(j, "src")), "10.244.0.2");
	CHECK_STR(json_string_value(json_object_get(j, "start")), "syscall");
	CHECK(json_integer_value(json_object_get(json_object_get(j, "key"), "seq")) == 3);
	CHECK(lat_record_parse(j, &v) == 0 && v.dir == 0 && v.proto == 1 && v.seq == 3 && v.id == 9 &&
	      v.latency_ns == 42000 && !strcmp(v.dst, "198.18.0.254"));
	json_decref(j);
	/* Ingress TCP carries the end sequence; no start. */
	r.dir = 1;
	r.proto = 6;
	r.sport = 80;
	r.dport = 40000;
	j = lat_record_json(&r);
	CHECK(json_object_get(json_object_get(j, "key"), "end_seq") != NULL);
	CHECK(json_object_get(j, "start") == NULL);
	json_decref(j);
	/* The stream's first line is not a record. */
	j = json_pack("{s:s, s:s}", "stream", "latency", "endpoint", "a1");
	CHECK(lat_record_parse(j, &v) == -EINVAL);
	json_decref(j);
}

static void test_ping_parse(void)
{
	uint32_t seq;
	uint64_t rtt;
	char addr[64];

	CHECK(lat_ping_parse_reply("64 bytes from 10.244.1.2: icmp_seq=17 ttl=63 time=0.123 ms", &seq, &rtt) == 0);
	CHECK(seq == 17 && rtt == 123000);
	CHECK(lat_ping_parse_reply("64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time=12.5 ms", &seq, &rtt) == 0);
	CHECK(seq == 2 && rtt == 12500000);
	CHECK(lat_ping_parse_reply("64 bytes from fd00::1: icmp_seq=3 ttl=64 time=105 ms", &seq, &rtt) == 0);
	CHECK(rtt == 105000000);
	CHECK(lat_ping_parse_reply("From 10.0.0.1 icmp_seq=1 Destination Host Unreachable", &seq, &rtt) == -ENOENT);
	CHECK(lat_ping_parse_reply("64 bytes from x: icmp_seq=1 ttl=1 time=", &seq, &rtt) == -ENOENT);
	CHECK(lat_ping_parse_reply("", &seq, &rtt) == -ENOENT);
	CHECK(lat_ping_parse_header("PING 10.244.1.2 (10.244.1.2) 56(84) bytes of data.", addr, sizeof(addr)) == 0);
	CHECK_STR(addr, "10.244.1.2");
	CHECK(lat_ping_parse_header("PING b (fd00:244::2) 56 data bytes", addr, sizeof(addr)) == 0);
	CHECK_STR(addr, "fd00:244::2");
	CHECK(lat_ping_parse_header("PING x () 56 bytes", addr, sizeof(addr)) == -ENOENT);
	CHECK(lat_ping_parse_header("64 bytes from", addr, sizeof(addr)) == -ENOENT);
}

static void test_ping_correlation(void)
{
	struct lat_ping p;
	json_t *s;

	CHECK(lat_ping_init(&p) == 0);
	/* Records may arrive before or after the reply line. */
	lat_ping_latency(&p, 1, 0, 60000, 20000);
	lat_ping_reply(&p, 1, 150000);
	CHECK(!lat_ping_complete(&p, 1));
	lat_ping_latency(&p, 1, 1, 15000, 0);
	CHECK(lat_ping_complete(&p, 1) && lat_ping_corrected(&p, 1) == 75000);
	CHECK(lat_ping_path_corrected(&p, 1) == 95000);
	lat_ping_account(&p, 1);
	/* A reply with only its egress latency counts as a reply, not as matched. */
	lat_ping_reply(&p, 2, 200000);
	lat_ping_latency(&p, 2, 0, 50000, 0);
	lat_ping_account(&p, 2);
	/* Accounting larger than the RTT is reported, not hidden. */
	lat_ping_reply(&p, 3, 100000);
	lat_ping_latency(&p, 3, 0, 90000, 95000);
	lat_ping_latency(&p, 3, 1, 20000, 0);
	CHECK(lat_ping_corrected(&p, 3) == -10000);
	lat_ping_account(&p, 3);
	/* Sequence numbers wrap at 16 bits, as ICMP's do. */
	lat_ping_reply(&p, 65536 + 4, 1000);
	CHECK(p.e[4].replied);
	s = lat_ping_summary(&p, 4);
	CHECK(json_integer_value(json_object_get(s, "replies")) == 3);
	CHECK(json_integer_value(json_object_get(s, "matched")) == 2);
	CHECK(json_real_value(json_object_get(s, "matched_ratio")) > 0.66 &&
	      json_real_value(json_object_get(s, "matched_ratio")) < 0.67);
	CHECK(json_real_value(json_object_get(s, "raw_avg_us")) == 150.0);
	CHECK(json_real_value(json_object_get(s, "corrected_avg_us")) == 37.5);
	CHECK(json_integer_value(json_object_get(s, "corrected_nonpositive")) == 1);
	/* A stack part larger than its egress latency is clamped to it. */
	CHECK(p.e[3].stack_ns == 90000 && lat_ping_path_corrected(&p, 3) == 80000);
	CHECK(json_real_value(json_object_get(s, "path_corrected_avg_us")) == (95.0 + 80.0) / 2);
	json_decref(s);
	lat_ping_free(&p);
}

static void test_keys(void)
{
	/* UDP: same payload and length, same key; either differing, a different key. */
	CHECK(lat_udp_key(0x1122334455667788ull, 20) == lat_udp_key(0x1122334455667788ull, 20));
	CHECK(lat_udp_key(0x1122334455667788ull, 20) != lat_udp_key(0x1122334455667789ull, 20));
	CHECK(lat_udp_key(0x1122334455667788ull, 20) != lat_udp_key(0x1122334455667788ull, 21));
	CHECK(lat_udp_key(0, 8) != lat_udp_key(0, 9));
	/* TCP: the end sequence of a segment, wrapping; a pure ACK keeps its sequence. */
	CHECK(lat_tcp_end_seq(1000, 20 + 100, 20) == 1100);
	CHECK(lat_tcp_end_seq(0xffffff00u, 32 + 0x200, 32) == 0x100);
	CHECK(lat_tcp_end_seq(5, 20, 20) == 5);
	CHECK(lat_tcp_end_seq(5, 10, 20) == 5);
}

int main(void)
{
	test_buckets();
	test_quantiles();
	test_record();
	test_ping_parse();
	test_ping_correlation();
	test_keys();
	return harness_done("test_latency");
}
