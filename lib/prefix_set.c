/* A set of address prefixes, keyed by family, length and address bytes (uthash). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include "prefix_set.h"

struct prefix_key {
	uint8_t family, len;
	uint8_t addr[16];
};

struct member {
	struct prefix_key k;
	UT_hash_handle hh;
};

struct prefix_set {
	struct member *members;
};

static void key_of(const struct cidr *c, struct prefix_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)c->addr.family;
	k->len = (uint8_t)c->prefixlen;
	memcpy(k->addr, c->addr.bytes, c->addr.family == AF_INET ? 4 : 16);
}

struct prefix_set *prefix_set_new(void)
{
	return calloc(1, sizeof(struct prefix_set));
}

void prefix_set_free(struct prefix_set *s)
{
	struct member *m, *tmp;

	if (!s)
		return;
	HASH_ITER(hh, s->members, m, tmp) {
		HASH_DEL(s->members, m);
		free(m);
	}
	free(s);
}

int prefix_set_add(struct prefix_set *s, const struct cidr *c)
{
	struct member *m;
	struct prefix_key k;

	if (!c->addr.family)
		return 0;
	key_of(c, &k);
	HASH_FIND(hh, s->members, &k, sizeof(k), m);
	if (m)
		return 0;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->k = k;
	HASH_ADD(hh, s->members, k, sizeof(m->k), m);
	return 0;
}

int prefix_set_add_host(struct prefix_set *s, const struct ip_addr *ip)
{
	struct cidr c = { .addr = *ip, .prefixlen = ip->family == AF_INET ? 32 : 128 };

	return ip->family ? prefix_set_add(s, &c) : 0;
}

bool prefix_set_has(const struct prefix_set *s, const struct cidr *c)
{
	struct member *m;
	struct prefix_key k;

	key_of(c, &k);
	HASH_FIND(hh, s->members, &k, sizeof(k), m);
	return m != NULL;
}

size_t prefix_set_count(const struct prefix_set *s)
{
	return HASH_COUNT(s->members);
}

int prefix_sweep_note(struct prefix_sweep *s, const struct cidr *p)
{
	if (prefix_set_has(s->keep, p))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct cidr *v = realloc(s->stale, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->stale = v;
		s->cap = cap;
	}
	s->stale[s->n++] = *p;
	return 0;
}

void prefix_sweep_free(struct prefix_sweep *s)
{
	free(s->stale);
	s->stale = NULL;
	s->n = s->cap = 0;
}
