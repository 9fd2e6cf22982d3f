/* IOAM's configuration: namespaces, encapsulation rules and device roles, as records in
 * cluster state (/petrel/ioam/...), and the API routes that write them. The agent's IOAM
 * subscriber (ioam.c) compiles them into the programs' maps when they change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "ioam_config.h"
#include "cluster_cache.h"
#include "log.h"
#include "netlink.h"
#include "util.h"

/* --- configuration records ------------------------------------------------------------ */

static int rule_decode(const char *text, void *rec)
{
	struct encap_rule *r = rec;
	json_t *j = json_loads(text, 0, NULL);
	const char *to;
	json_int_t ns, type, size, k, n;
	int ret = -EINVAL;

	if (!j)
		return -EINVAL;
	if (json_unpack(j, "{s:I, s:I, s:I, s:I, s:I, s:s}", "namespace", &ns, "trace_type", &type,
			"size", &size, "freq_k", &k, "freq_n", &n, "to", &to) == 0 &&
	    cidr_parse(to, &r->to) == 0 && r->to.addr.family == AF_INET6) {
		r->spec.ns = (uint16_t)ns;
		r->spec.type = (uint32_t)type;
		r->spec.size = (uint32_t)size;
		r->k = (uint32_t)k;
		r->n = (uint32_t)n;
		ret = 0;
	}
	json_decref(j);
	return ret;
}

void ioam_rule_key(char *key, size_t len, uint16_t ns, const struct cidr *to)
{
	char c[CIDR_STRLEN];

	cidr_str(to, c);
	*strchr(c, '/') = '_';
	snprintf(key, len, KEY_IOAM_ENCAP "ns%u-%s", ns, c);
}

json_t *ioam_rule_json(const struct encap_rule *r)
{
	char type[16], to[CIDR_STRLEN], freq[32];

	snprintf(type, sizeof(type), "0x%06x", r->spec.type);
	snprintf(freq, sizeof(freq), "%u/%u", r->k, r->n);
	return json_pack("{s:i, s:s, s:i, s:s, s:s, s:i}", "namespace", r->spec.ns, "trace_type", type,
			 "size", (int)r->spec.size, "freq", freq, "to", cidr_str(&r->to, to),
			 "node_len", ioam_nodelen(r->spec.type));
}

static int ns_decode(const char *text, void *rec)
{
	struct ns_rec *r = rec;
	json_t *j = json_loads(text, 0, NULL);
	json_int_t id, data;
	const char *wide;
	int ret = -EINVAL;

	if (j && json_unpack(j, "{s:I, s:I, s:s}", "id", &id, "data", &data, "wide", &wide) == 0) {
		r->id = (uint16_t)id;
		r->v.data = (uint32_t)data;
		r->v.data_wide = strtoull(wide, NULL, 16);
		ret = 0;
	}
	json_decref(j);
	return ret;
}

json_t *ioam_ns_json(const struct ns_rec *r)
{
	char d[16], w[24];

	snprintf(d, sizeof(d), "0x%08x", r->v.data);
	snprintf(w, sizeof(w), "0x%016llx", (unsigned long long)r->v.data_wide);
	return json_pack("{s:i, s:s, s:s}", "id", r->id, "data", d, "wide", w);
}

/* Every record under prefix that decodes, as an array of elements of size each. */
static int load_records(struct agent *a, const char *prefix, size_t size,
			int (*decode)(const char *text, void *rec), void **out, size_t *n)
{
	struct store_kv *kvs = NULL;
	size_t nk = 0;
	int ret = cluster_list(a, CC_IOAM, prefix, &kvs, &nk);
	char *all;

	*n = 0;
	*out = NULL;
	if (ret)
		return ret;
	all = calloc(nk + 1, size);
	for (size_t i = 0; all && i < nk; i++)
		if (decode(kvs[i].value, all + *n * size) == 0)
			(*n)++;
	store_kvs_free(kvs, nk);
	*out = all;
	return all ? 0 : -ENOMEM;
}

int ioam_load_rules(struct agent *a, struct encap_rule **out, size_t *n)
{
	return load_records(a, KEY_IOAM_ENCAP, sizeof(**out), rule_decode,
			    (void **)out, n);
}

