/* Latency histograms, records and ping correlation (see latency.h). Pure code. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "latency.h"

int lat_hist_index(uint64_t ns)
{
	int e;

	if (ns < 256)
		return (int)(ns / 16);
	e = 63 - __builtin_clzll(ns);            /* 8.. */
	if (e >= 32)
		return LAT_HIST_BUCKETS - 1;
	return LAT_HIST_SUB + (e - 8) * LAT_HIST_SUB + (int)((ns >> (e - 4)) & (LAT_HIST_SUB - 1));
}

uint64_t lat_hist_lower(int i)
{
	int e, m;

	if (i < LAT_HIST_SUB)
		return (uint64_t)i * 16;
	e = (i - LAT_HIST_SUB) / LAT_HIST_SUB + 8;
	m = (i - LAT_HIST_SUB) % LAT_HIST_SUB;
	return ((uint64_t)LAT_HIST_SUB + (uint64_t)m) << (e - 4);
}

uint64_t lat_hist_width(int i)
{
	if (i < LAT_HIST_SUB)
		return 16;
	return 1ull << ((i - LAT_HIST_SUB) / LAT_HIST_SUB + 8 - 4);
}

void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	if (!h->count || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->count++;
	h->sum += ns;
	h->b[lat_hist_index(ns)]++;
}

void lat_hist_merge(struct lat_hist *into, const struct lat_hist *from)
{
	if (!from->count)
		return;
	if (!into->count || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->count += from->count;
	into->sum += from->sum;
	for (int i = 0; i < LAT_HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
}

uint64_t lat_hist_quantile(const struct lat_hist *h, double q)
{
	uint64_t rank, seen = 0, v;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (int i = 0; i < LAT_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > rank) {
			v = lat_hist_lower(i) + lat_hist_width(i) / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

double lat_hist_mean(const struct lat_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0;
}

json_t *lat_hist_json(const struct lat_hist *h)
{
	json_t *buckets = json_array();

	for (int i = 0; i < LAT_HIST_BUCKETS; i++)
		if (h->b[i])
			json_array_append_new(buckets, json_pack("[I,I]", (json_int_t)lat_hist_lower(i),
								 (json_int_t)h->b[i]));
	return json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			 "count", (json_int_t)h->count, "mean_ns", lat_hist_mean(h),
			 "min_ns", (json_int_t)h->min, "max_ns", (json_int_t)h->max,
			 "p50_ns", (json_int_t)lat_hist_quantile(h, 0.50),
			 "p90_ns", (json_int_t)lat_hist_quantile(h, 0.90),
			 "p99_ns", (json_int_t)lat_hist_quantile(h, 0.99),
			 "p999_ns", (json_int_t)lat_hist_quantile(h, 0.999), "buckets", buckets);
}

const char *lat_proto_name(int proto)
{
	switch (proto) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	default: return "other";
	}
}

const char *lat_dir_name(int dir)
{
	return dir ? "ingress" : "egress";
}

static void addr_str(int family, const uint8_t *a, char *out, size_t len)
{
	if (!inet_ntop(family == 10 ? AF_INET6 : AF_INET, a, out, (socklen_t)len))
		snprintf(out, len, "?");
}

json_t *lat_record_json(const struct lat_record *r)
{
	char src[64], dst[64];
	json_t *key, *j;

	addr_str(r->family, r->src, src, sizeof(src));
	addr_str(r->family, r->dst, dst, sizeof(dst));
	if (r->proto == 1 || r->proto == 58)
		key = json_pack("{s:i, s:i}", "id", r->id, "seq", (int)r->seq);
	else if (r->proto == 6)
		key = json_pack("{s:i, s:i, s:I}", "sport", r->sport, "dport", r->dport,
				r->dir ? "end_seq" : "seq", (json_int_t)r->seq);
	else
		key = json_pack("{s:i, s:i, s:I}", "sport", r->sport, "dport", r->dport,
				"payload_hash", (json_int_t)r->seq);
	j = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:i, s:o, s:s}",
		      "dir", lat_dir_name(r->dir), "ts_ns", (json_int_t)r->ts_ns,
		      "time_ns", (json_int_t)r->realtime_ns, "latency_ns", (json_int_t)r->latency_ns,
		      "proto", lat_proto_name(r->proto), "src", src, "dst", dst, "len", (int)r->len,
		      "key", key, "match", r->match ? r->match : "");
	if (j && !r->dir && r->start) {
		json_object_set_new(j, "start", json_string(r->start));
		json_object_set_new(j, "stack_ns", json_integer((json_int_t)r->stack_ns));
	}
	return j;
}

