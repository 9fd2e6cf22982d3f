/* BPF_PROG_RUN fixtures for IOAM: encap (new and extended Hop-by-Hop headers, sampling,
 * several namespaces), transit (filling, Overflow, unknown namespaces, undefined bits),
 * decap (removal and export in path order, the export budget) and malformed headers (dropped or left alone
 * as RFC 9197 says, and counted), each program on its own as a filter; then the same roles
 * inside the datapath, tail-called from from_container and from_underlay, with their
 * slots filled and empty. */
#include "ioam_fixture.h"

static const uint32_t type = IOAM_BIT(0) | IOAM_BIT(1) | IOAM_BIT(2) | IOAM_BIT(3) | IOAM_BIT(5) | IOAM_BIT(8);
static struct ioam_opt_spec spec = { .ns = 123, .type = type, .size = 60 };   /* 7 words a node */

/* encap, new Hop-by-Hop header */
static void test_encap_new_header(void)
{
	set_node(skel, 1);
	udp6(&in, POD_A, POD_B, NULL, 0);
	v = run(skel->progs.ioam_egress, &in, &out);
	CHECK(v == TC_ACT_UNSPEC);
	/* 2 + Pad2 + (12 + 60) = 76 → a 6-octet PadN in front makes 80 */
	CHECK(out.len == in.len + 80);
	CHECK(out.buf[L3 + 6] == 0 && out.buf[HBH] == IPPROTO_UDP && out.buf[HBH + 1] == 80 / 8 - 1);
	CHECK(((out.buf[L3 + 4] << 8) | out.buf[L3 + 5]) == 8 + 16 + 80);
	CHECK(out.buf[HBH + 2] == 1 && out.buf[HBH + 3] == 4);         /* PadN, 4 zero octets */
	o = find_opt(&out, 0);
	CHECK(o == HBH + 8 && (o - HBH) % 4 == 0);
	CHECK(out.buf[o + 1] == 70 && out.buf[o + 3] == IOAM_TYPE_PREALLOC);
	CHECK(out.buf[o + 4] == 0 && out.buf[o + 5] == 123);
	CHECK(out.buf[o + 6] >> 3 == 7 && (out.buf[o + 7] & 0x7f) == 15 - 7);
	CHECK(be32at(out.buf + o + 8) >> 8 == type);
	/* this node's data at the end of the area: hop limit 63, node id 1 */
	{
		const uint8_t *d = out.buf + o + 12 + (15 - 7) * 4;

		CHECK(be32at(d) == (63u << 24 | 1));
		CHECK(be32at(d + 4) == (0xffffu << 16 | 1));                 /* in if unknown, out 1 */
		CHECK(be32at(d + 16) == 0xabcd0123);                           /* namespace data */
		CHECK(be32at(d + 20) == 63u << 24 && be32at(d + 24) == 0x1000001);      /* wide id */
		CHECK(be32at(d - 4) == 0);                                     /* free space untouched */
	}
	CHECK(memcmp(out.buf + HBH + 80, in.buf + HBH, in.len - HBH) == 0);   /* UDP intact */
	CHECK(stat_of(skel, IOAM_ST_ENCAP) == 1);
}