int ioam_load_namespaces(struct agent *a, struct ns_rec **out, size_t *n)
{
	return load_records(a, KEY_IOAM_NS, sizeof(**out), ns_decode,
			    (void **)out, n);
}

/* --- API ---------------------------------------------------------------------------------- */

static json_t *state_json(struct agent *a)
{
	struct encap_rule *rules = NULL;
	struct ns_rec *nss = NULL;
	size_t nr = 0, nn = 0;
	json_t *jn = json_array(), *je = json_array(), *j;

	ioam_load_namespaces(a, &nss, &nn);
	ioam_load_rules(a, &rules, &nr);
	for (size_t i = 0; i < nn; i++)
		json_array_append_new(jn, ioam_ns_json(&nss[i]));
	for (size_t i = 0; i < nr; i++)
		json_array_append_new(je, ioam_rule_json(&rules[i]));
	free(rules);
	free(nss);
	j = ioam_datapath_json();
	json_object_set_new(j, "node", json_string(a->cfg.node));
	json_object_set_new(j, "node_id", json_integer((json_int_t)a->cfg.ioam_node_id));
	json_object_set_new(j, "namespaces", jn);
	json_object_set_new(j, "encap", je);
	return j;
}

static int bad(struct api_error *e, const char *hint, const char *msg)
{
	return api_fail(e, 400, hint, "%s", msg);
}

