/* Policy language: strict JSON parsing with errors that name file, policy and field, and
 * the compiler from policies to flat LPM-friendly allow/deny entries. Pure code. */
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

struct perr {
	char *buf;
	size_t len;
	const char *file;
	const char *policy;
};

static int fail(struct perr *e, const char *field, const char *fmt, ...)
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

static int check_keys(json_t *obj, const char *const *known, struct perr *e, const char *where)
{
	const char *k;
	json_t *v;
	char field[160];

	json_object_foreach(obj, k, v) {
		int ok = 0;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok) {
			snprintf(field, sizeof(field), "%s%s%s", where, *where ? "." : "", k);
			return fail(e, field, "unknown field");
		}
	}
	return 0;
}

static int parse_selector(json_t *j, struct label_selector *s, struct perr *e, const char *where)
{
	static const char *const known[] = { "matchLabels", NULL };
	char field[192];
	json_t *ml, *v;
	const char *k;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(j))
		return fail(e, where, "must be an object like {\"matchLabels\": {\"app\": \"web\"}}");
	if (check_keys(j, known, e, where))
		return -EINVAL;
	ml = json_object_get(j, "matchLabels");
	if (!ml)
		return 0;
	snprintf(field, sizeof(field), "%s.matchLabels", where);
	if (!json_is_object(ml))
		return fail(e, field, "must be an object of label strings");
	json_object_foreach(ml, k, v) {
		snprintf(field, sizeof(field), "%s.matchLabels.%s", where, k);
		if (!json_is_string(v) || !ep_label_valid(k, json_string_value(v)))
			return fail(e, field, "invalid label (keys and values use A-Z a-z 0-9 . _ / -)");
		if (s->n >= SELECTOR_MAX)
			return fail(e, field, "more than %d labels", SELECTOR_MAX);
		snprintf(s->labels[s->n].key, EP_LABEL_MAX, "%s", k);
		snprintf(s->labels[s->n].value, EP_LABEL_MAX, "%s", json_string_value(v));
		s->n++;
	}
	return 0;
}

static int parse_port(json_t *v, const char *field, struct perr *e, uint16_t *out)
{
	json_int_t n;

	if (json_is_string(v)) {
		char *end;
		n = strtoll(json_string_value(v), &end, 10);
		if (*end || !*json_string_value(v))
			return fail(e, field, "'%s' is not a port number", json_string_value(v));
	} else if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else {
		return fail(e, field, "must be a port number");
	}
	if (n < 1 || n > 65535)
		return fail(e, field, "%lld is outside 1-65535", (long long)n);
	*out = (uint16_t)n;
	return 0;
}

static int parse_ports(json_t *arr, struct policy_rule *r, struct perr *e, const char *where)
{
	static const char *const known[] = { "port", "endPort", "protocol", NULL };
	char field[192];
	json_t *p;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > POLICY_MAX_ITEMS)
		return fail(e, where, "must be a non-empty array of at most %d {port, endPort, protocol}",
			    POLICY_MAX_ITEMS);
	r->ports = calloc(json_array_size(arr), sizeof(*r->ports));
	if (!r->ports)
		return -ENOMEM;
	json_array_foreach(arr, i, p) {
		struct port_range *pr = &r->ports[i];
		json_t *proto, *end;

		snprintf(field, sizeof(field), "%s[%zu]", where, i);
		if (!json_is_object(p))
			return fail(e, field, "must be an object {port, endPort, protocol}");
		if (check_keys(p, known, e, field))
			return -EINVAL;
		snprintf(field, sizeof(field), "%s[%zu].port", where, i);
		if (!json_object_get(p, "port"))
			return fail(e, field, "required");
		if (parse_port(json_object_get(p, "port"), field, e, &pr->port))
			return -EINVAL;
		pr->end_port = pr->port;
		end = json_object_get(p, "endPort");
		if (end) {
			snprintf(field, sizeof(field), "%s[%zu].endPort", where, i);
			if (parse_port(end, field, e, &pr->end_port))
				return -EINVAL;
			if (pr->end_port < pr->port)
				return fail(e, field, "%u is below port %u", pr->end_port, pr->port);
		}
		proto = json_object_get(p, "protocol");
		snprintf(field, sizeof(field), "%s[%zu].protocol", where, i);
		pr->proto = IPPROTO_TCP;
		if (proto) {
			const char *s = json_string_value(proto);
			if (s && !strcasecmp(s, "TCP"))
				pr->proto = IPPROTO_TCP;
			else if (s && !strcasecmp(s, "UDP"))
				pr->proto = IPPROTO_UDP;
			else if (s && !strcasecmp(s, "ANY"))
				pr->proto = 0;
			else
				return fail(e, field, "must be \"TCP\", \"UDP\" or \"ANY\"");
		}
		r->n_ports++;
	}
	return 0;
}