int lat_record_parse(json_t *j, struct lat_record_view *out)
{
	const char *dir = json_string_value(json_object_get(j, "dir"));
	const char *proto = json_string_value(json_object_get(j, "proto"));
	json_t *lat = json_object_get(j, "latency_ns"), *key = json_object_get(j, "key");
	const char *s;

	memset(out, 0, sizeof(*out));
	if (!dir || !proto || !json_is_integer(lat) || !json_is_object(key))
		return -EINVAL;
	if (!strcmp(dir, "egress"))
		out->dir = 0;
	else if (!strcmp(dir, "ingress"))
		out->dir = 1;
	else
		return -EINVAL;
	out->proto = !strcmp(proto, "icmp") ? 1 : !strcmp(proto, "icmpv6") ? 58 :
		     !strcmp(proto, "tcp") ? 6 : !strcmp(proto, "udp") ? 17 : 0;
	out->latency_ns = (uint64_t)json_integer_value(lat);
	out->stack_ns = (uint64_t)json_integer_value(json_object_get(j, "stack_ns"));
	out->seq = (uint32_t)json_integer_value(json_object_get(key, "seq"));
	out->id = (uint32_t)json_integer_value(json_object_get(key, "id"));
	if ((s = json_string_value(json_object_get(j, "src"))))
		snprintf(out->src, sizeof(out->src), "%s", s);
	if ((s = json_string_value(json_object_get(j, "dst"))))
		snprintf(out->dst, sizeof(out->dst), "%s", s);
	return 0;
}

int lat_ping_parse_reply(const char *line, uint32_t *seq, uint64_t *rtt_ns)
{
	const char *s = strstr(line, " bytes from "), *t;
	char *end;
	unsigned long sq;
	double ms;

	if (!s || !(s = strstr(s, "icmp_seq=")))
		return -ENOENT;
	sq = strtoul(s + 9, &end, 10);
	if (end == s + 9 || !(t = strstr(end, "time=")))
		return -ENOENT;
	ms = strtod(t + 5, &end);
	if (end == t + 5 || ms < 0 || strncmp(end, " ms", 3))
		return -ENOENT;
	*seq = (uint32_t)sq;
	*rtt_ns = (uint64_t)(ms * 1e6 + 0.5);
	return 0;
}

int lat_ping_parse_header(const char *line, char *addr, size_t len)
{
	const char *o, *c;

	if (strncmp(line, "PING ", 5) || !(o = strchr(line, '(')) || !(c = strchr(o, ')')) ||
	    c == o + 1 || (size_t)(c - o - 1) >= len)
		return -ENOENT;
	memcpy(addr, o + 1, (size_t)(c - o - 1));
	addr[c - o - 1] = 0;
	return 0;
}

int lat_ping_init(struct lat_ping *p)
{
	memset(p, 0, sizeof(*p));
	p->e = calloc(LAT_PING_MAX, sizeof(*p->e));
	return p->e ? 0 : -ENOMEM;
}

void lat_ping_free(struct lat_ping *p)
{
	free(p->e);
	p->e = NULL;
}