static const char *str_field(json_t *body, const char *name)
{
	json_t *v = json_object_get(body, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int ns_add(struct agent *a, json_t *body, json_t **resp, struct api_error *e)
{
	struct ns_rec r = { .v = { .data = 0xffffffff, .data_wide = UINT64_MAX } };
	char err[256], key[128];
	const char *s;
	uint64_t v;
	json_t *j;
	int ret;

	if (!(s = str_field(body, "id")) || ioam_ns_parse(s, &r.id, err, sizeof(err)))
		return bad(e, "petrel ioam namespace add ID [data HEX] [wide HEX]",
			   s ? err : "a namespace id is required");
	if ((s = str_field(body, "data"))) {
		if (ioam_value_parse(s, 32, &v, err, sizeof(err)))
			return bad(e, "namespace data is 32 bits, e.g. 0xdeadbeef", err);
		r.v.data = (uint32_t)v;
	}
	if ((s = str_field(body, "wide"))) {
		if (ioam_value_parse(s, 64, &v, err, sizeof(err)))
			return bad(e, "wide namespace data is 64 bits", err);
		r.v.data_wide = v;
	}
	j = ioam_ns_json(&r);
	json_object_set_new(j, "data", json_integer(r.v.data));
	{
		char *text = json_dumps(j, JSON_COMPACT);

		snprintf(key, sizeof(key), KEY_IOAM_NS "%u", r.id);
		ret = store_put(a->operator_store, key, text, 0);
		free(text);
	}
	json_decref(j);
	if (ret)
		return api_operator_write_fail(e, ret, "cannot store namespace %u", r.id);
	cluster_catch_up(a);
	*resp = ioam_ns_json(&r);
	return 201;
}

static int ns_del(struct agent *a, const char *id_s, json_t **resp, struct api_error *e)
{
	struct encap_rule *rules = NULL;
	size_t nr = 0;
	char err[256], key[128], *v = NULL;
	uint16_t id;
	int ret;

	if (ioam_ns_parse(id_s, &id, err, sizeof(err)))
		return bad(e, NULL, err);
	snprintf(key, sizeof(key), KEY_IOAM_NS "%u", id);
	if (store_get(a->store, key, &v, NULL))
		return api_fail(e, 404, "see `petrel ioam show`", "namespace %u is not configured", id);
	free(v);
	ioam_load_rules(a, &rules, &nr);
	for (size_t i = 0; i < nr; i++)
		if (rules[i].spec.ns == id) {
			free(rules);
			return api_fail(e, 409, "delete its encap rules first (`petrel ioam encap del --ns ID`)",
					"namespace %u is used by an encap rule", id);
		}
	free(rules);
	if ((ret = store_delete(a->operator_store, key)))
		return api_operator_write_fail(e, ret, "cannot delete namespace %u", id);
	cluster_catch_up(a);
	*resp = json_pack("{s:i}", "deleted", id);
	return 200;
}

static int parse_rule(struct agent *a, json_t *body, struct encap_rule *r, struct api_error *e)
{
	char err[256], key[128], *v = NULL;
	const char *s;

	if (!(s = str_field(body, "namespace")) || ioam_ns_parse(s, &r->spec.ns, err, sizeof(err)))
		return bad(e, "--ns ID names a namespace added with `petrel ioam namespace add`",
			   s ? err : "--ns is required");
	snprintf(key, sizeof(key), KEY_IOAM_NS "%u", r->spec.ns);
	if (store_get(a->store, key, &v, NULL)) {
		api_fail(e, 400, "add it first: petrel ioam namespace add ID",
			 "namespace %u is not configured", r->spec.ns);
		return -1;
	}
	free(v);
	if (!(s = str_field(body, "to"))) {
		r->to = a->cfg.pools.cluster6;
	} else if (cidr_parse(s, &r->to) || r->to.addr.family != AF_INET6) {
		snprintf(err, sizeof(err), "--to '%s' is not an IPv6 CIDR", s);
		return bad(e, "IOAM applies to IPv6 pod traffic, e.g. --to fd00:244::/48", err);
	}
	return 0;
}

static int encap_add(struct agent *a, json_t *body, json_t **resp, struct api_error *e)
{
	struct encap_rule r = { .k = 1, .n = 1 }, *rules = NULL;
	char err[256], key[256];
	const char *s;
	json_t *size = json_object_get(body, "size");
	size_t nr = 0, same = 0;
	int ret;

	if (parse_rule(a, body, &r, e))
		return -1;
	if (!(s = str_field(body, "trace_type")) || ioam_type_parse(s, &r.spec.type, err, sizeof(err)))
		return bad(e, "--trace-type HEX, e.g. 0xf00000 for node id, interfaces and timestamps",
			   s ? err : "--trace-type is required");
	if (!json_is_integer(size))
		return bad(e, "--size BYTES, a multiple of 4 up to 244", "--size is required");
	if (ioam_size_check(r.spec.type, (long)json_integer_value(size), err, sizeof(err)))
		return bad(e, "--size is the pre-allocated room for all nodes, a multiple of 4 up to 244", err);
	r.spec.size = (uint32_t)json_integer_value(size);
	if ((s = str_field(body, "freq")) && ioam_freq_parse(s, &r.k, &r.n, err, sizeof(err)))
		return bad(e, "--freq K/N inserts into K of every N packets", err);
	/* Rules to one prefix share a header, so they share a sampling frequency, and the
	 * options must fit in one packet. */
	ioam_load_rules(a, &rules, &nr);
	{
		struct ioam_opt_spec specs[IOAM_MAX_OPTS + 1];
		static struct ioam_encap enc;

		for (size_t i = 0; i < nr; i++) {
			if (rules[i].to.prefixlen != r.to.prefixlen ||
			    memcmp(rules[i].to.addr.bytes, r.to.addr.bytes, 16) || rules[i].spec.ns == r.spec.ns)
				continue;
			if (rules[i].k != r.k || rules[i].n != r.n) {
				free(rules);
				return api_fail(e, 409, "give the same --freq as the prefix's other rules",
						"rules to the same prefix share one header and one frequency "
						"(%u/%u already)", rules[i].k, rules[i].n);
			}
			if (same < IOAM_MAX_OPTS)
				specs[same] = rules[i].spec;
			same++;
		}
		free(rules);
		specs[same < IOAM_MAX_OPTS ? same : IOAM_MAX_OPTS] = r.spec;
		if (ioam_template_build(specs, same + 1, &enc, err, sizeof(err)))
			return bad(e, "fewer namespaces or smaller --size for this prefix", err);
	}
	{
		json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:i, s:s}", "namespace", r.spec.ns,
				      "trace_type", (int)r.spec.type, "size", (int)r.spec.size,
				      "freq_k", (int)r.k, "freq_n", (int)r.n, "to", "");
		char to[CIDR_STRLEN], *text;

		json_object_set_new(j, "to", json_string(cidr_str(&r.to, to)));
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		ioam_rule_key(key, sizeof(key), r.spec.ns, &r.to);
		ret = store_put(a->operator_store, key, text, 0);
		free(text);
	}
	if (ret)
		return api_operator_write_fail(e, ret, "cannot store the encap rule");
	cluster_catch_up(a);
	*resp = ioam_rule_json(&r);
	return 201;
}

