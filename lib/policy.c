/* petrel's policy language: strict parsing of policy objects with errors that name the
 * file, the policy and the field, the canonical encoding they are stored in, and label
 * selectors. Pure code; compilation is in policy_compile.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <jansson.h>
#include "policy.h"
#include "config.h"
#include "policy_error.h"

int policy_fail(struct policy_error *e, const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->policy)
		snprintf(e->buf, e->len, "%s: policy '%s': %s: %s", e->file, e->policy, field, msg);
	else
		snprintf(e->buf, e->len, "%s: %s: %s", e->file, field, msg);
	return -EINVAL;
}

int policy_check_keys(json_t *obj, const char *const *known, struct policy_error *e, const char *where)
{
	const char *k;
	json_t *v;
	char field[192];

	json_object_foreach(obj, k, v) {
		int i = 0;

		while (known[i] && strcmp(k, known[i]))
			i++;
		if (!known[i]) {
			snprintf(field, sizeof(field), "%s%s%s", where, *where ? "." : "", k);
			return policy_fail(e, field, "unknown field");
		}
	}
	return 0;
}

static int parse_string_list(json_t *arr, const char *field, struct policy_error *e,
			     char (*out)[EP_LABEL_MAX], int *n)
{
	json_t *v;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) > SELECTOR_MAX)
		return policy_fail(e, field, "must be an array of at most %d label values", SELECTOR_MAX);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || !ep_label_valid("k", json_string_value(v)))
			return policy_fail(e, field, "[%zu] is not a valid label value", i);
		snprintf(out[(*n)++], EP_LABEL_MAX, "%s", json_string_value(v));
	}
	return 0;
}

static int parse_expression(json_t *j, struct selector_expr *x, struct policy_error *e, const char *where)
{
	static const char *const known[] = { "key", "operator", "values", NULL };
	static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist" };
	const char *key = json_string_value(json_object_get(j, "key"));
	const char *op = json_string_value(json_object_get(j, "operator"));
	json_t *values = json_object_get(j, "values");
	char field[224];

	if (!json_is_object(j))
		return policy_fail(e, where, "must be an object {key, operator, values}");
	if (policy_check_keys(j, known, e, where))
		return -EINVAL;
	snprintf(field, sizeof(field), "%s.key", where);
	if (!key || !ep_label_valid(key, ""))
		return policy_fail(e, field, "required; a label key (A-Z a-z 0-9 . _ / -)");
	snprintf(x->key, sizeof(x->key), "%s", key);
	snprintf(field, sizeof(field), "%s.operator", where);
	x->op = SEL_IN;
	while (op && x->op <= SEL_DOES_NOT_EXIST && strcmp(op, ops[x->op]))
		x->op++;
	if (!op || x->op > SEL_DOES_NOT_EXIST)
		return policy_fail(e, field, "must be In, NotIn, Exists or DoesNotExist");
	snprintf(field, sizeof(field), "%s.values", where);
	if (x->op == SEL_IN || x->op == SEL_NOT_IN) {
		if (!values || !json_array_size(values))
			return policy_fail(e, field, "%s needs a non-empty list of values", op);
		return parse_string_list(values, field, e, x->values, &x->n_values);
	}
	if (values && json_array_size(values))
		return policy_fail(e, field, "%s takes no values", op);
	return 0;
}

static int parse_selector(json_t *j, struct label_selector *s, struct policy_error *e, const char *where)
{
	static const char *const known[] = { "matchLabels", "matchExpressions", NULL };
	char field[192];
	json_t *ml, *mx, *v;
	const char *k;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(j))
		return policy_fail(e, where, "must be an object like {\"matchLabels\": {\"app\": \"web\"}}");
	if (policy_check_keys(j, known, e, where))
		return -EINVAL;
	ml = json_object_get(j, "matchLabels");
	snprintf(field, sizeof(field), "%s.matchLabels", where);
	if (ml && !json_is_object(ml))
		return policy_fail(e, field, "must be an object of label strings");
	json_object_foreach(ml, k, v) {
		snprintf(field, sizeof(field), "%s.matchLabels.%s", where, k);
		if (!json_is_string(v) || !ep_label_valid(k, json_string_value(v)))
			return policy_fail(e, field, "invalid label (keys and values use A-Z a-z 0-9 . _ / -)");
		if (s->n >= SELECTOR_MAX)
			return policy_fail(e, field, "more than %d labels", SELECTOR_MAX);
		snprintf(s->labels[s->n].key, EP_LABEL_MAX, "%s", k);
		snprintf(s->labels[s->n].value, EP_LABEL_MAX, "%s", json_string_value(v));
		s->n++;
	}
	mx = json_object_get(j, "matchExpressions");
	if (!mx)
		return 0;
	snprintf(field, sizeof(field), "%s.matchExpressions", where);
	if (!json_is_array(mx) || json_array_size(mx) > SELECTOR_MAX)
		return policy_fail(e, field, "must be an array of at most %d {key, operator, values}", SELECTOR_MAX);
	if (json_array_size(mx) && !(s->exprs = calloc(json_array_size(mx), sizeof(*s->exprs))))
		return -ENOMEM;
	json_array_foreach(mx, i, v) {
		snprintf(field, sizeof(field), "%s.matchExpressions[%zu]", where, i);
		if (parse_expression(v, &s->exprs[s->n_exprs++], e, field))
			return -EINVAL;
	}
	return 0;
}

static void selector_free(struct label_selector *s)
{
	free(s->exprs);
	s->exprs = NULL;
	s->n_exprs = 0;
}

static int parse_port(json_t *v, const char *field, struct policy_error *e, bool zero_ok, uint16_t *out)
{
	json_int_t n;

	if (json_is_string(v)) {
		char *end;
		n = strtoll(json_string_value(v), &end, 10);
		if (*end || !*json_string_value(v))
			return policy_fail(e, field, "named port '%s' cannot be resolved: petrel knows no "
				    "container port names; give the number", json_string_value(v));
	} else if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else {
		return policy_fail(e, field, "must be a port number");
	}
	if ((n < 1 && !(zero_ok && n == 0)) || n > 65535)
		return policy_fail(e, field, "%lld is outside 1-65535", (long long)n);
	*out = (uint16_t)n;
	return 0;
}

/* {port, endPort, protocol}; port 0 (Cilium's "every port") only without endPort. */
static int parse_port_range(json_t *p, struct port_range *pr, struct policy_error *e, const char *where)
{
	static const char *const known[] = { "port", "endPort", "protocol", NULL };
	char field[224];
	json_t *proto, *end;
	const char *s;

	if (!json_is_object(p))
		return policy_fail(e, where, "must be an object {port, endPort, protocol}");
	if (policy_check_keys(p, known, e, where))
		return -EINVAL;
	snprintf(field, sizeof(field), "%s.port", where);
	if (!json_object_get(p, "port"))
		return policy_fail(e, field, "required");
	end = json_object_get(p, "endPort");
	if (parse_port(json_object_get(p, "port"), field, e, !end, &pr->port))
		return -EINVAL;
	pr->end_port = pr->port ? pr->port : 65535;
	if (end) {
		snprintf(field, sizeof(field), "%s.endPort", where);
		if (parse_port(end, field, e, false, &pr->end_port))
			return -EINVAL;
		if (pr->end_port < pr->port)
			return policy_fail(e, field, "%u is below port %u", pr->end_port, pr->port);
	}
	proto = json_object_get(p, "protocol");
	s = json_string_value(proto);
	snprintf(field, sizeof(field), "%s.protocol", where);
	pr->proto = IPPROTO_TCP;
	if (!proto)
		return 0;
	if (s && !strcasecmp(s, "TCP"))
		pr->proto = IPPROTO_TCP;
	else if (s && !strcasecmp(s, "UDP"))
		pr->proto = IPPROTO_UDP;
	else if (s && !strcasecmp(s, "ANY"))
		pr->proto = 0;
	else if (s && (!strcasecmp(s, "SCTP") || !strcasecmp(s, "ICMP") || !strcasecmp(s, "ICMPv6")))
		return policy_fail(e, field, "%s is not filtered by petrel (TCP, UDP or ANY)", s);
	else
		return policy_fail(e, field, "must be \"TCP\", \"UDP\" or \"ANY\"");
	return 0;
}