void lat_ping_reply(struct lat_ping *p, uint32_t seq, uint64_t rtt_ns)
{
	struct lat_ping_entry *e = &p->e[seq % LAT_PING_MAX];

	e->rtt_ns = rtt_ns;
	e->replied = true;
}

void lat_ping_latency(struct lat_ping *p, uint32_t seq, int dir, uint64_t ns, uint64_t stack_ns)
{
	struct lat_ping_entry *e = &p->e[seq % LAT_PING_MAX];

	if (dir) {
		e->ingress_ns = ns;
		e->has_ingress = true;
	} else {
		e->egress_ns = ns;
		e->stack_ns = stack_ns <= ns ? stack_ns : ns;
		e->has_egress = true;
	}
}

bool lat_ping_complete(const struct lat_ping *p, uint32_t seq)
{
	const struct lat_ping_entry *e = &p->e[seq % LAT_PING_MAX];

	return e->replied && e->has_egress && e->has_ingress;
}

int64_t lat_ping_corrected(const struct lat_ping *p, uint32_t seq)
{
	const struct lat_ping_entry *e = &p->e[seq % LAT_PING_MAX];

	return (int64_t)e->rtt_ns - (int64_t)e->egress_ns - (int64_t)e->ingress_ns;
}

int64_t lat_ping_path_corrected(const struct lat_ping *p, uint32_t seq)
{
	const struct lat_ping_entry *e = &p->e[seq % LAT_PING_MAX];

	return lat_ping_corrected(p, seq) + (int64_t)e->stack_ns;
}

void lat_ping_account(struct lat_ping *p, uint32_t seq)
{
	const struct lat_ping_entry *e = &p->e[seq % LAT_PING_MAX];
	int64_t corr;

	if (!e->replied)
		return;
	if (!p->replies || e->rtt_ns < p->raw_min)
		p->raw_min = e->rtt_ns;
	if (e->rtt_ns > p->raw_max)
		p->raw_max = e->rtt_ns;
	p->replies++;
	p->raw_sum += (double)e->rtt_ns;
	if (!lat_ping_complete(p, seq))
		return;
	corr = lat_ping_corrected(p, seq);
	if (corr <= 0) {
		p->corr_nonpositive++;
		corr = corr < 0 ? 0 : corr;
	}
	if (!p->matched || (uint64_t)corr < p->corr_min)
		p->corr_min = (uint64_t)corr;
	if ((uint64_t)corr > p->corr_max)
		p->corr_max = (uint64_t)corr;
	p->matched++;
	p->corr_sum += (double)corr;
	p->egress_sum += (double)e->egress_ns;
	p->ingress_sum += (double)e->ingress_ns;
	p->raw_matched_sum += (double)e->rtt_ns;
	p->path_sum += (double)lat_ping_path_corrected(p, seq);
}

json_t *lat_ping_summary(const struct lat_ping *p, uint64_t transmitted)
{
	double r = p->replies ? (double)p->replies : 1, m = p->matched ? (double)p->matched : 1;

	return json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f}",
			 "transmitted", (json_int_t)transmitted, "replies", (json_int_t)p->replies,
			 "matched", (json_int_t)p->matched,
			 "matched_ratio", p->replies ? (double)p->matched / (double)p->replies : 0.0,
			 "raw_avg_us", p->raw_sum / r / 1e3,
			 "raw_min_us", (double)p->raw_min / 1e3, "raw_max_us", (double)p->raw_max / 1e3,
			 "raw_matched_avg_us", p->raw_matched_sum / m / 1e3,
			 "corrected_avg_us", p->corr_sum / m / 1e3,
			 "corrected_min_us", (double)p->corr_min / 1e3,
			 "corrected_max_us", (double)p->corr_max / 1e3,
			 "egress_avg_us", p->egress_sum / m / 1e3, "ingress_avg_us", p->ingress_sum / m / 1e3,
			 "corrected_nonpositive", (json_int_t)p->corr_nonpositive,
			 "path_corrected_avg_us", p->path_sum / m / 1e3);
}
