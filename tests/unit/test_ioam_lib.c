/* Unit tests for lib/ioam.c: trace types, sizes, frequencies, values, encap templates
 * (alignment, lengths, RemainingLen, where the encap node writes) and trace decoding. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "harness.h"
#include "ioam.h"

static char err[256];

static void test_values(void)
{
	uint32_t t, k, n;
	uint16_t id;
	uint64_t v;

	CHECK(ioam_type_parse("0x800000", &t, err, sizeof(err)) == 0 && t == IOAM_BIT(0));
	CHECK(ioam_type_parse("fff000", &t, err, sizeof(err)) == 0 && t == 0xfff000);
	CHECK(ioam_type_parse("0x000800", &t, err, sizeof(err)) == -EINVAL && strstr(err, "bit 12"));
	CHECK(ioam_type_parse("0x000002", &t, err, sizeof(err)) == -EINVAL && strstr(err, "opaque"));
	CHECK(ioam_type_parse("0x000001", &t, err, sizeof(err)) == -EINVAL && strstr(err, "reserved"));
	CHECK(ioam_type_parse("0x1000000", &t, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_type_parse("0x0", &t, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_type_parse("0x", &t, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_type_parse("zz", &t, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_type_parse("", &t, err, sizeof(err)) == -EINVAL);

	CHECK(ioam_nodelen(IOAM_BIT(0)) == 1);
	CHECK(ioam_nodelen(0xfff000) == 9 + 6);           /* 9 short, 3 wide */
	CHECK(ioam_nodelen(IOAM_BIT(8) | IOAM_BIT(11)) == 3);

	CHECK(ioam_size_check(IOAM_BIT(0), 4, err, sizeof(err)) == 0);
	CHECK(ioam_size_check(IOAM_BIT(0), 244, err, sizeof(err)) == 0);
	CHECK(ioam_size_check(IOAM_BIT(0), 248, err, sizeof(err)) == -EINVAL && strstr(err, "244"));
	CHECK(ioam_size_check(IOAM_BIT(0), 10, err, sizeof(err)) == -EINVAL && strstr(err, "multiple of 4"));
	CHECK(ioam_size_check(IOAM_BIT(0), 0, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_size_check(IOAM_BIT(8), 4, err, sizeof(err)) == -EINVAL && strstr(err, "one node"));

	CHECK(ioam_freq_parse("1/100", &k, &n, err, sizeof(err)) == 0 && k == 1 && n == 100);
	CHECK(ioam_freq_parse("1/1", &k, &n, err, sizeof(err)) == 0 && k == 1 && n == 1);
	CHECK(ioam_freq_parse("2/1", &k, &n, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_freq_parse("0/5", &k, &n, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_freq_parse("1/2000000", &k, &n, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_freq_parse("1", &k, &n, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_freq_parse("1/-1", &k, &n, err, sizeof(err)) == -EINVAL);

	CHECK(ioam_ns_parse("123", &id, err, sizeof(err)) == 0 && id == 123);
	CHECK(ioam_ns_parse("0xffff", &id, err, sizeof(err)) == 0 && id == 0xffff);
	CHECK(ioam_ns_parse("65536", &id, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_ns_parse("-1", &id, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_value_parse("0xdeadbeef", 32, &v, err, sizeof(err)) == 0 && v == 0xdeadbeef);
	CHECK(ioam_value_parse("0x100000000", 32, &v, err, sizeof(err)) == -EINVAL);
	CHECK(ioam_value_parse("0xffffffffffffffff", 64, &v, err, sizeof(err)) == 0 && v == UINT64_MAX);
	CHECK(ioam_value_parse("0x1ffffffffffffffff", 64, &v, err, sizeof(err)) == -EINVAL);
}

static void test_template(void)
{
	static struct ioam_encap e;
	struct ioam_opt_spec one = { .ns = 7, .type = IOAM_BIT(0) | IOAM_BIT(1), .size = 16 };
	struct ioam_opt_spec two[2] = { { .ns = 1, .type = IOAM_BIT(0), .size = 8 },
					{ .ns = 2, .type = IOAM_BIT(8), .size = 24 } };

	/* 2 + 2 + 12 + 16 = 32: Pad2 form */
	CHECK(ioam_template_build(&one, 1, &e, err, sizeof(err)) == 0);
	CHECK(e.len == 32 && e.tpl[1] == 3 && e.tpl[2] == 1 && e.tpl[3] == 0 && e.nopts == 1);
	CHECK(e.tpl[4] == 0x31 && e.tpl[5] == 26 && e.tpl[7] == 0 && e.tpl[8] == 0 && e.tpl[9] == 7);
	CHECK(e.tpl[10] >> 3 == 2 && e.tpl[11] == 4 - 2);
	CHECK(e.tpl[12] == 0xc0 && e.tpl[13] == 0 && e.tpl[14] == 0);
	CHECK(e.opt[0].fill == 4 + 12 + 8 && e.opt[0].nodelen == 2);
	/* 4 + 20 + 36 = 60 → the 6-octet PadN form: 64, second option 4n-aligned */
	CHECK(ioam_template_build(two, 2, &e, err, sizeof(err)) == 0);
	CHECK(e.len == 64 && e.tpl[3] == 4 && e.tpl[8] == 0x31 && e.tpl[28] == 0x31);
	CHECK(e.opt[1].fill == 28 + 12 + 24 - 8 && e.opt[1].nodelen == 2);
	two[1].ns = 1;
	CHECK(ioam_template_build(two, 2, &e, err, sizeof(err)) == -EINVAL && strstr(err, "twice"));
	CHECK(ioam_template_build(two, 0, &e, err, sizeof(err)) == -EINVAL);
	/* eight full-size options do not fit in one packet's budget */
	{
		struct ioam_opt_spec big[8];

		for (int i = 0; i < 8; i++)
			big[i] = (struct ioam_opt_spec){ .ns = (uint16_t)i, .type = IOAM_BIT(0), .size = 244 };
		CHECK(ioam_template_build(big, 8, &e, err, sizeof(err)) == -EINVAL && strstr(err, "octets"));
		CHECK(ioam_template_build(big, 3, &e, err, sizeof(err)) == 0 && e.len % 8 == 0);
	}
}

static void test_decode(void)
{
	/* three nodes of (hop limit, node id) + seconds + subseconds, one free word */
	uint32_t type = IOAM_BIT(0) | IOAM_BIT(2) | IOAM_BIT(3);
	uint8_t data[40] = { 0 };
	struct ioam_hop h[4];
	size_t n;
	uint64_t t0, t1;

	/* written back to front: node 1 at the end, node 3 right after the free word */
	for (int node = 1; node <= 3; node++) {
		uint8_t *p = data + 40 - node * 12;
		p[0] = (uint8_t)(65 - node);
		p[3] = (uint8_t)node;
		p[7] = 10;                                   /* seconds */
		p[10] = (uint8_t)(node * 3); p[11] = 0xe8;   /* microseconds */
	}
	CHECK(ioam_trace_decode(type, 3, 1, data, 40, h, 4, &n) == 0 && n == 3);
	CHECK(h[0].node_id == 1 && h[1].node_id == 2 && h[2].node_id == 3 && h[0].hop_limit == 64);
	CHECK(ioam_hop_time(&h[0], type, &t0) && ioam_hop_time(&h[1], type, &t1) && t1 > t0);
	CHECK(t0 == 10000000000ull + (3 * 256 + 0xe8) * 1000ull);
	CHECK(ioam_trace_decode(type, 3, 11, data, 40, h, 4, &n) == -EINVAL);   /* RemainingLen too big */
	CHECK(ioam_trace_decode(type, 2, 1, data, 40, h, 4, &n) == -EINVAL);    /* NodeLen too small */
	CHECK(ioam_trace_decode(type, 3, 2, data, 40, h, 4, &n) == -EINVAL);    /* partial node */
	CHECK(ioam_trace_decode(type, 3, 1, data, 40, h, 2, &n) == 0 && n == 2);
	{
		json_t *j = ioam_hop_json(&h[0], type | IOAM_BIT(4));
		CHECK(json_integer_value(json_object_get(j, "node_id")) == 1);
		CHECK(json_is_null(json_object_get(j, "transit_delay")));
		CHECK(!json_object_get(j, "ingress_if"));
		json_decref(j);
	}
}

int main(void)
{
	test_values();
	test_template();
	test_decode();
	return harness_done("test_ioam_lib");
}