static int parse_rule(json_t *j, struct policy_rule *r, enum policy_dir dir, bool deny,
		      struct perr *e, const char *where)
{
	static const char *const in_keys[] = { "fromEndpoints", "fromCIDR", "toPorts", NULL };
	static const char *const out_keys[] = { "toEndpoints", "toCIDR", "toPorts", NULL };
	const char *sel_key = dir == DIR_INGRESS ? "fromEndpoints" : "toEndpoints";
	const char *cidr_key = dir == DIR_INGRESS ? "fromCIDR" : "toCIDR";
	char field[192];
	json_t *sels, *cidrs, *ports, *v;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->dir = dir;
	r->deny = deny;
	if (!json_is_object(j))
		return fail(e, where, "must be an object");
	if (check_keys(j, dir == DIR_INGRESS ? in_keys : out_keys, e, where))
		return -EINVAL;
	sels = json_object_get(j, sel_key);
	if (sels) {
		snprintf(field, sizeof(field), "%s.%s", where, sel_key);
		if (!json_is_array(sels) || json_array_size(sels) > POLICY_MAX_ITEMS)
			return fail(e, field, "must be an array of at most %d selectors", POLICY_MAX_ITEMS);
		r->selectors = calloc(json_array_size(sels) + 1, sizeof(*r->selectors));
		if (!r->selectors)
			return -ENOMEM;
		json_array_foreach(sels, i, v) {
			snprintf(field, sizeof(field), "%s.%s[%zu]", where, sel_key, i);
			if (parse_selector(v, &r->selectors[i], e, field))
				return -EINVAL;
			r->n_selectors++;
		}
	}
	cidrs = json_object_get(j, cidr_key);
	if (cidrs) {
		snprintf(field, sizeof(field), "%s.%s", where, cidr_key);
		if (!json_is_array(cidrs) || json_array_size(cidrs) > POLICY_MAX_ITEMS)
			return fail(e, field, "must be an array of at most %d CIDR strings", POLICY_MAX_ITEMS);
		r->cidrs = calloc(json_array_size(cidrs) + 1, sizeof(*r->cidrs));
		if (!r->cidrs)
			return -ENOMEM;
		json_array_foreach(cidrs, i, v) {
			struct cidr c;

			snprintf(field, sizeof(field), "%s.%s[%zu]", where, cidr_key, i);
			if (!json_is_string(v) || cidr_parse(json_string_value(v), &c))
				return fail(e, field, "'%s' is not a valid CIDR",
					    json_is_string(v) ? json_string_value(v) : "(not a string)");
			c.addr.family = c.addr.family;
			{
				struct cidr n = c;
				cidr_normalize(&n);
				if (!ip_equal(&n.addr, &c.addr))
					return fail(e, field, "'%s' has host bits set", json_string_value(v));
			}
			r->cidrs[r->n_cidrs++] = c;
		}
	}
	ports = json_object_get(j, "toPorts");
	if (ports) {
		snprintf(field, sizeof(field), "%s.toPorts", where);
		if (parse_ports(ports, r, e, field))
			return -EINVAL;
	}
	if (sels && !r->n_selectors && cidrs && !r->n_cidrs)
		return fail(e, where, "empty %s and %s select no peer", sel_key, cidr_key);
	return 0;
}

static void rules_free(struct policy *p)
{
	for (int i = 0; i < p->n_rules; i++) {
		free(p->rules[i].selectors);
		free(p->rules[i].cidrs);
		free(p->rules[i].ports);
	}
	free(p->rules);
	p->rules = NULL;
	p->n_rules = 0;
}

void policy_free(struct policy *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		rules_free(&p[i]);
	free(p);
}