/* every supported field (bits 0-11): each word where RFC 9197 puts it */
static void test_every_field(void)
{
	{
		struct ioam_opt_spec all = { .ns = 123, .type = IOAM_SUPPORTED_MASK, .size = 60 };
		const uint8_t *d;
		struct timespec ts;
		uint32_t now;

		clock_gettime(CLOCK_BOOTTIME, &ts);       /* set_node gives no realtime offset */
		now = (uint32_t)ts.tv_sec;

		CHECK(ioam_nodelen(all.type) == 15);
		set_encap(skel, "fd00:244:0:3::5", 128, &all, 1, 1, 1, 1);
		udp6(&in, POD_A, "fd00:244:0:3::5", NULL, 0);
		CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC);
		o = find_opt(&out, 0);
		CHECK(o > 0 && out.buf[o + 6] >> 3 == 15 && (out.buf[o + 7] & 0x7f) == 0);
		d = out.buf + o + 12;
		CHECK(be32at(d) == (63u << 24 | 1));                           /* 0: hop limit, id */
		CHECK(be32at(d + 4) == (0xffffu << 16 | 1));                   /* 1: interfaces */
		CHECK(be32at(d + 8) + 2 >= now && be32at(d + 8) <= now + 2);  /* 2: seconds */
		CHECK(be32at(d + 12) < 1000000);                               /* 3: microseconds */
		CHECK(be32at(d + 16) == 0xffffffff);                           /* 4: transit delay */
		CHECK(be32at(d + 20) == 0xabcd0123);                           /* 5: namespace data */
		CHECK(be32at(d + 24) == 0xffffffff && be32at(d + 28) == 0xffffffff);     /* 6, 7 */
		CHECK(be32at(d + 32) == 63u << 24 && be32at(d + 36) == 0x1000001);      /* 8: wide id */
		CHECK(be32at(d + 40) == 0xffffffff && be32at(d + 44) == 1);    /* 9: wide interfaces */
		CHECK(be32at(d + 48) == 0x11223344 && be32at(d + 52) == 0x55667788);     /* 10 */
		CHECK(be32at(d + 56) == 0xffffffff);                           /* 11: buffer occupancy */

		/* A more specific rule for a destination whose rule a CPU remembers takes over at
		 * the next packet, and its removal hands the destination back. */
		udp6(&in, POD_A, POD_B, NULL, 0);
		CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(find_opt(&out, 0) > 0 && out.buf[find_opt(&out, 0) + 6] >> 3 == 7);
		set_encap(skel, POD_B, 128, &all, 1, 1, 1, 2);
		CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(find_opt(&out, 0) > 0 && out.buf[find_opt(&out, 0) + 6] >> 3 == 15);
		{
			struct ioam_encap_key k = { .prefixlen = 128 };

			inet_pton(AF_INET6, POD_B, k.addr);
			CHECK(bpf_map_delete_elem(bpf_map__fd(skel->maps.ioam_encap), &k) == 0);
			bump_gen(skel);
		}
		CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(find_opt(&out, 0) > 0 && out.buf[find_opt(&out, 0) + 6] >> 3 == 7);
	}

	/* not from a local endpoint, or to another prefix: untouched */
	udp6(&in, "fd00:244:0:9::1", POD_B, NULL, 0);
	CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC && out.len == in.len);
	udp6(&in, POD_A, "fd00:244:0:3::1", NULL, 0);
	CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC && out.len == in.len);
}

/* transit: node 2 fills the next slot */
static void test_transit(void)
{
	udp6(&in, POD_A, POD_B, NULL, 0);
	set_node(skel, 1);
	run(skel->progs.ioam_egress, &in, &mid);
	set_node(skel, 2);
	v = run(skel->progs.ioam_ingress, &mid, &out);
	CHECK(v == TC_ACT_UNSPEC && out.len == mid.len);
	o = find_opt(&out, 0);
	CHECK((out.buf[o + 7] & 0x7f) == 1);
	CHECK(be32at(out.buf + o + 12 + 4) == (63u << 24 | 2));
	CHECK(memcmp(out.buf + o + 12 + 32, mid.buf + o + 12 + 32, 28) == 0);   /* node 1 kept */
	CHECK(stat_of(skel, IOAM_ST_TRANSIT) == 1);
}

/* transit again: one word left, seven needed → Overflow, nothing written */
static void test_transit_overflow(void)
{
	mid = out;
	set_node(skel, 3);
	run(skel->progs.ioam_ingress, &mid, &out);
	CHECK(out.buf[o + 6] & IOAM_OVERFLOW);
	out.buf[o + 6] &= (uint8_t)~IOAM_OVERFLOW;
	CHECK(memcmp(out.buf, mid.buf, mid.len) == 0);
	CHECK(stat_of(skel, IOAM_ST_OVERFLOW) == 1);
}

/* decap on node 3, without room: removed, exported, Overflow flag reported */
static void test_decap_overflow(void)
{
	add_endpoint(skel, POD_B, 42);
	v = run(skel->progs.ioam_ingress, &mid, &out);
	CHECK(v == TC_ACT_UNSPEC);
	udp6(&in, POD_A, POD_B, NULL, 0);
	CHECK(out.len == in.len && memcmp(out.buf, in.buf, in.len) == 0);
	CHECK(ring_buffer__consume(rb) >= 1 && n_ev == 1);
	CHECK(last_ev.ns == 123 && last_ev.type == type && last_ev.nodelen == 7 && (last_ev.flags & 8));
	{
		struct ioam_hop hops[8];
		size_t n = 0;

		CHECK(ioam_trace_decode(last_ev.type, last_ev.nodelen, last_ev.remlen, last_ev.data,
					last_ev.data_len, hops, 8, &n) == 0);
		CHECK(n == 2 && hops[0].node_id == 1 && hops[1].node_id == 2);
		CHECK(hops[0].ns_data == 0xabcd0123 && hops[1].node_id_wide == 0x1000002);
	}
	CHECK(stat_of(skel, IOAM_ST_DECAP) == 1);
}

