/* The policy half of the datapath's maps: rules compiled by agent/policy_sync.c written
 * in place (new ones added, stale ones swept), their counters, and the flow log's ring. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath_loaded.h"
#include "bpf/datapath_abi.h"
#include "log.h"
#include "util.h"

static void policy_key_of(const struct dp_policy_entry *e, struct policy_key *k)
{
	memset(k, 0, sizeof(*k));
	k->ep_id = htonl(e->ep_id);
	k->identity = htonl(e->identity);
	k->dir = e->dir;
	k->proto = e->proto;
	k->port = htons(e->port);
	k->prefixlen = POLICY_KEY_FIXED_BITS + (e->proto ? 8u + e->port_bits : 0u);
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct policy_key));
}

/* want is sorted: stale detection stays O(n log n) for tens of thousands of rules. */
static bool key_wanted(const struct policy_key *k, const struct policy_key *want, size_t n)
{
	return bsearch(k, want, n, sizeof(*want), cmp_key) != NULL;
}

int datapath_policy_add(struct datapath *dp, const struct dp_policy_entry *entries, size_t n)
{
	int pfd = bpf_map__fd(dp->skel->maps.policy);

	for (size_t i = 0; i < n; i++) {
		struct policy_value v = { .verdict = entries[i].verdict, .rule = entries[i].rule,
					  .policy_id = entries[i].policy_id };
		struct policy_key k;

		policy_key_of(&entries[i], &k);
		if (bpf_map_update_elem(pfd, &k, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* Delete every key of map fd that keep() refuses. The keys are collected first: deleting
 * during bpf_map_get_next_key's walk would make it restart or skip. */
static int map_sweep(int fd, size_t key_size, bool (*keep)(const void *key, void *arg), void *arg)
{
	char *stale = NULL, *cur = malloc(key_size), *next = malloc(key_size);
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int ret = cur && next ? 0 : -ENOMEM;

	while (!ret && bpf_map_get_next_key(fd, prev, next) == 0) {
		if (!keep(next, arg)) {
			if (n == cap) {
				char *ns = realloc(stale, (cap = cap ? cap * 2 : 64) * key_size);

				if (!ns) {
					ret = -ENOMEM;
					break;
				}
				stale = ns;
			}
			memcpy(stale + n++ * key_size, next, key_size);
		}
		memcpy(cur, next, key_size);
		prev = cur;
	}
	for (size_t i = 0; !ret && i < n; i++)
		bpf_map_delete_elem(fd, stale + i * key_size);
	free(stale);
	free(cur);
	free(next);
	return ret;
}

struct wanted_keys {
	const struct policy_key *keys;          /* sorted */
	size_t n;
};

static bool policy_key_kept(const void *key, void *arg)
{
	const struct wanted_keys *w = arg;

	return key_wanted(key, w->keys, w->n);
}

struct wanted_enforce {
	const struct dp_enforce *v;
	size_t n;
};

static bool enforce_kept(const void *key, void *arg)
{
	const struct wanted_enforce *w = arg;

	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].ep_id == *(const __u32 *)key)
			return true;
	return false;
}

int datapath_policy_replace(struct datapath *dp, const struct dp_policy_entry *entries, size_t n,
			    const struct dp_enforce *enforce, size_t n_enforce)
{
	int pfd = bpf_map__fd(dp->skel->maps.policy), efd = bpf_map__fd(dp->skel->maps.enforce);
	struct policy_key *want = calloc(n + 1, sizeof(*want));
	struct wanted_keys wk = { want, n };
	struct wanted_enforce we = { enforce, n_enforce };
	int ret;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		policy_key_of(&entries[i], &want[i]);
	qsort(want, n, sizeof(*want), cmp_key);
	/* 1. every new entry (upserts replace verdicts atomically, entry by entry) */
	ret = datapath_policy_add(dp, entries, n);
	/* 2. enforcement for newly selected endpoints (only ever narrows access) */
	for (size_t i = 0; i < n_enforce && !ret; i++) {
		struct enforce_info info = { .ingress = enforce[i].ingress, .egress = enforce[i].egress };
		if (bpf_map_update_elem(efd, &enforce[i].ep_id, &info, BPF_ANY))
			ret = -errno;
	}
	/* 3. stale entries; 4. enforcement nothing asks for any more */
	if (!ret)
		ret = map_sweep(pfd, sizeof(struct policy_key), policy_key_kept, &wk);
	if (!ret)
		ret = map_sweep(efd, sizeof(__u32), enforce_kept, &we);
	free(want);
	return ret;
}

int datapath_policy_counters(struct datapath *dp, uint32_t policy_id, uint64_t *packets,
			     uint64_t *bytes)
{
	uint64_t v[2];
	int ret = percpu_sum(bpf_map__fd(dp->skel->maps.policy_stats), &policy_id, v, 2);

	*packets = v[0];
	*bytes = v[1];
	return ret;
}

static int on_flow(void *ctx, void *data, size_t len)
{
	struct datapath *dp = ctx;

	if (dp->flow_cb)
		dp->flow_cb(data, len, dp->flow_arg);
	return 0;
}

int datapath_flows_poll(struct datapath *dp, int timeout_ms, dp_flow_cb cb, void *arg)
{
	int ret;

	if (!dp->flows) {
		dp->flows = ring_buffer__new(bpf_map__fd(dp->skel->maps.flow_events), on_flow, dp, NULL);
		if (!dp->flows)
			return -errno;
	}
	dp->flow_cb = cb;
	dp->flow_arg = arg;
	ret = ring_buffer__poll(dp->flows, timeout_ms);
	return ret < 0 && ret != -EINTR ? ret : 0;
}

uint64_t datapath_flows_suppressed(struct datapath *dp)
{
	__u32 zero = 0;
	uint64_t v[3];   /* struct flow_budget: second, sent, suppressed */

	percpu_sum(bpf_map__fd(dp->skel->maps.flow_budget), &zero, v, 3);
	return v[2];
}

