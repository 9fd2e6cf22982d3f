/* IOAM values, encap templates and trace decoding (pure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "ioam.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	int base = 10;

	if (!s || !*s || !isxdigit((unsigned char)*s))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s))
			return -EINVAL;
	}
	errno = 0;
	*v = strtoull(s, &end, base);
	return errno || *end ? -EINVAL : 0;
}

unsigned ioam_nodelen(uint32_t type)
{
	return (unsigned)(__builtin_popcount(type & IOAM_SHORT_MASK) +
			  2 * __builtin_popcount(type & IOAM_WIDE_MASK));
}

int ioam_type_parse(const char *s, uint32_t *type, char *err, size_t errlen)
{
	char *end;
	unsigned long v;
	const char *p = s;

	if (!s || !*s)
		FAIL("empty trace type");
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	errno = 0;
	v = strtoul(p, &end, 16);
	if (!*p || !isxdigit((unsigned char)*p) || errno || *end || v > 0xffffff)
		FAIL("trace type '%s' is not a 24-bit hex value such as 0x800000", s);
	if (!v)
		FAIL("trace type 0x000000 asks for no data");
	if (v & ~(unsigned long)IOAM_SUPPORTED_MASK) {
		int bit = 0;

		for (int i = 12; i < 24; i++)
			if (v & IOAM_BIT(i)) {
				bit = i;
				break;
			}
		FAIL("trace type 0x%06lx sets bit %d (%s); petrel fills bits 0-11 (mask 0x%06x)", v, bit,
		     bit == 22 ? "opaque state snapshot" : bit == 23 ? "reserved" : "undefined",
		     IOAM_SUPPORTED_MASK);
	}
	*type = (uint32_t)v;
	return 0;
}

int ioam_size_check(uint32_t type, long size, char *err, size_t errlen)
{
	unsigned need = ioam_nodelen(type) * 4;

	if (size <= 0 || size % 4)
		FAIL("size %ld is not a positive multiple of 4 octets", size);
	if (size > IOAM_SIZE_MAX)
		FAIL("size %ld is over %d octets, the most a pre-allocated trace may hold", size, IOAM_SIZE_MAX);
	if ((unsigned long)size < need)
		FAIL("size %ld cannot hold one node's data (%u octets for trace type 0x%06x)", size, need, type);
	return 0;
}

int ioam_freq_parse(const char *s, uint32_t *k, uint32_t *n, char *err, size_t errlen)
{
	uint64_t a, b;
	char buf[32], *slash;

	if (!s || strlen(s) >= sizeof(buf))
		FAIL("frequency '%s' is not K/N", s ? s : "");
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		FAIL("frequency '%s' is not K/N (e.g. 1/100 for 1%%)", s);
	*slash = 0;
	if (parse_u64(buf, &a) || parse_u64(slash + 1, &b) || a < 1 || b < 1 || b > 1000000 || a > b)
		FAIL("frequency '%s' needs 1 <= K <= N <= 1000000", s);
	*k = (uint32_t)a;
	*n = (uint32_t)b;
	return 0;
}

int ioam_ns_parse(const char *s, uint16_t *id, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > 0xffff)
		FAIL("namespace id '%s' is not a number in 0-65535", s ? s : "");
	*id = (uint16_t)v;
	return 0;
}

int ioam_value_parse(const char *s, unsigned bits, uint64_t *v, char *err, size_t errlen)
{
	if (parse_u64(s, v) || (bits < 64 && *v >> bits))
		FAIL("'%s' is not a %u-bit value (hex with 0x, or decimal)", s ? s : "", bits);
	return 0;
}

int ioam_template_build(const struct ioam_opt_spec *opts, size_t n, struct ioam_encap *out,
			char *err, size_t errlen)
{
	size_t total = 0, off;

	if (n < 1 || n > IOAM_MAX_OPTS)
		FAIL("an encap rule carries 1 to %d trace options, not %zu", IOAM_MAX_OPTS, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (opts[j].ns == opts[i].ns)
				FAIL("namespace %u appears twice in one encap rule", opts[i].ns);
		if (ioam_size_check(opts[i].type, opts[i].size, err, errlen))
			return -EINVAL;
		total += IOAM_OPT_HDR + IOAM_TRACE_HDR + opts[i].size;
	}
	memset(out->opt, 0, sizeof(out->opt));
	memset(out->tpl, 0, sizeof(out->tpl));
	/* Every option is a multiple of 4 long and must start 4n: after the two header bytes
	 * a Pad2 (PadN, length 0), or a 6-octet PadN when the total would otherwise end 4
	 * octets short of a multiple of 8. Padding never trails, so an extended header's old
	 * first option is preceded by at most the Pad2 the encap leaves there. */
	off = (2 + 2 + total) % 8 ? 8 : 4;
	if (off + total > IOAM_TPL_MAX)
		FAIL("the trace options need %zu octets, more than the %d one packet may get",
		     off + total, IOAM_TPL_MAX);
	out->tpl[2] = 1;                 /* PadN */
	out->tpl[3] = (uint8_t)(off - 4);
	for (size_t i = 0; i < n; i++) {
		uint8_t *o = out->tpl + off;
		unsigned nl = ioam_nodelen(opts[i].type), words = opts[i].size / 4;

		o[0] = IOAM_HBH_OPT;
		o[1] = (uint8_t)(IOAM_OPT_HDR + IOAM_TRACE_HDR + opts[i].size - 2);
		o[2] = 0;
		o[3] = IOAM_TYPE_PREALLOC;
		o[4] = (uint8_t)(opts[i].ns >> 8);
		o[5] = (uint8_t)opts[i].ns;
		o[6] = (uint8_t)(nl << 3);
		o[7] = (uint8_t)(words - nl);   /* RemainingLen once this node has written */
		o[8] = (uint8_t)(opts[i].type >> 16);
		o[9] = (uint8_t)(opts[i].type >> 8);
		o[10] = (uint8_t)opts[i].type;
		o[11] = 0;
		out->opt[i].ns = opts[i].ns;
		out->opt[i].type = opts[i].type;
		out->opt[i].nodelen = nl;
		out->opt[i].fill = (uint16_t)(off + IOAM_OPT_HDR + IOAM_TRACE_HDR + (words - nl) * 4);
		off += IOAM_OPT_HDR + IOAM_TRACE_HDR + opts[i].size;
	}
	out->tpl[1] = (uint8_t)(off / 8 - 1);
	out->len = (uint32_t)off;
	out->nopts = (uint32_t)n;
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int ioam_trace_decode(uint32_t type, unsigned nodelen, unsigned remlen, const uint8_t *data,
		      size_t len, struct ioam_hop *hops, size_t max, size_t *n)
{
	size_t count, k;

	*n = 0;
	if (!nodelen || nodelen < ioam_nodelen(type) || (size_t)remlen * 4 > len || len % 4)
		return -EINVAL;
	count = (len - remlen * 4) / (nodelen * 4);
	if ((len - remlen * 4) % (nodelen * 4))
		return -EINVAL;
	for (k = 0; k < count && k < max; k++) {
		/* The last node wrote just after RemainingLen; the first one at the end. */
		const uint8_t *p = data + len - (k + 1) * nodelen * 4;
		struct ioam_hop *h = &hops[k];
		uint32_t w;

		memset(h, 0xff, sizeof(*h));
#define NEXT() (p += 4, be32(p - 4))
		if (type & IOAM_BIT(0)) {
			w = NEXT();
			h->hop_limit = (uint8_t)(w >> 24);
			h->node_id = w & 0xffffff;
		}
		if (type & IOAM_BIT(1)) {
			w = NEXT();
			h->if_in = (uint16_t)(w >> 16);
			h->if_out = (uint16_t)w;
		}
		if (type & IOAM_BIT(2)) h->ts_sec = NEXT();
		if (type & IOAM_BIT(3)) h->ts_subsec = NEXT();
		if (type & IOAM_BIT(4)) h->transit_delay = NEXT();
		if (type & IOAM_BIT(5)) h->ns_data = NEXT();
		if (type & IOAM_BIT(6)) h->queue_depth = NEXT();
		if (type & IOAM_BIT(7)) h->csum_comp = NEXT();
		if (type & IOAM_BIT(8)) {
			w = NEXT();
			h->hop_limit_wide = (uint8_t)(w >> 24);
			h->node_id_wide = (uint64_t)(w & 0xffffff) << 32;
			h->node_id_wide |= NEXT();
		}
		if (type & IOAM_BIT(9)) {
			h->if_in_wide = NEXT();
			h->if_out_wide = NEXT();
		}
		if (type & IOAM_BIT(10)) {
			h->ns_data_wide = (uint64_t)NEXT() << 32;
			h->ns_data_wide |= NEXT();
		}
		if (type & IOAM_BIT(11)) h->buffer_occupancy = NEXT();
#undef NEXT
	}
	*n = k;
	return 0;
}