/* a path of three: encap 1, transit 2, decap 3, larger area */
static void test_path_of_three(void)
{
	spec.size = 84;
	set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 1, 0);
	del_endpoint(skel, POD_B);
	udp6(&in, POD_A, POD_B, NULL, 0);
	set_node(skel, 1);
	run(skel->progs.ioam_egress, &in, &mid);
	set_node(skel, 2);
	run(skel->progs.ioam_ingress, &mid, &out);
	add_endpoint(skel, POD_B, 42);
	set_node(skel, 3);
	run(skel->progs.ioam_ingress, &out, &mid);
	CHECK(mid.len == in.len && memcmp(mid.buf, in.buf, in.len) == 0);
	ring_buffer__consume(rb);
	{
		struct ioam_hop hops[8];
		size_t n = 0;

		CHECK(n_ev == 2 && !(last_ev.flags & 8));
		CHECK(ioam_trace_decode(last_ev.type, last_ev.nodelen, last_ev.remlen, last_ev.data,
					last_ev.data_len, hops, 8, &n) == 0);
		CHECK(n == 3 && hops[0].node_id == 1 && hops[1].node_id == 2 && hops[2].node_id == 3);
		CHECK(hops[2].if_in == 1 && hops[2].if_out == 42);   /* decap knows the endpoint */
	}
}

