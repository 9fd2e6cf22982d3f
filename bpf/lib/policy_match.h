/* Policy enforcement at a fixed cost: one conntrack lookup, and for a new flow one ipcache
 * LPM lookup and two policy LPM lookups (the peer's identity, then any peer), whatever the
 * number of rules. Decisions are counted per policy and sent as rate-limited flow events. */
#pragma once
#include "common.h"
#include "maps.h"
#include "parse.h"

static __always_inline __u32 ipcache_identity(__u32 family, const __u8 *addr)
{
	struct ipcache_info *info;

	if (family == AF_INET) {
		struct loc4_key k = { .prefixlen = 32 };
		__builtin_memcpy(k.addr, addr, 4);
		info = bpf_map_lookup_elem(&ipcache4, &k);
	} else {
		struct loc6_key k6 = { .prefixlen = 128 };
		__builtin_memcpy(k6.addr, addr, 16);
		info = bpf_map_lookup_elem(&ipcache6, &k6);
	}
	return info ? info->identity : DP_IDENTITY_WORLD;
}

static __always_inline void ct_key_of(const struct pkt *p, struct ct_key *k, bool reverse)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = (__u8)p->family;
	k->proto = p->proto;
	if (reverse) {
		k->sport = p->dport;
		k->dport = p->sport;
		__builtin_memcpy(k->saddr, p->dst, 16);
		__builtin_memcpy(k->daddr, p->src, 16);
	} else {
		k->sport = p->sport;
		k->dport = p->dport;
		__builtin_memcpy(k->saddr, p->src, 16);
		__builtin_memcpy(k->daddr, p->dst, 16);
	}
}

static __always_inline void policy_count(__u32 policy_id, __u32 len);

/* Part of a flow already allowed (either direction)? Its packets count for the policy
 * that allowed it. */
static __always_inline bool ct_established(const struct pkt *p)
{
	struct ct_key k;
	struct ct_value *v;

	ct_key_of(p, &k, false);
	v = bpf_map_lookup_elem(&conntrack, &k);
	if (!v) {
		ct_key_of(p, &k, true);
		v = bpf_map_lookup_elem(&conntrack, &k);
	}
	if (!v)
		return false;
	v->last_seen = bpf_ktime_get_ns();
	if (v->policy_id)
		policy_count(v->policy_id, p->len);
	return true;
}

static __always_inline void ct_create(const struct pkt *p, __u32 policy_id)
{
	struct ct_key k;
	struct ct_value v = { .last_seen = bpf_ktime_get_ns(), .policy_id = policy_id };

	ct_key_of(p, &k, false);
	bpf_map_update_elem(&conntrack, &k, &v, BPF_ANY);
}

static __always_inline struct policy_value *policy_find(__u32 ep_id, __u32 identity, __u8 dir,
							const struct pkt *p)
{
	struct policy_key k = {
		.prefixlen = POLICY_KEY_FIXED_BITS + 8 + 16,
		.ep_id = bpf_htonl(ep_id),
		.identity = bpf_htonl(identity),
		.dir = dir,
		.proto = p->proto,
		.port = p->dport,
	};

	return bpf_map_lookup_elem(&policy, &k);
}

static __always_inline void policy_count(__u32 policy_id, __u32 len)
{
	struct policy_counters *c = bpf_map_lookup_elem(&policy_stats, &policy_id);

	if (!c) {
		struct policy_counters zero = {};
		bpf_map_update_elem(&policy_stats, &policy_id, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&policy_stats, &policy_id);
		if (!c)
			return;
	}
	c->packets++;
	c->bytes += len;
}

static __always_inline void flow_event(const struct pkt *p, __u32 ep_id, __u8 dir, __u32 peer,
				       __u32 self, const struct policy_value *v, __u8 verdict)
{
	__u32 zero = 0;
	struct flow_budget *b = bpf_map_lookup_elem(&flow_budget, &zero);
	__u64 now = bpf_ktime_get_ns(), second = now / 1000000000ull;
	struct flow_event *e;

	if (!b)
		return;
	if (b->second != second) {
		b->second = second;
		b->sent = 0;
	}
	if (b->sent >= FLOW_EVENTS_PER_SEC) {
		b->suppressed++;
		return;
	}
	e = bpf_ringbuf_reserve(&flow_events, sizeof(*e), 0);
	if (!e) {
		b->suppressed++;
		return;
	}
	b->sent++;
	e->ts = now;
	e->family = (__u8)p->family;
	e->proto = p->proto;
	e->dir = dir;
	e->verdict = verdict;
	e->sport = p->sport;
	e->dport = p->dport;
	__builtin_memcpy(e->saddr, p->src, 16);
	__builtin_memcpy(e->daddr, p->dst, 16);
	e->src_identity = dir == POLICY_INGRESS ? peer : self;
	e->dst_identity = dir == POLICY_INGRESS ? self : peer;
	e->ep_id = ep_id;
	e->policy_id = v ? v->policy_id : 0;
	e->rule = v ? v->rule : RULE_DEFAULT_DENY;
	e->len = p->len;
	bpf_ringbuf_submit(e, 0);
}

/* What the checks of one packet decided about connection tracking: the caller records the
 * flow only after every check passed, so one direction's check cannot pre-approve the
 * other's on the same node. */
struct ct_plan {
	bool record;
	__u32 policy_id;
};

static __always_inline void ct_commit(const struct pkt *p, const struct ct_plan *plan)
{
	if (plan->record)
		ct_create(p, plan->policy_id);
}

/* Is packet p allowed for endpoint ep in direction dir, with the peer's identity?
 * Deny entries win over allow entries; no entry at all is default-deny once a policy
 * selects the endpoint in that direction. */
static __always_inline bool policy_allows(const struct pkt *p, const struct ep_info *ep, __u8 dir,
					  __u32 peer, struct ct_plan *plan)
{
	struct enforce_info *enf = bpf_map_lookup_elem(&enforce, &ep->id);
	struct policy_value *v, *any, *decided = NULL;
	bool enforced;

	if (!enf)
		return true;                  /* no policy selects it: open, and nothing to track */
	if (ct_established(p))
		return true;
	enforced = dir == POLICY_INGRESS ? enf->ingress : enf->egress;
	if (!enforced) {
		plan->record = true;          /* so replies pass the other direction's policy */
		return true;
	}
	v = policy_find(ep->id, peer, dir, p);
	any = policy_find(ep->id, 0, dir, p);
	if (v && v->verdict == DP_VERDICT_DENY)
		decided = v;
	else if (any && any->verdict == DP_VERDICT_DENY)
		decided = any;
	if (decided || (!v && !any)) {
		policy_count(decided ? decided->policy_id : 0, p->len);
		flow_event(p, ep->id, dir, peer, ep->identity, decided, DP_VERDICT_DENY);
		return false;
	}
	decided = v ? v : any;
	policy_count(decided->policy_id, p->len);
	flow_event(p, ep->id, dir, peer, ep->identity, decided, DP_VERDICT_ALLOW);
	plan->record = true;
	plan->policy_id = decided->policy_id;
	return true;
}