/* Fields of a Cilium port rule that need an L7 proxy or TLS inspection petrel lacks. */
static const char *const l7_fields[] = { "rules", "serverNames", "listener", "originatingTLS",
					 "terminatingTLS", NULL };

/* toPorts: petrel's flat [{port, endPort, protocol}] or Cilium's [{ports: [...]}]. */
static int parse_ports(json_t *arr, struct policy_rule *r, struct policy_error *e, const char *where)
{
	char field[224];
	size_t i, total = 0;
	json_t *p;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return policy_fail(e, where, "must be a non-empty array of {port, endPort, protocol} or {ports: [...]}");
	json_array_foreach(arr, i, p)
		total += json_is_array(json_object_get(p, "ports")) ?
			 json_array_size(json_object_get(p, "ports")) : 1;
	if (total > POLICY_MAX_ITEMS)
		return policy_fail(e, where, "more than %d ports", POLICY_MAX_ITEMS);
	r->ports = calloc(total + 1, sizeof(*r->ports));
	if (!r->ports)
		return -ENOMEM;
	json_array_foreach(arr, i, p) {
		static const char *const known[] = { "ports", NULL };
		json_t *ports = json_object_get(p, "ports"), *q;
		size_t k;

		snprintf(field, sizeof(field), "%s[%zu]", where, i);
		if (!ports) {
			if (parse_port_range(p, &r->ports[r->n_ports++], e, field))
				return -EINVAL;
			continue;
		}
		for (int l = 0; l7_fields[l]; l++)
			if (json_object_get(p, l7_fields[l])) {
				snprintf(field, sizeof(field), "%s[%zu].%s", where, i, l7_fields[l]);
				return policy_fail(e, field, "L7 rules are not enforced: petrel filters at L3/L4 "
					    "(remove the field to allow the ports whole)");
			}
		if (policy_check_keys(p, known, e, field))
			return -EINVAL;
		snprintf(field, sizeof(field), "%s[%zu].ports", where, i);
		if (!json_is_array(ports) || !json_array_size(ports))
			return policy_fail(e, field, "must be a non-empty array of {port, endPort, protocol}");
		json_array_foreach(ports, k, q) {
			snprintf(field, sizeof(field), "%s[%zu].ports[%zu]", where, i, k);
			if (parse_port_range(q, &r->ports[r->n_ports++], e, field))
				return -EINVAL;
		}
	}
	return 0;
}