/* encap into an existing header (Router Alert + PadN) */
static void test_encap_existing_header(void)
{
	{
		static const uint8_t ra[8] = { 0, 0, 5, 2, 0, 0, 1, 0 };
		int ra_off;

		del_endpoint(skel, POD_B);
		set_node(skel, 1);
		udp6(&in, POD_A, POD_B, ra, sizeof(ra));
		v = run(skel->progs.ioam_egress, &in, &out);
		CHECK(v == TC_ACT_UNSPEC);
		/* 2 + 2 + 12 + 84 = 100: a 6-octet PadN in front instead makes 104 */
		CHECK(out.len == in.len + 104);
		CHECK(out.buf[L3 + 6] == 0 && out.buf[HBH] == IPPROTO_UDP);
		CHECK(out.buf[HBH + 1] == (104 + 8) / 8 - 1);
		CHECK(out.buf[HBH + 2] == 1 && out.buf[HBH + 3] == 4);   /* leading PadN */
		CHECK(out.buf[HBH + 104] == 1 && out.buf[HBH + 105] == 0);  /* old header → Pad2 */
		ra_off = HBH + 106;
		CHECK(out.buf[ra_off] == 5 && out.buf[ra_off + 1] == 2);   /* Router Alert kept */
		CHECK((ra_off - HBH) % 8 == 2);                            /* at its old alignment */
		CHECK(((out.buf[L3 + 4] << 8) | out.buf[L3 + 5]) == 8 + 8 + 16 + 104);
		/* decap: the IOAM option goes, the Router Alert stays at its alignment: the
		 * packet is the one the endpoint sent; the trace is exported */
		add_endpoint(skel, POD_B, 42);
		mid = out;
		uint64_t decaps = stat_of(skel, IOAM_ST_DECAP);
		CHECK(run(skel->progs.ioam_ingress, &mid, &out) == TC_ACT_UNSPEC);
		CHECK(out.len == in.len && memcmp(out.buf, in.buf, in.len) == 0);
		CHECK(stat_of(skel, IOAM_ST_DECAP) == decaps + 1);
		CHECK(ring_buffer__consume(rb) == 1);
	}

	/* decap of a header whose other option sits after the trace, 4n+2 aligned (Jumbo-like
	 * alignment): rebuilt with that option alone, at the same alignment */
	{
		uint8_t h[40] = { 0 };
		const uint8_t *p;

		/* [nh len] Pad2 | IOAM ns 123 bit 0, 8 octets of data (20) | PadN 4 (6) | opt 0x3e len 4 (6) | Pad... */
		h[1] = 4;                               /* 40 octets */
		h[2] = 1; h[3] = 0;
		h[4] = IOAM_HBH_OPT; h[5] = 18; h[8] = 0; h[9] = 123;
		h[10] = 1 << 3; h[11] = 2; h[12] = 0x80;
		h[24] = 1; h[25] = 4;                   /* PadN, 6 octets */
		h[30] = 0x3e; h[31] = 4; h[32] = 0xaa; h[35] = 0xbb;
		h[36] = 1; h[37] = 2;                   /* PadN to the end */
		add_endpoint(skel, POD_B, 42);
		udp6(&in, POD_A, POD_B, h, sizeof(h));
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		p = out.buf + HBH;
		CHECK(out.len == in.len - 24 && p[0] == IPPROTO_UDP && p[1] == 1);
		CHECK(out.buf[L3 + 6] == 0 && ((out.buf[L3 + 4] << 8) | out.buf[L3 + 5]) == 16 + 8 + 16);
		/* 0x3e was at offset 30 (6 mod 8): Pad4 after the 2 header octets, then it */
		CHECK(p[2] == 1 && p[3] == 2 && p[6] == 0x3e && p[7] == 4 && p[8] == 0xaa && p[11] == 0xbb);
		CHECK(p[12] == 1 && p[13] == 2);        /* PadN to 16 octets */
		CHECK(memcmp(out.buf + HBH + 16, in.buf + HBH + 40, in.len - HBH - 40) == 0);
		ring_buffer__consume(rb);
		del_endpoint(skel, POD_B);
	}

	/* the same with 100 octets of another option: the rebuilt header is 112 octets */
	{
		uint8_t h[128] = { 0 };
		const uint8_t *p;
		uint64_t decaps = stat_of(skel, IOAM_ST_DECAP);

		/* [nh len] Pad2 | IOAM ns 123 bit 0 (20) | opt 0x3e len 98 (100) | PadN 4 */
		h[1] = 15;
		h[2] = 1; h[3] = 0;
		h[4] = IOAM_HBH_OPT; h[5] = 18; h[8] = 0; h[9] = 123;
		h[10] = 1 << 3; h[11] = 2; h[12] = 0x80;
		h[24] = 0x3e; h[25] = 98;
		for (int i = 26; i < 124; i++)
			h[i] = (uint8_t)i;
		h[124] = 1; h[125] = 2;
		add_endpoint(skel, POD_B, 42);
		udp6(&in, POD_A, POD_B, h, sizeof(h));
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		p = out.buf + HBH;
		CHECK(out.len == in.len - 16 && p[0] == IPPROTO_UDP && p[1] == 112 / 8 - 1);
		CHECK(((out.buf[L3 + 4] << 8) | out.buf[L3 + 5]) == 112 + 8 + 16);
		CHECK(p[2] == 1 && p[3] == 4);          /* PadN: 0x3e was 8n-aligned */
		CHECK(p[8] == 0x3e && p[9] == 98 && memcmp(p + 10, h + 26, 98) == 0);
		CHECK(p[108] == 1 && p[109] == 2);      /* PadN to 112 octets */
		CHECK(memcmp(out.buf + HBH + 112, in.buf + HBH + 128, in.len - HBH - 128) == 0);
		CHECK(stat_of(skel, IOAM_ST_DECAP) == decaps + 1);
		ring_buffer__consume(rb);
		del_endpoint(skel, POD_B);
	}

	/* an existing header starting with 6 octets of padding: extending it would make 8
	 * consecutive pad octets, which Linux receivers drop; left alone and counted */
	{
		static const uint8_t pad6[8] = { 0, 0, 1, 4, 0, 0, 0, 0 };
		uint64_t fail = stat_of(skel, IOAM_ST_ENCAP_FAIL);

		del_endpoint(skel, POD_B);
		udp6(&in, POD_A, POD_B, pad6, sizeof(pad6));
		CHECK(run(skel->progs.ioam_egress, &in, &out) == TC_ACT_UNSPEC && out.len == in.len);
		CHECK(stat_of(skel, IOAM_ST_ENCAP_FAIL) == fail + 1);
	}
}

/* sampling: 1 in 4 */
static void test_sampling(void)
{
	{
		uint64_t before = stat_of(skel, IOAM_ST_ENCAP);
		int grown = 0;

		set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 4, 1);
		for (int i = 0; i < 16; i++) {
			udp6(&in, POD_A, POD_B, NULL, 0);
			run(skel->progs.ioam_egress, &in, &out);
			grown += out.len > in.len;
		}
		CHECK(grown == 4 && stat_of(skel, IOAM_ST_ENCAP) == before + 4);
		CHECK(stat_of(skel, IOAM_ST_NOT_SAMPLED) == 12);
	}
}