static int parse_one(json_t *j, struct policy *p, struct perr *e, size_t index)
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

	memset(p, 0, sizeof(*p));
	snprintf(field, sizeof(field), "policies[%zu]", index);
	if (!json_is_object(j))
		return fail(e, field, "a policy must be a JSON object");
	name = json_object_get(j, "name");
	if (!json_is_string(name) || !name_valid(json_string_value(name)))
		return fail(e, "name", "required; a-z, 0-9 and '-', at most 63 characters");
	snprintf(p->name, sizeof(p->name), "%s", json_string_value(name));
	e->policy = p->name;
	if (check_keys(j, known, e, ""))
		return -EINVAL;
	sel = json_object_get(j, "endpointSelector");
	if (!sel)
		return fail(e, "endpointSelector", "required (use {} to select every endpoint)");
	if (parse_selector(sel, &p->subject, e, "endpointSelector"))
		return -EINVAL;
	for (size_t s = 0; s < 4; s++) {
		json_t *arr = json_object_get(j, sections[s].key);
		if (!arr)
			continue;
		if (!json_is_array(arr))
			return fail(e, sections[s].key, "must be an array of rules");
		total += json_array_size(arr);
	}
	if (total == 0)
		return fail(e, "ingress", "the policy has no ingress, egress, ingressDeny or egressDeny rule");
	p->rules = calloc(total, sizeof(*p->rules));
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

int policy_parse(const char *text, const char *filename, struct policy **out, size_t *n,
		 char *err, size_t errlen)
{
	struct perr e = { err, errlen, filename ? filename : "policy", NULL };
	json_error_t jerr;
	struct policy *ps;
	json_t *root, *list;
	size_t i, count;
	int ret = 0;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s: line %d, column %d: %s", e.file, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	list = json_is_array(root) ? root : NULL;
	count = list ? json_array_size(list) : 1;
	if (count == 0) {
		json_decref(root);
		snprintf(err, errlen, "%s: no policy in the file", e.file);
		return -EINVAL;
	}
	ps = calloc(count, sizeof(*ps));
	if (!ps) {
		json_decref(root);
		return -ENOMEM;
	}
	for (i = 0; i < count && !ret; i++) {
		e.policy = NULL;
		ret = parse_one(list ? json_array_get(list, i) : root, &ps[i], &e, i);
		for (size_t k = 0; !ret && k < i; k++)
			if (!strcmp(ps[k].name, ps[i].name))
				ret = fail(&e, "name", "defined twice in the file");
	}
	json_decref(root);
	if (ret) {
		policy_free(ps, i);
		return ret;
	}
	*out = ps;
	*n = count;
	return 0;
}

static json_t *selector_json(const struct label_selector *s)
{
	json_t *ml = json_object();

	for (int i = 0; i < s->n; i++)
		json_object_set_new(ml, s->labels[i].key, json_string(s->labels[i].value));
	return json_pack("{s:o}", "matchLabels", ml);
}

char *policy_encode(const struct policy *p)
{
	static const char *names[2][2] = { { "ingress", "ingressDeny" }, { "egress", "egressDeny" } };
	json_t *j = json_pack("{s:s, s:o}", "name", p->name, "endpointSelector", selector_json(&p->subject));
	char buf[CIDR_STRLEN], *text;

	for (int i = 0; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];
		const char *section = names[r->dir][r->deny];
		json_t *rule = json_object(), *arr = json_object_get(j, section);

		if (!arr) {
			arr = json_array();
			json_object_set_new(j, section, arr);
		}
		if (r->n_selectors) {
			json_t *sels = json_array();
			for (int k = 0; k < r->n_selectors; k++)
				json_array_append_new(sels, selector_json(&r->selectors[k]));
			json_object_set_new(rule, r->dir == DIR_INGRESS ? "fromEndpoints" : "toEndpoints", sels);
		}
		if (r->n_cidrs) {
			json_t *cs = json_array();
			for (int k = 0; k < r->n_cidrs; k++)
				json_array_append_new(cs, json_string(cidr_str(&r->cidrs[k], buf)));
			json_object_set_new(rule, r->dir == DIR_INGRESS ? "fromCIDR" : "toCIDR", cs);
		}
		if (r->n_ports) {
			json_t *ps = json_array();
			for (int k = 0; k < r->n_ports; k++)
				json_array_append_new(ps, json_pack("{s:i, s:i, s:s}", "port", r->ports[k].port,
					"endPort", r->ports[k].end_port,
					"protocol", r->ports[k].proto == IPPROTO_UDP ? "UDP" :
						    r->ports[k].proto == IPPROTO_TCP ? "TCP" : "ANY"));
			json_object_set_new(rule, "toPorts", ps);
		}
		json_array_append_new(arr, rule);
	}
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return text;
}