static int parse_cidr(json_t *v, const char *field, struct policy_error *e, struct cidr *c)
{
	struct cidr n;

	if (!json_is_string(v) || cidr_parse(json_string_value(v), c))
		return policy_fail(e, field, "'%s' is not a valid CIDR",
			    json_is_string(v) ? json_string_value(v) : "(not a string)");
	n = *c;
	cidr_normalize(&n);
	if (!ip_equal(&n.addr, &c->addr))
		return policy_fail(e, field, "'%s' has host bits set", json_string_value(v));
	return 0;
}

/* fromCIDR ["10.0.0.0/8"] or fromCIDRSet [{cidr, except: [...]}], appended to r->cidrs. */
static int parse_cidrs(json_t *arr, bool set, struct policy_rule *r, struct policy_error *e,
		       const char *where)
{
	static const char *const known[] = { "cidr", "except", NULL };
	char field[224];
	json_t *v;
	size_t i;

	if (!json_is_array(arr) || r->n_cidrs + json_array_size(arr) > POLICY_MAX_ITEMS)
		return policy_fail(e, where, "must be an array; at most %d CIDRs in a rule", POLICY_MAX_ITEMS);
	json_array_foreach(arr, i, v) {
		struct cidr_peer *c = &r->cidrs[r->n_cidrs];
		json_t *except, *x;
		size_t k;

		snprintf(field, sizeof(field), "%s[%zu]", where, i);
		if (!set) {
			if (parse_cidr(v, field, e, &c->cidr))
				return -EINVAL;
			r->n_cidrs++;
			continue;
		}
		if (!json_is_object(v))
			return policy_fail(e, field, "must be an object {cidr, except}");
		if (policy_check_keys(v, known, e, field))
			return -EINVAL;
		snprintf(field, sizeof(field), "%s[%zu].cidr", where, i);
		if (parse_cidr(json_object_get(v, "cidr"), field, e, &c->cidr))
			return -EINVAL;
		r->n_cidrs++;
		except = json_object_get(v, "except");
		if (!except)
			continue;
		snprintf(field, sizeof(field), "%s[%zu].except", where, i);
		if (!json_is_array(except) || json_array_size(except) > POLICY_MAX_ITEMS)
			return policy_fail(e, field, "must be an array of at most %d CIDRs", POLICY_MAX_ITEMS);
		if (!(c->except = calloc(json_array_size(except) + 1, sizeof(*c->except))))
			return -ENOMEM;
		json_array_foreach(except, k, x) {
			snprintf(field, sizeof(field), "%s[%zu].except[%zu]", where, i, k);
			if (parse_cidr(x, field, e, &c->except[c->n_except]))
				return -EINVAL;
			if (c->except[c->n_except].addr.family != c->cidr.addr.family ||
			    c->except[c->n_except].prefixlen <= c->cidr.prefixlen ||
			    !cidr_contains(&c->cidr, &c->except[c->n_except].addr))
				return policy_fail(e, field, "must be a smaller prefix inside the cidr");
			c->n_except++;
		}
	}
	return 0;
}