static json_t *u_or_null(uint64_t v, uint64_t unknown)
{
	return v == unknown ? json_null() : json_integer((json_int_t)v);
}

int ioam_hop_time(const struct ioam_hop *h, uint32_t type, uint64_t *ns)
{
	if (!(type & IOAM_BIT(2)) || !(type & IOAM_BIT(3)) || h->ts_sec == 0xffffffff ||
	    h->ts_subsec == 0xffffffff || h->ts_subsec >= 1000000u)
		return 0;
	*ns = (uint64_t)h->ts_sec * 1000000000ull + h->ts_subsec * 1000ull;
	return 1;
}

json_t *ioam_hop_json(const struct ioam_hop *h, uint32_t type)
{
	json_t *o = json_object();

	if (type & IOAM_BIT(0)) {
		json_object_set_new(o, "hop_limit", json_integer(h->hop_limit));
		json_object_set_new(o, "node_id", u_or_null(h->node_id, 0xffffff));
	}
	if (type & IOAM_BIT(1)) {
		json_object_set_new(o, "ingress_if", u_or_null(h->if_in, 0xffff));
		json_object_set_new(o, "egress_if", u_or_null(h->if_out, 0xffff));
	}
	if (type & IOAM_BIT(2))
		json_object_set_new(o, "timestamp_sec", u_or_null(h->ts_sec, 0xffffffff));
	if (type & IOAM_BIT(3))
		json_object_set_new(o, "timestamp_subsec", u_or_null(h->ts_subsec, 0xffffffff));
	if (type & IOAM_BIT(4))
		json_object_set_new(o, "transit_delay", u_or_null(h->transit_delay, 0xffffffff));
	if (type & IOAM_BIT(5))
		json_object_set_new(o, "namespace_data", u_or_null(h->ns_data, 0xffffffff));
	if (type & IOAM_BIT(6))
		json_object_set_new(o, "queue_depth", u_or_null(h->queue_depth, 0xffffffff));
	if (type & IOAM_BIT(7))
		json_object_set_new(o, "checksum_complement", u_or_null(h->csum_comp, 0xffffffff));
	if (type & IOAM_BIT(8)) {
		json_object_set_new(o, "hop_limit_wide", json_integer(h->hop_limit_wide));
		json_object_set_new(o, "node_id_wide", u_or_null(h->node_id_wide, 0xffffffffffffffull));
	}
	if (type & IOAM_BIT(9)) {
		json_object_set_new(o, "ingress_if_wide", u_or_null(h->if_in_wide, 0xffffffff));
		json_object_set_new(o, "egress_if_wide", u_or_null(h->if_out_wide, 0xffffffff));
	}
	if (type & IOAM_BIT(10)) {
		char hex[24];

		snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)h->ns_data_wide);
		json_object_set_new(o, "namespace_data_wide",
				    h->ns_data_wide == UINT64_MAX ? json_null() : json_string(hex));
	}
	if (type & IOAM_BIT(11))
		json_object_set_new(o, "buffer_occupancy", u_or_null(h->buffer_occupancy, 0xffffffff));
	return o;
}