static int encap_del(struct agent *a, json_t *body, json_t **resp, struct api_error *e)
{
	struct encap_rule r = { 0 };
	char key[256], *v = NULL;
	int ret;

	if (parse_rule(a, body, &r, e))
		return -1;
	ioam_rule_key(key, sizeof(key), r.spec.ns, &r.to);
	if (store_get(a->store, key, &v, NULL))
		return api_fail(e, 404, "see `petrel ioam show`", "no encap rule for namespace %u to that prefix",
				r.spec.ns);
	free(v);
	if ((ret = store_delete(a->operator_store, key)))
		return api_operator_write_fail(e, ret, "cannot delete the encap rule");
	cluster_catch_up(a);
	*resp = json_pack("{s:i}", "deleted", r.spec.ns);
	return 200;
}

static int role_set(struct agent *a, json_t *body, json_t **resp, struct api_error *e)
{
	const char *dev = str_field(body, "dev");
	json_t *in = json_object_get(body, "ingress"), *out = json_object_get(body, "egress");
	char key[256], *text;
	int ret;

	if (!dev || !*dev || strlen(dev) >= 16 || strchr(dev, '/'))
		return bad(e, "petrel ioam role --dev DEV ingress|egress|none", "--dev DEV is required");
	if (!json_is_boolean(in) || !json_is_boolean(out))
		return bad(e, "petrel ioam role --dev DEV ingress|egress|none", "the roles are missing");
	if (nl_link_index(dev) <= 0)
		return api_fail(e, 400, "see `ip link` on the node", "no device %s on node %s", dev, a->cfg.node);
	if (ioam_datapath_refusal(a, e))
		return -1;
	snprintf(key, sizeof(key), KEY_IOAM_ROLES "%s/%s", a->cfg.node, dev);
	text = json_dumps(body, JSON_COMPACT);
	ret = store_put(a->store, key, text, 0);
	free(text);
	if (ret)
		return api_fail(e, 503, NULL, "cannot store the role: %s", strerror(-ret));
	cluster_catch_up(a);
	*resp = json_pack("{s:s, s:O, s:O}", "dev", dev, "ingress", in, "egress", out);
	return 200;
}

int ioam_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	static const char ns_prefix[] = "/v1/ioam/namespaces/";
	bool post = !strcmp(rq->method, "POST");

	if (strncmp(rq->path, "/v1/ioam", 8))
		return 0;
	if (!strcmp(rq->path, "/v1/ioam") && !strcmp(rq->method, "GET")) {
		*resp = state_json(a);
		return 200;
	}
	if (!post && strcmp(rq->method, "DELETE") && !strncmp(rq->path, ns_prefix, strlen(ns_prefix)))
		return api_fail(e, 405, "use DELETE", "method %s not allowed on %s", rq->method, rq->path);
	if (!strncmp(rq->path, ns_prefix, strlen(ns_prefix)))
		return ns_del(a, rq->path + strlen(ns_prefix), resp, e);
	if (!post && strcmp(rq->method, "DELETE"))
		return api_fail(e, 405, "use POST", "method %s not allowed on %s", rq->method, rq->path);
	if (!rq->body)
		return api_fail(e, 400, NULL, "%s", rq->body_error);
	if (!strcmp(rq->path, "/v1/ioam/namespaces") && post)
		return ns_add(a, rq->body, resp, e);
	if (!strcmp(rq->path, "/v1/ioam/encap"))
		return post ? encap_add(a, rq->body, resp, e) : encap_del(a, rq->body, resp, e);
	if (!strcmp(rq->path, "/v1/ioam/roles") && post)
		return role_set(a, rq->body, resp, e);
	return api_fail(e, 404, "see docs/ioam.md", "no such IOAM path: %s %s", rq->method, rq->path);
}

