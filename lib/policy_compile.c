/* Policy compilation: policies and the known identities become flat allow/deny entries
 * keyed by endpoint, direction, peer identity, protocol and port prefix. Pure code. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "policy.h"
#include "identity.h"

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

/* A CIDR identity is a peer of the rule when one of its CIDRs covers it and no except
 * prefix of that CIDR does (except prefixes are identities too, so LPM picks them). */
static bool cidr_peer_matches(const struct policy_rule *r, const struct cidr *id)
{
	for (int k = 0; k < r->n_cidrs; k++) {
		const struct cidr_peer *c = &r->cidrs[k];
		bool excepted = false;

		if (!cidr_covers(&c->cidr, id))
			continue;
		for (int x = 0; x < c->n_except && !excepted; x++)
			excepted = cidr_covers(&c->except[x], id);
		if (!excepted)
			return true;
	}
	return false;
}

static bool peer_matches(const struct policy_rule *r, const struct identity_ref *id)
{
	bool endpoint = id->labels || id->n_labels;

	if (endpoint && (r->entities & ENTITY_CLUSTER))
		return true;
	if (!endpoint && (r->entities & ENTITY_WORLD))
		return true;                  /* world and every CIDR identity: outside */
	for (int s = 0; endpoint && s < r->n_selectors; s++)
		if (selector_matches(&r->selectors[s], id->labels, id->n_labels))
			return true;
	return !endpoint && cidr_peer_matches(r, &id->cidr);
}

/* Peer identities of a rule; 0 stands for "any peer". */
static int rule_peers(const struct policy_rule *r, const struct identity_ref *ids, size_t n_ids,
		      uint32_t **out, size_t *n_out)
{
	uint32_t *v = malloc((n_ids + 2) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	if ((!r->n_selectors && !r->n_cidrs && !r->entities) || (r->entities & ENTITY_ALL)) {
		v[n++] = 0;
	} else {
		if (r->entities & (ENTITY_HOST | ENTITY_CLUSTER))
			v[n++] = IDENTITY_HOST;
		for (size_t i = 0; i < n_ids; i++)
			if (peer_matches(r, &ids[i]))
				v[n++] = ids[i].identity;
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
			for (int d = 0; d < 2 && !ret; d++)
				if (p[pi].enforce[d])
					ret = set_enforce(out, subjects[s].ep_id, (enum policy_dir)d);
			for (int ri = 0; ri < p[pi].n_rules && !ret; ri++) {
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