static const char *const entity_names[] = { "host", "world", "cluster", "all", NULL };

static int parse_entities(json_t *arr, struct policy_rule *r, struct policy_error *e, const char *where)
{
	char field[224];
	json_t *v;
	size_t i;

	if (!json_is_array(arr))
		return policy_fail(e, where, "must be an array of entity names");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		int k = 0;

		while (s && entity_names[k] && strcmp(s, entity_names[k]))
			k++;
		snprintf(field, sizeof(field), "%s[%zu]", where, i);
		if (!s || !entity_names[k])
			return policy_fail(e, field, "'%s' is not an entity petrel has (host, world, cluster, all)",
				    s ? s : "(not a string)");
		r->entities |= 1u << k;
	}
	return 0;
}

/* Rule fields of Cilium's that petrel cannot enforce, and why: refused, never ignored. */
static const struct { const char *field, *why; } unenforceable[] = {
	{ "toFQDNs", "DNS names need a DNS proxy; petrel filters by address (use toCIDR)" },
	{ "fromRequires", "requirements are deprecated in Cilium and not supported" },
	{ "toRequires", "requirements are deprecated in Cilium and not supported" },
	{ "toServices", "petrel has no service objects (use toEndpoints)" },
	{ "toGroups", "cloud provider groups are not available to petrel" },
	{ "fromGroups", "cloud provider groups are not available to petrel" },
	{ "icmps", "petrel's policy filters TCP and UDP; ICMP is not selectable" },
	{ "fromNodes", "node selectors need node labels petrel does not keep (use fromEntities host)" },
	{ "toNodes", "node selectors need node labels petrel does not keep (use toEntities host)" },
	{ "authentication", "mutual authentication of workloads is not part of petrel's policy" },
	{ "fromCIDRGroupRef", "CIDR groups are cluster objects petrel does not have" },
	{ "toCIDRGroupRef", "CIDR groups are cluster objects petrel does not have" },
};

static int parse_rule(json_t *j, struct policy_rule *r, enum policy_dir dir, bool deny,
		      struct policy_error *e, const char *where)
{
	static const char *const in_keys[] = { "fromEndpoints", "fromCIDR", "fromCIDRSet",
					       "fromEntities", "toPorts", NULL };
	static const char *const out_keys[] = { "toEndpoints", "toCIDR", "toCIDRSet", "toEntities",
						"toPorts", NULL };
	const char *const *keys = dir == DIR_INGRESS ? in_keys : out_keys;
	char field[192];
	json_t *sels, *v;
	size_t i, n_cidr = 0;