/* three namespaces in one header */
static void test_three_namespaces(void)
{
	{
		struct ioam_opt_spec three[3] = {
			{ .ns = 123, .type = IOAM_BIT(0), .size = 8 },
			{ .ns = 7, .type = IOAM_BIT(0) | IOAM_BIT(5), .size = 16 },
			{ .ns = 9, .type = IOAM_BIT(10), .size = 8 },
		};

		add_ns(skel, 7, 0x77, 0);
		add_ns(skel, 9, 0, 0x99);
		set_encap(skel, "fd00:244:0:2::", 64, three, 3, 1, 1, 2);
		udp6(&in, POD_A, POD_B, NULL, 0);
		run(skel->progs.ioam_egress, &in, &out);
		CHECK((out.len - in.len) % 8 == 0 && out.len - in.len == 4 + 12 * 3 + 32);
		o = find_opt(&out, 0);
		CHECK(o > 0 && be32at(out.buf + o + 12 + 4) == (63u << 24 | 1));
		o = find_opt(&out, 1);
		CHECK(o > 0 && (o - HBH) % 4 == 0 && be32at(out.buf + o + 12 + 12) == 0x77);
		o = find_opt(&out, 2);
		CHECK(o > 0 && be32at(out.buf + o + 12) == 0 && be32at(out.buf + o + 16) == 0x99);
		add_endpoint(skel, POD_B, 42);
		mid = out;
		int before = n_ev;
		CHECK(run(skel->progs.ioam_ingress, &mid, &out) == TC_ACT_UNSPEC);
		CHECK(out.len == in.len && memcmp(out.buf, in.buf, in.len) == 0);
		ring_buffer__consume(rb);
		CHECK(n_ev == before + 3);
		set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 1, 0);
	}
}

