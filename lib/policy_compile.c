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

/* The identities split for the rules' lookups: label sets for selectors, CIDR identities
 * sorted by address so the ones inside a rule's CIDR are one contiguous run. A rule then
 * costs its label checks plus a binary search, not a scan of every identity. */
struct peer_index {
	const struct identity_ref **labels, **cidrs;
	size_t n_labels, n_cidrs;
};

static int cmp_cidr_ref(const void *a, const void *b)
{
	const struct cidr *x = &(*(const struct identity_ref *const *)a)->cidr;
	const struct cidr *y = &(*(const struct identity_ref *const *)b)->cidr;
	int c;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	if ((c = memcmp(x->addr.bytes, y->addr.bytes, sizeof(x->addr.bytes))))
		return c;
	return x->prefixlen - y->prefixlen;
}

static int index_build(const struct identity_ref *ids, size_t n, struct peer_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->labels = calloc(n + 1, sizeof(*ix->labels));
	ix->cidrs = calloc(n + 1, sizeof(*ix->cidrs));
	if (!ix->labels || !ix->cidrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (ids[i].labels || ids[i].n_labels)
			ix->labels[ix->n_labels++] = &ids[i];
		else
			ix->cidrs[ix->n_cidrs++] = &ids[i];
	}
	qsort(ix->cidrs, ix->n_cidrs, sizeof(*ix->cidrs), cmp_cidr_ref);
	return 0;
}

static void index_free(struct peer_index *ix)
{
	free(ix->labels);
	free(ix->cidrs);
}

/* First CIDR identity not ordered before c's network address. */
static size_t cidr_lower_bound(const struct peer_index *ix, const struct cidr *c)
{
	struct identity_ref key = { .cidr = { c->addr, 0 } };
	const struct identity_ref *kp = &key;
	size_t lo = 0, hi = ix->n_cidrs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_cidr_ref(&ix->cidrs[mid], &kp) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct peers {
	uint32_t *v;
	size_t n, cap;
};

static int peers_add(struct peers *p, uint32_t id)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		uint32_t *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = id;
	return 0;
}

/* Peer identities of a rule into out (reset first); 0 stands for "any peer". */
static int rule_peers(const struct policy_rule *r, const struct peer_index *ix, struct peers *out)
{
	bool cluster = r->entities & ENTITY_CLUSTER;
	int ret = 0;

	out->n = 0;
	if ((!r->n_selectors && !r->n_cidrs && !r->entities) || (r->entities & ENTITY_ALL))
		return peers_add(out, 0);
	if (r->entities & (ENTITY_HOST | ENTITY_CLUSTER))
		ret = peers_add(out, IDENTITY_HOST);
	for (size_t i = 0; !ret && (cluster || r->n_selectors) && i < ix->n_labels; i++) {
		const struct identity_ref *id = ix->labels[i];
		bool match = cluster;

		for (int s = 0; !match && s < r->n_selectors; s++)
			match = selector_matches(&r->selectors[s], id->labels, id->n_labels);
		if (match)
			ret = peers_add(out, id->identity);
	}
	if (r->entities & ENTITY_WORLD) {     /* world and every CIDR identity: outside */
		for (size_t i = 0; !ret && i < ix->n_cidrs; i++)
			ret = peers_add(out, ix->cidrs[i]->identity);
		return ret;
	}
	/* An identity two CIDRs of the rule cover comes twice; the entries' dedup drops it. */
	for (int k = 0; !ret && k < r->n_cidrs; k++) {
		const struct cidr_peer *c = &r->cidrs[k];

		for (size_t i = cidr_lower_bound(ix, &c->cidr); !ret && i < ix->n_cidrs; i++) {
			const struct cidr *id = &ix->cidrs[i]->cidr;
			bool excepted = false;

			if (id->addr.family != c->cidr.addr.family || !cidr_contains(&c->cidr, &id->addr))
				break;
			if (id->prefixlen < c->cidr.prefixlen)
				continue;
			for (int x = 0; x < c->n_except && !excepted; x++)
				excepted = cidr_covers(&c->except[x], id);
			if (!excepted)
				ret = peers_add(out, ix->cidrs[i]->identity);
		}
	}
	return ret;
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
			const struct peer_index *ix, struct peers *peers, struct policy_compiled *out)
{
	struct policy_entry e = { .ep_id = ep_id, .dir = r->dir, .policy_idx = pi, .rule_idx = ri,
				  .verdict = r->deny ? VERDICT_DENY : VERDICT_ALLOW };
	int ret = rule_peers(r, ix, peers);

	for (size_t k = 0; !ret && k < peers->n; k++) {
		e.identity = peers->v[k];
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
	return ret;
}

int policy_compile(const struct policy *p, size_t n_policies,
		   const struct policy_subject *subjects, size_t n_subjects,
		   const struct identity_ref *ids, size_t n_ids, struct policy_compiled *out)
{
	size_t w = 0, *denies, n_denies = 0;
	struct peer_index ix;
	struct peers peers = { 0 };
	int ret;

	memset(out, 0, sizeof(*out));
	if (n_policies > UINT16_MAX)
		return -E2BIG;                /* entries name their policy in 16 bits */
	ret = index_build(ids, n_ids, &ix);
	for (size_t s = 0; s < n_subjects && !ret; s++) {
		for (size_t pi = 0; pi < n_policies && !ret; pi++) {
			if (!selector_matches(&p[pi].subject, subjects[s].labels, subjects[s].n_labels))
				continue;
			for (int d = 0; d < 2 && !ret; d++)
				if (p[pi].enforce[d])
					ret = set_enforce(out, subjects[s].ep_id, (enum policy_dir)d);
			for (int ri = 0; ri < p[pi].n_rules && !ret; ri++) {
				ret = compile_rule(&p[pi].rules[ri], subjects[s].ep_id, (uint16_t)pi,
							   (uint16_t)ri, &ix, &peers, out);
			}
		}
	}
	index_free(&ix);
	free(peers.v);
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
