/* A set of address prefixes (hash): what a sweep of a pinned BPF map keeps. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "cidr.h"

struct prefix_set;

struct prefix_set *prefix_set_new(void);
void prefix_set_free(struct prefix_set *s);
int prefix_set_add(struct prefix_set *s, const struct cidr *c);          /* 0, or -ENOMEM */
int prefix_set_add_host(struct prefix_set *s, const struct ip_addr *ip); /* /32 or /128; family 0 ignored */
bool prefix_set_has(const struct prefix_set *s, const struct cidr *c);
size_t prefix_set_count(const struct prefix_set *s);

/* A sweep of a map against a set: the prefixes the map has and the set lacks, collected
 * first (deleting during a map's iteration would upset it), then deleted by the caller. */
struct prefix_sweep {
	const struct prefix_set *keep;
	struct cidr *stale;
	size_t n, cap;
};
/* Note p as stale unless keep has it; 0 or -ENOMEM. */
int prefix_sweep_note(struct prefix_sweep *s, const struct cidr *p);
void prefix_sweep_free(struct prefix_sweep *s);