/* malformed and unusual headers arriving from the wire */
static void test_malformed(void)
{
	{
		uint8_t h[96];
		uint64_t mal = stat_of(skel, IOAM_ST_MALFORMED);
		uint64_t unk = stat_of(skel, IOAM_ST_UNKNOWN_NS);
		uint64_t inc = stat_of(skel, IOAM_ST_INCONSISTENT);

		del_endpoint(skel, POD_B);
		set_node(skel, 5);
		/* a well-formed trace option: ns 123, bit 0 only, 2 words of room */
#define TRACE(ns_, nodelen, remlen, t, optlen) do { \
		memset(h, 0, sizeof(h)); \
		h[1] = 2; h[2] = 1; h[3] = 0; \
		h[4] = IOAM_HBH_OPT; h[5] = (optlen); h[7] = 0; \
		h[8] = (uint8_t)((ns_) >> 8); h[9] = (uint8_t)(ns_); \
		h[10] = (uint8_t)((nodelen) << 3); h[11] = (remlen); \
		h[12] = (uint8_t)((t) >> 16); h[13] = (uint8_t)((t) >> 8); h[14] = (uint8_t)(t); \
	} while (0)
		/* header 24 octets: 2 + Pad2 + option of 20 (12 + 8 of data) */
		TRACE(123, 1, 2, IOAM_BIT(0), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(be32at(out.buf + HBH + 16 + 4) == (63u << 24 | 5));   /* filled at word 1 */
		CHECK((out.buf[HBH + 11] & 0x7f) == 1);

		/* Hdr Ext Len past the packet: dropped */
		udp6(&in, POD_A, POD_B, h, 24);
		in.buf[HBH + 1] = 40;
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_SHOT);
		/* an option running past the header: dropped */
		TRACE(123, 1, 2, IOAM_BIT(0), 60);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_SHOT);
		CHECK(stat_of(skel, IOAM_ST_MALFORMED) == mal + 2);

		/* unknown namespace: passed untouched */
		TRACE(999, 1, 2, IOAM_BIT(0), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(out.len == in.len && memcmp(out.buf, in.buf, in.len) == 0);
		CHECK(stat_of(skel, IOAM_ST_UNKNOWN_NS) == unk + 1);

		/* RemainingLen past the end of the option: passed untouched */
		TRACE(123, 1, 20, IOAM_BIT(0), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(memcmp(out.buf, in.buf, in.len) == 0);
		/* NodeLen smaller than the type needs: untouched */
		TRACE(123, 1, 2, IOAM_BIT(0) | IOAM_BIT(1), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(memcmp(out.buf, in.buf, in.len) == 0);
		/* an option too short for a trace header: untouched */
		memset(h, 0, sizeof(h));
		h[1] = 0; h[2] = IOAM_HBH_OPT; h[3] = 2;
		udp6(&in, POD_A, POD_B, h, 8);
		in.buf[HBH + 6] = 1; in.buf[HBH + 7] = 0;
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(memcmp(out.buf, in.buf, in.len) == 0);
		CHECK(stat_of(skel, IOAM_ST_INCONSISTENT) == inc + 3);

		/* undefined bit 12 set with one more word: known fields then all-ones */
		TRACE(123, 2, 2, IOAM_BIT(0) | IOAM_BIT(12), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(be32at(out.buf + HBH + 16) == (63u << 24 | 5));
		CHECK(be32at(out.buf + HBH + 16 + 4) == 0xffffffff);
		CHECK((out.buf[HBH + 11] & 0x7f) == 0);
		/* opaque state snapshot (bit 22): no node data at all */
		TRACE(123, 1, 2, IOAM_BIT(0) | IOAM_BIT(22), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC);
		CHECK(memcmp(out.buf, in.buf, in.len) == 0);

		/* decap of an unknown namespace: the header stays */
		add_endpoint(skel, POD_B, 42);
		TRACE(999, 1, 2, IOAM_BIT(0), 18);
		udp6(&in, POD_A, POD_B, h, 24);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC && out.len == in.len);
		/* a header with no IOAM at all is not ours to touch */
		memset(h, 0, 8);
		h[2] = 1; h[3] = 4;
		udp6(&in, POD_A, POD_B, h, 8);
		CHECK(run(skel->progs.ioam_ingress, &in, &out) == TC_ACT_UNSPEC && out.len == in.len);
	}
}

/* export budget: at most export_rate traces a window are exported; the others are
 * removed all the same, without this node's data, and counted; a window a second old
 * ends at the next 64th skipped trace */
static void test_export_budget(void)
{
	{
		struct ioam_node slow = { .id = 3, .id_wide = 0x1000003, .export_rate = 3 };
		struct timespec pause = { .tv_sec = 1, .tv_nsec = 100 * 1000 * 1000 };
		uint64_t exp0, skip0;
		uint32_t zero = 0;
		int removed = 0;

		set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 1, 0);
		del_endpoint(skel, POD_B);
		udp6(&in, POD_A, POD_B, NULL, 0);
		set_node(skel, 1);
		CHECK(run(skel->progs.ioam_egress, &in, &mid) == TC_ACT_UNSPEC && mid.len > in.len);
		add_endpoint(skel, POD_B, 42);
		bpf_map_update_elem(bpf_map__fd(skel->maps.ioam_node), &zero, &slow, BPF_ANY);
		exp0 = stat_of(skel, IOAM_ST_EXPORT);
		skip0 = stat_of(skel, IOAM_ST_EXPORT_SKIPPED);
		for (int i = 0; i < 10; i++)
			removed += run(skel->progs.ioam_ingress, &mid, &out) == TC_ACT_UNSPEC && out.len == in.len;
		CHECK(removed == 10);
		CHECK(stat_of(skel, IOAM_ST_EXPORT) - exp0 <= 3);
		CHECK(stat_of(skel, IOAM_ST_EXPORT) - exp0 + stat_of(skel, IOAM_ST_EXPORT_SKIPPED) - skip0 == 10);
		ring_buffer__consume(rb);
		nanosleep(&pause, NULL);
		exp0 = stat_of(skel, IOAM_ST_EXPORT);
		skip0 = stat_of(skel, IOAM_ST_EXPORT_SKIPPED);
		for (int i = 0; i < 130; i++)
			run(skel->progs.ioam_ingress, &mid, &out);
		CHECK(stat_of(skel, IOAM_ST_EXPORT) - exp0 == 3);
		CHECK(stat_of(skel, IOAM_ST_EXPORT_SKIPPED) - skip0 == 127);
		ring_buffer__consume(rb);
		set_node(skel, 1);
	}
}