bool selector_matches(const struct label_selector *s, const struct ep_label *labels, int n)
{
	for (int i = 0; i < s->n; i++) {
		bool found = false;
		for (int k = 0; k < n && !found; k++)
			found = !strcmp(s->labels[i].key, labels[k].key) &&
				!strcmp(s->labels[i].value, labels[k].value);
		if (!found)
			return false;
	}
	return true;
}

int port_range_blocks(uint16_t lo, uint16_t hi, uint16_t *ports, uint8_t *bits, int max)
{
	uint32_t cur = lo, end = hi;
	int n = 0;

	while (cur <= end && n < max) {
		/* Largest aligned block starting at cur that stays inside [cur, end]. */
		int size_bits = 0;
		while (size_bits < 16 && (cur & ((1u << (size_bits + 1)) - 1)) == 0 &&
		       cur + (1u << (size_bits + 1)) - 1 <= end)
			size_bits++;
		ports[n] = (uint16_t)cur;
		bits[n] = (uint8_t)(16 - size_bits);
		n++;
		cur += 1u << size_bits;
	}
	return n;
}

static int emit(struct policy_compiled *c, const struct policy_entry *e)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct policy_entry *v = realloc(c->entries, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->entries = v;
		c->cap = cap;
	}
	c->entries[c->n++] = *e;
	return 0;
}

static bool cidr_covers(const struct cidr *outer, const struct cidr *inner)
{
	return outer->addr.family == inner->addr.family && outer->prefixlen <= inner->prefixlen &&
	       cidr_contains(outer, &inner->addr);
}