	memset(r, 0, sizeof(*r));
	r->dir = dir;
	r->deny = deny;
	if (!json_is_object(j))
		return policy_fail(e, where, "must be an object");
	for (i = 0; i < sizeof(unenforceable) / sizeof(unenforceable[0]); i++)
		if (json_object_get(j, unenforceable[i].field)) {
			snprintf(field, sizeof(field), "%s.%s", where, unenforceable[i].field);
			return policy_fail(e, field, "not enforceable: %s", unenforceable[i].why);
		}
	if (policy_check_keys(j, keys, e, where))
		return -EINVAL;
	sels = json_object_get(j, keys[0]);
	if (sels) {
		snprintf(field, sizeof(field), "%s.%s", where, keys[0]);
		if (!json_is_array(sels) || json_array_size(sels) > POLICY_MAX_ITEMS)
			return policy_fail(e, field, "must be an array of at most %d selectors", POLICY_MAX_ITEMS);
		r->selectors = calloc(json_array_size(sels) + 1, sizeof(*r->selectors));
		if (!r->selectors)
			return -ENOMEM;
		json_array_foreach(sels, i, v) {
			snprintf(field, sizeof(field), "%s.%s[%zu]", where, keys[0], i);
			r->n_selectors++;
			if (parse_selector(v, &r->selectors[i], e, field))
				return -EINVAL;
		}
	}
	for (int k = 1; k <= 2; k++)
		n_cidr += json_array_size(json_object_get(j, keys[k]));
	if (!(r->cidrs = calloc(n_cidr + 1, sizeof(*r->cidrs))))
		return -ENOMEM;
	for (int k = 1; k <= 2; k++) {
		if (!(v = json_object_get(j, keys[k])))
			continue;
		snprintf(field, sizeof(field), "%s.%s", where, keys[k]);
		if (parse_cidrs(v, k == 2, r, e, field))
			return -EINVAL;
	}
	if ((v = json_object_get(j, keys[3]))) {
		snprintf(field, sizeof(field), "%s.%s", where, keys[3]);
		if (parse_entities(v, r, e, field))
			return -EINVAL;
	}
	if ((v = json_object_get(j, "toPorts"))) {
		snprintf(field, sizeof(field), "%s.toPorts", where);
		if (parse_ports(v, r, e, field))
			return -EINVAL;
	}
	/* Peer lists all given but all empty select nobody, which is surely a mistake. */
	if (sels && !r->n_selectors && !r->n_cidrs && !r->entities &&
	    (json_object_get(j, keys[1]) || json_object_get(j, keys[2])))
		return policy_fail(e, where, "empty %s and CIDR lists select no peer", keys[0]);
	return 0;
}

void policy_free_contents(struct policy *p)
{
	for (int i = 0; i < p->n_rules; i++) {
		struct policy_rule *r = &p->rules[i];

		for (int k = 0; k < r->n_selectors; k++)
			selector_free(&r->selectors[k]);
		for (int k = 0; k < r->n_cidrs; k++)
			free(r->cidrs[k].except);
		free(r->selectors);
		free(r->cidrs);
		free(r->ports);
	}
	free(p->rules);
	p->rules = NULL;
	p->n_rules = 0;
	selector_free(&p->subject);
}

void policy_free(struct policy *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		policy_free_contents(&p[i]);
	free(p);
}

static int parse_one(json_t *j, struct policy *p, struct policy_error *e, size_t index)
{
	static const char *const known[] = { "name", "description", "endpointSelector", "ingress",
					     "egress", "ingressDeny", "egressDeny", NULL };
	static const struct { const char *key; enum policy_dir dir; bool deny; } sections[] = {
		{ "ingress", DIR_INGRESS, false }, { "egress", DIR_EGRESS, false },
		{ "ingressDeny", DIR_INGRESS, true }, { "egressDeny", DIR_EGRESS, true },
	};
	char field[64];
	json_t *name, *sel;
	size_t total = 0;
	bool any = false;

	memset(p, 0, sizeof(*p));
	snprintf(field, sizeof(field), "policies[%zu]", index);
	if (!json_is_object(j))
		return policy_fail(e, field, "a policy must be a JSON object");
	name = json_object_get(j, "name");
	if (!json_is_string(name) || !name_valid(json_string_value(name)))
		return policy_fail(e, "name", "required; a-z, 0-9 and '-', at most 63 characters");
	snprintf(p->name, sizeof(p->name), "%s", json_string_value(name));
	e->policy = p->name;
	if (policy_check_keys(j, known, e, ""))
		return -EINVAL;
	sel = json_object_get(j, "endpointSelector");
	if (!sel)
		return policy_fail(e, "endpointSelector", "required (use {} to select every endpoint)");
	if (parse_selector(sel, &p->subject, e, "endpointSelector"))
		return -EINVAL;
	for (size_t s = 0; s < 4; s++) {
		json_t *arr = json_object_get(j, sections[s].key);
		if (!arr)
			continue;
		if (!json_is_array(arr))
			return policy_fail(e, sections[s].key, "must be an array of rules");
		total += json_array_size(arr);
		p->enforce[sections[s].dir] = any = true;
	}
	if (!any)
		return policy_fail(e, "ingress", "the policy has no ingress, egress, ingressDeny or egressDeny section");
	p->rules = calloc(total + 1, sizeof(*p->rules));
	if (!p->rules)
		return -ENOMEM;
	for (size_t s = 0; s < 4; s++) {
		json_t *arr = json_object_get(j, sections[s].key), *r;
		size_t i;

		json_array_foreach(arr, i, r) {
			char where[64];

			snprintf(where, sizeof(where), "%s[%zu]", sections[s].key, i);
			/* Count the rule before parsing so a failure frees what it allocated. */
			p->n_rules++;
			if (parse_rule(r, &p->rules[p->n_rules - 1], sections[s].dir, sections[s].deny, e, where))
				return -EINVAL;
		}
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const struct policy *const *)a)->name, (*(const struct policy *const *)b)->name);
}