/* inside the datapath: both objects share the pinned maps and the prog array */
static void test_inside_datapath(void)
{
	{
		LIBBPF_OPTS(bpf_object_open_opts, dopts, .pin_root_path = pin);
		struct datapath_bpf *dp = datapath_bpf__open_opts(&dopts);
		struct dp_cfg cfg = { .mode = DP_MODE_NATIVE, .cluster6_len = 32 };
		struct loc6_key lk = { .prefixlen = 64 };
		struct loc_info lv = { 0 };
		uint32_t zero = 0, flags = IOAM_F_ENCAP, slot, fd;
		int tail_fd, ifindex = prog_run_fib_netns();
		uint64_t enc0, dec0, mal0;
		static const uint8_t EP_MAC[6] = { 2, 0, 0, 0, 0, 0x42 };

		CHECK(ifindex > 0);
		CHECK(dp && datapath_bpf__load(dp) == 0);
		tail_fd = bpf_map__fd(dp->maps.dp_tail);
		inet_pton(AF_INET6, "fd00:244::", cfg.cluster6);
		bpf_map_update_elem(bpf_map__fd(dp->maps.dp_config), &zero, &cfg, BPF_ANY);
		inet_pton(AF_INET6, "fd00:244:0:2::", lk.addr);
		inet_pton(AF_INET6, "fd00:198:18::12", lv.node6);
		bpf_map_update_elem(bpf_map__fd(dp->maps.locations6), &lk, &lv, BPF_ANY);
		slot = DP_TAIL_UNDERLAY, fd = (uint32_t)bpf_program__fd(dp->progs.from_underlay);
		bpf_map_update_elem(tail_fd, &slot, &fd, BPF_ANY);
		set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 1, 0);
		set_node(skel, 1);
		del_endpoint(skel, POD_B);
		add_endpoint(skel, POD_A, 41);

		/* encap off (flag clear, slot empty): forwarded untouched */
		udp6(&in, POD_A, POD_B, NULL, 0);
		enc0 = stat_of(skel, IOAM_ST_ENCAP);
		CHECK(prog_run_on(ifindex, dp->progs.from_container, in.buf, in.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_REDIRECT && out.len == in.len);
		/* encap on: the datapath samples, IOAM inserts, native_xmit redirects; the egress
		 * interface is the one the FIB chose */
		slot = DP_TAIL_IOAM_ENCAP, fd = (uint32_t)bpf_program__fd(skel->progs.ioam_egress);
		bpf_map_update_elem(tail_fd, &slot, &fd, BPF_ANY);
		bpf_map_update_elem(bpf_map__fd(dp->maps.ioam_flags), &zero, &flags, BPF_ANY);
		CHECK(prog_run_on(ifindex, dp->progs.from_container, in.buf, in.len, mid.buf, sizeof(mid.buf),
				  &mid.len) == TC_ACT_REDIRECT && mid.len == in.len + 104);   /* 84-octet area */
		CHECK(stat_of(skel, IOAM_ST_ENCAP) == enc0 + 1);
		o = find_opt(&mid, 0);
		CHECK(o == HBH + 8 && mid.buf[o + 5] == 123);
		CHECK(be32at(mid.buf + o + 12 + 14 * 4 + 4) == (0xffffu << 16 | (uint32_t)ifindex));
		CHECK(memcmp(mid.buf + HBH + 104, in.buf + HBH, in.len - HBH) == 0);
		/* a packet that would no longer fit the egress device's MTU goes without IOAM */
		{
			uint64_t fail = stat_of(skel, IOAM_ST_ENCAP_FAIL);
			static struct frame big;

			big.len = frame6(big.buf, POD_A, POD_B, 1500 - 40 - 8 - 40);
			CHECK(prog_run_on(ifindex, dp->progs.from_container, big.buf, big.len, out.buf,
					  sizeof(out.buf), &out.len) == TC_ACT_REDIRECT && out.len == big.len);
			CHECK(stat_of(skel, IOAM_ST_ENCAP_FAIL) == fail + 1);
			/* one that fits exactly (1500 octets with the 104 inserted) gets it */
			big.len = frame6(big.buf, POD_A, POD_B, 1500 - 40 - 8 - 104);
			CHECK(prog_run_on(ifindex, dp->progs.from_container, big.buf, big.len, out.buf,
					  sizeof(out.buf), &out.len) == TC_ACT_REDIRECT && out.len == big.len + 104);
			big.len = frame6(big.buf, POD_A, POD_B, 1500 - 40 - 8 - 104 + 1);
			CHECK(prog_run_on(ifindex, dp->progs.from_container, big.buf, big.len, out.buf,
					  sizeof(out.buf), &out.len) == TC_ACT_REDIRECT && out.len == big.len);
			CHECK(stat_of(skel, IOAM_ST_ENCAP_FAIL) == fail + 2);
		}
		/* an IPv4 packet, or one from an address that is no local endpoint: no IOAM */
		udp6(&in, "fd00:244:0:1::77", POD_B, NULL, 0);
		CHECK(prog_run_on(ifindex, dp->progs.from_container, in.buf, in.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_REDIRECT && out.len == in.len);
		/* sampling 1 in 4 is decided in the datapath */
		{
			int grown = 0;

			set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 4, 3);
			udp6(&in, POD_A, POD_B, NULL, 0);
			for (int i = 0; i < 16; i++) {
				CHECK(prog_run_on(ifindex, dp->progs.from_container, in.buf, in.len, out.buf,
						  sizeof(out.buf), &out.len) == TC_ACT_REDIRECT);
				grown += out.len > in.len;
			}
			CHECK(grown == 4);
			set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 1, 0);
		}

		/* transit on from_underlay: node 2 adds its data, the packet goes on natively */
		set_node(skel, 2);
		slot = DP_TAIL_IOAM_INGRESS, fd = (uint32_t)bpf_program__fd(skel->progs.ioam_ingress);
		bpf_map_update_elem(tail_fd, &slot, &fd, BPF_ANY);
		CHECK(prog_run_on(ifindex, dp->progs.from_underlay, mid.buf, mid.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_REDIRECT && out.len == mid.len);
		CHECK(be32at(out.buf + o + 12 + 7 * 4) == (63u << 24 | 2));
		/* decap on from_underlay: removed before the datapath delivers to the endpoint */
		{
			struct ep_key k = { .family = AF_INET6 };
			struct ep_info v = { .ifindex = 42, .id = 42 };

			memcpy(v.mac, EP_MAC, 6);
			inet_pton(AF_INET6, POD_B, k.addr);
			bpf_map_update_elem(bpf_map__fd(dp->maps.endpoints), &k, &v, BPF_ANY);
		}
		dec0 = stat_of(skel, IOAM_ST_DECAP);
		mid = out;
		set_node(skel, 3);
		udp6(&in, POD_A, POD_B, NULL, 0);
		CHECK(prog_run_on(ifindex, dp->progs.from_underlay, mid.buf, mid.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_REDIRECT);
		CHECK(out.len == in.len && memcmp(out.buf + L3, in.buf + L3, in.len - L3) == 0);
		CHECK(memcmp(out.buf, EP_MAC, 6) == 0);              /* delivered by the datapath */
		CHECK(stat_of(skel, IOAM_ST_DECAP) == dec0 + 1);
		ring_buffer__consume(rb);
		/* a broken header is dropped by IOAM before the datapath sees it */
		mal0 = stat_of(skel, IOAM_ST_MALFORMED);
		in = mid;
		in.buf[HBH + 1] = 200;
		CHECK(prog_run_on(ifindex, dp->progs.from_underlay, in.buf, in.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_SHOT);
		CHECK(stat_of(skel, IOAM_ST_MALFORMED) == mal0 + 1);
		/* ingress slot empty (role none): the header reaches the endpoint untouched */
		slot = DP_TAIL_IOAM_INGRESS;
		bpf_map_delete_elem(tail_fd, &slot);
		CHECK(prog_run_on(ifindex, dp->progs.from_underlay, mid.buf, mid.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_REDIRECT && out.len == mid.len);
		CHECK(stat_of(skel, IOAM_ST_DECAP) == dec0 + 1);
		/* encap slot empty (role none): sent on untouched, where the datapath chose */
		slot = DP_TAIL_IOAM_ENCAP;
		bpf_map_delete_elem(tail_fd, &slot);
		udp6(&in, POD_A, POD_B, NULL, 0);
		CHECK(prog_run_on(ifindex, dp->progs.from_container, in.buf, in.len, out.buf, sizeof(out.buf),
				  &out.len) == TC_ACT_REDIRECT && out.len == in.len);
		datapath_bpf__destroy(dp);
	}
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP: BPF_PROG_RUN needs root\n");
		return HARNESS_SKIP;
	}
	/* Sampling counters and the export budget are per CPU: every run on one CPU, however
	 * the test sleeps in between. */
	{
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	if (prog_run_pin_dir(pin, sizeof(pin), "ioamtest")) {
		printf("SKIP: no bpffs at /sys/fs/bpf (%s)\n", strerror(errno));
		return HARNESS_SKIP;
	}
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin);
	skel = ioam_bpf__open_opts(&opts);
	if (!skel || ioam_bpf__load(skel)) {
		fprintf(stderr, "cannot load the IOAM programs\n");
		ioam_bpf__destroy(skel);
		prog_run_pin_dir_remove(pin);
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.ioam_traces), on_event, NULL, NULL);
	CHECK(rb != NULL);
	add_ns(skel, 123, 0xabcd0123, 0x1122334455667788ull);
	add_endpoint(skel, POD_A, 41);
	set_encap(skel, "fd00:244:0:2::", 64, &spec, 1, 1, 1, 0);
	CHECK(ioam_nodelen(type) == 7);

	test_encap_new_header();
	test_every_field();
	test_transit();
	test_transit_overflow();
	test_decap_overflow();
	test_path_of_three();
	test_encap_existing_header();
	test_sampling();
	test_three_namespaces();
	test_malformed();
	test_export_budget();
	test_inside_datapath();

	ring_buffer__free(rb);
	ioam_bpf__destroy(skel);
	if (prog_run_pin_dir_remove(pin))
		return 1;
	return harness_done("test_ioam");
}