/* Peer identities of a rule; 0 stands for "any peer". */
static int rule_peers(const struct policy_rule *r, const struct identity_ref *ids, size_t n_ids,
		      uint32_t **out, size_t *n_out)
{
	uint32_t *v = malloc((n_ids + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	if (!r->n_selectors && !r->n_cidrs) {
		v[n++] = 0;
	} else {
		for (size_t i = 0; i < n_ids; i++) {
			bool match = false;
			if (ids[i].labels || ids[i].n_labels) {
				for (int s = 0; s < r->n_selectors && !match; s++)
					match = selector_matches(&r->selectors[s], ids[i].labels, ids[i].n_labels);
			} else {
				for (int k = 0; k < r->n_cidrs && !match; k++)
					match = cidr_covers(&r->cidrs[k], &ids[i].cidr);
			}
			if (match)
				v[n++] = ids[i].identity;
		}
	}
	*out = v;
	*n_out = n;
	return 0;
}

static bool entry_covers(const struct policy_entry *d, const struct policy_entry *a)
{
	uint16_t mask;

	if (d->ep_id != a->ep_id || d->dir != a->dir)
		return false;
	if (d->identity != 0 && d->identity != a->identity)
		return false;
	if (d->proto == 0)
		return true;
	if (d->proto != a->proto)
		return false;
	if (d->port_bits > a->port_bits)
		return false;
	mask = d->port_bits ? (uint16_t)(0xffff << (16 - d->port_bits)) : 0;
	return (d->port & mask) == (a->port & mask);
}

static int same_key(const struct policy_entry *x, const struct policy_entry *y)
{
	return x->ep_id == y->ep_id && x->dir == y->dir && x->identity == y->identity &&
	       x->proto == y->proto && x->port == y->port && x->port_bits == y->port_bits;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct policy_entry *x = a, *y = b;

#define CMP(f) if (x->f != y->f) return x->f < y->f ? -1 : 1
	CMP(ep_id); CMP(dir); CMP(identity); CMP(proto); CMP(port); CMP(port_bits);
	/* deny first, then the earliest policy and rule: they keep the attribution */
	if (x->verdict != y->verdict)
		return x->verdict == VERDICT_DENY ? -1 : 1;
	CMP(policy_idx); CMP(rule_idx);
#undef CMP
	return 0;
}

static int set_enforce(struct policy_compiled *c, uint32_t ep_id, enum policy_dir dir)
{
	size_t i;

	for (i = 0; i < c->n_enforce && c->enforce[i].ep_id != ep_id; i++)
		;
	if (i == c->n_enforce) {
		void *v = realloc(c->enforce, (i + 1) * sizeof(*c->enforce));
		if (!v)
			return -ENOMEM;
		c->enforce = v;
		c->enforce[i].ep_id = ep_id;
		c->enforce[i].ingress = c->enforce[i].egress = false;
		c->n_enforce++;
	}
	if (dir == DIR_INGRESS)
		c->enforce[i].ingress = true;
	else
		c->enforce[i].egress = true;
	return 0;
}

static int compile_rule(const struct policy_rule *r, uint32_t ep_id, uint16_t pi, uint16_t ri,
			const struct identity_ref *ids, size_t n_ids, struct policy_compiled *out)
{
	struct policy_entry e = { .ep_id = ep_id, .dir = r->dir, .policy_idx = pi, .rule_idx = ri,
				  .verdict = r->deny ? VERDICT_DENY : VERDICT_ALLOW };
	uint32_t *peers = NULL;
	size_t n_peers = 0;
	int ret = rule_peers(r, ids, n_ids, &peers, &n_peers);

	for (size_t k = 0; !ret && k < n_peers; k++) {
		e.identity = peers[k];
		if (!r->n_ports) {
			e.proto = 0;
			e.port = 0;
			e.port_bits = 0;
			ret = emit(out, &e);
			continue;
		}
		for (int p = 0; !ret && p < r->n_ports; p++) {
			static const uint8_t both[] = { IPPROTO_TCP, IPPROTO_UDP };
			const struct port_range *pr = &r->ports[p];
			uint16_t ports[32];
			uint8_t bits[32];
			int nb = port_range_blocks(pr->port, pr->end_port, ports, bits, 32);

			for (int pp = 0; !ret && pp < (pr->proto ? 1 : 2); pp++) {
				e.proto = pr->proto ? pr->proto : both[pp];
				for (int b = 0; !ret && b < nb; b++) {
					e.port = ports[b];
					e.port_bits = bits[b];
					ret = emit(out, &e);
				}
			}
		}
	}
	free(peers);
	return ret;
}

int policy_compile(const struct policy *p, size_t n_policies,
		   const struct policy_subject *subjects, size_t n_subjects,
		   const struct identity_ref *ids, size_t n_ids, struct policy_compiled *out)
{
	size_t w = 0, *denies, n_denies = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	for (size_t s = 0; s < n_subjects && !ret; s++) {
		for (size_t pi = 0; pi < n_policies && !ret; pi++) {
			if (!selector_matches(&p[pi].subject, subjects[s].labels, subjects[s].n_labels))
				continue;
			for (int ri = 0; ri < p[pi].n_rules && !ret; ri++) {
				ret = set_enforce(out, subjects[s].ep_id, p[pi].rules[ri].dir);
				if (!ret)
					ret = compile_rule(&p[pi].rules[ri], subjects[s].ep_id, (uint16_t)pi,
							   (uint16_t)ri, ids, n_ids, out);
			}
		}
	}
	if (ret) {
		policy_compiled_free(out);
		return ret;
	}
	/* One entry per key: deny wins, then the earliest policy/rule. */
	qsort(out->entries, out->n, sizeof(*out->entries), cmp_entry);
	for (size_t i = 0; i < out->n; i++)
		if (w == 0 || !same_key(&out->entries[w - 1], &out->entries[i]))
			out->entries[w++] = out->entries[i];
	out->n = w;
	/* An allow entry covered by a shorter deny entry must not win the LPM lookup. */
	denies = malloc((out->n + 1) * sizeof(*denies));
	if (!denies) {
		policy_compiled_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < out->n; i++)
		if (out->entries[i].verdict == VERDICT_DENY)
			denies[n_denies++] = i;
	for (size_t i = 0; n_denies && i < out->n; i++) {
		struct policy_entry *a = &out->entries[i];

		if (a->verdict != VERDICT_ALLOW)
			continue;
		for (size_t d = 0; d < n_denies; d++) {
			const struct policy_entry *dn = &out->entries[denies[d]];
			if (entry_covers(dn, a)) {
				a->verdict = VERDICT_DENY;
				a->policy_idx = dn->policy_idx;
				a->rule_idx = dn->rule_idx;
				break;
			}
		}
	}
	free(denies);
	return 0;
}

void policy_compiled_free(struct policy_compiled *c)
{
	free(c->entries);
	free(c->enforce);
	memset(c, 0, sizeof(*c));
}