/* Names are unique in a file: sorted, so ten thousand policies cost no quadratic scan. */
static int check_unique(struct policy *ps, size_t n, struct policy_error *e)
{
	struct policy **v = malloc((n + 1) * sizeof(*v));
	int ret = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = &ps[i];
	qsort(v, n, sizeof(*v), cmp_name);
	for (size_t i = 1; i < n && !ret; i++)
		if (!strcmp(v[i - 1]->name, v[i]->name)) {
			e->policy = v[i]->name;
			ret = policy_fail(e, "name", "defined twice in the file");
		}
	free(v);
	return ret;
}

int policy_parse(const char *text, const char *filename, struct policy **out, size_t *n,
		 char *err, size_t errlen)
{
	struct policy_error e = { err, errlen, filename ? filename : "policy", NULL };
	struct policy *ps;
	json_t *list;
	size_t i, count;
	int ret;

	ret = policy_documents(text, e.file, &list, err, errlen);
	if (ret)
		return ret;
	count = json_array_size(list);
	if (count == 0) {
		json_decref(list);
		snprintf(err, errlen, "%s: no policy in the file", e.file);
		return -EINVAL;
	}
	ps = calloc(count, sizeof(*ps));
	if (!ps) {
		json_decref(list);
		return -ENOMEM;
	}
	for (i = 0; i < count && !ret; i++) {
		e.policy = NULL;
		ret = parse_one(json_array_get(list, i), &ps[i], &e, i);
	}
	json_decref(list);
	if (!ret)
		ret = check_unique(ps, count, &e);
	if (ret) {
		policy_free(ps, i);
		return ret;
	}
	*out = ps;
	*n = count;
	return 0;
}

static const char *const op_names[] = { "In", "NotIn", "Exists", "DoesNotExist" };

static json_t *selector_json(const struct label_selector *s)
{
	json_t *ml = json_object(), *j = json_pack("{s:o}", "matchLabels", ml), *mx;

	for (int i = 0; i < s->n; i++)
		json_object_set_new(ml, s->labels[i].key, json_string(s->labels[i].value));
	if (!s->n_exprs)
		return j;
	mx = json_array();
	for (int i = 0; i < s->n_exprs; i++) {
		const struct selector_expr *x = &s->exprs[i];
		json_t *o = json_pack("{s:s, s:s}", "key", x->key, "operator", op_names[x->op]);
		json_t *values = json_array();

		for (int v = 0; v < x->n_values; v++)
			json_array_append_new(values, json_string(x->values[v]));
		if (x->n_values)
			json_object_set(o, "values", values);
		json_decref(values);
		json_array_append_new(mx, o);
	}
	json_object_set_new(j, "matchExpressions", mx);
	return j;
}

static json_t *rule_json(const struct policy_rule *r)
{
	const char *from = r->dir == DIR_INGRESS ? "from" : "to";
	json_t *rule = json_object(), *cidrs = json_array(), *sets = json_array();
	char key[32], buf[CIDR_STRLEN];

	if (r->n_selectors) {
		json_t *sels = json_array();
		for (int k = 0; k < r->n_selectors; k++)
			json_array_append_new(sels, selector_json(&r->selectors[k]));
		snprintf(key, sizeof(key), "%sEndpoints", from);
		json_object_set_new(rule, key, sels);
	}
	for (int k = 0; k < r->n_cidrs; k++) {
		const struct cidr_peer *c = &r->cidrs[k];
		json_t *except = json_array();

		if (!c->n_except) {
			json_array_append_new(cidrs, json_string(cidr_str(&c->cidr, buf)));
			json_decref(except);
			continue;
		}
		for (int x = 0; x < c->n_except; x++)
			json_array_append_new(except, json_string(cidr_str(&c->except[x], buf)));
		json_array_append_new(sets, json_pack("{s:s, s:o}", "cidr", cidr_str(&c->cidr, buf),
						      "except", except));
	}
	snprintf(key, sizeof(key), "%sCIDR", from);
	json_object_set_new(rule, key, cidrs);
	if (!json_array_size(cidrs))
		json_object_del(rule, key);
	snprintf(key, sizeof(key), "%sCIDRSet", from);
	json_object_set_new(rule, key, sets);
	if (!json_array_size(sets))
		json_object_del(rule, key);
	if (r->entities) {
		json_t *ents = json_array();
		for (int k = 0; entity_names[k]; k++)
			if (r->entities & (1u << k))
				json_array_append_new(ents, json_string(entity_names[k]));
		snprintf(key, sizeof(key), "%sEntities", from);
		json_object_set_new(rule, key, ents);
	}
	if (r->n_ports) {
		json_t *ps = json_array();
		for (int k = 0; k < r->n_ports; k++) {
			const struct port_range *pr = &r->ports[k];
			const char *proto = pr->proto == IPPROTO_UDP ? "UDP" :
					    pr->proto == IPPROTO_TCP ? "TCP" : "ANY";

			json_array_append_new(ps, pr->port ?
				json_pack("{s:i, s:i, s:s}", "port", pr->port, "endPort", pr->end_port,
					  "protocol", proto) :
				json_pack("{s:i, s:s}", "port", 0, "protocol", proto));
		}
		json_object_set_new(rule, "toPorts", ps);
	}
	return rule;
}

char *policy_encode(const struct policy *p)
{
	static const char *names[2][2] = { { "ingress", "ingressDeny" }, { "egress", "egressDeny" } };
	json_t *j = json_pack("{s:s, s:o}", "name", p->name, "endpointSelector", selector_json(&p->subject));
	char *text;
	bool has_section[2] = { false, false };

	for (int i = 0; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];
		const char *section = names[r->dir][r->deny];
		json_t *arr = json_object_get(j, section);

		if (!arr) {
			arr = json_array();
			json_object_set_new(j, section, arr);
		}
		has_section[r->dir] = true;
		json_array_append_new(arr, rule_json(r));
	}
	/* An enforced direction with no rule stays as an empty section: it still denies. */
	for (int d = 0; d < 2; d++)
		if (p->enforce[d] && !has_section[d])
			json_object_set_new(j, names[d][0], json_array());
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return text;
}

const char *label_value(const struct ep_label *labels, int n, const char *key)
{
	for (int k = 0; k < n; k++)
		if (!strcmp(key, labels[k].key))
			return labels[k].value;
	return strcmp(key, POLICY_NAMESPACE_LABEL) ? NULL : POLICY_NAMESPACE_DEFAULT;
}

static bool expr_matches(const struct selector_expr *x, const char *value)
{
	bool in = false;

	switch (x->op) {
	case SEL_EXISTS:
		return value != NULL;
	case SEL_DOES_NOT_EXIST:
		return value == NULL;
	case SEL_IN:
	case SEL_NOT_IN:
		for (int v = 0; value && v < x->n_values && !in; v++)
			in = !strcmp(value, x->values[v]);
		return x->op == SEL_IN ? in : !in;
	}
	return false;
}

bool selector_matches(const struct label_selector *s, const struct ep_label *labels, int n)
{
	for (int i = 0; i < s->n; i++) {
		const char *v = label_value(labels, n, s->labels[i].key);

		if (!v || strcmp(v, s->labels[i].value))
			return false;
	}
	for (int i = 0; i < s->n_exprs; i++)
		if (!expr_matches(&s->exprs[i], label_value(labels, n, s->exprs[i].key)))
			return false;
	return true;
}
