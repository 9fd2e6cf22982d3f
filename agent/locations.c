/* Where every cluster address lives, in this node's datapath: a subscriber to node and
 * endpoint changes that keeps the location map (node blocks, and /32 /128 entries of
 * endpoints, which win over blocks) and the kernel routes to moved endpoints up to date,
 * one delta at a time. A migration holds an endpoint's packets through cluster_hold. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "cluster_cache.h"
#include "log.h"
#include "netlink.h"
#include "prefix_set.h"

/* The node's own stack (published-port flows, conntrack) reaches endpoints that moved
 * through kernel /32 routes: native mode via the hosting node's underlay address, vxlan
 * mode into the overlay device, whose egress program adds the tunnel key. */
#define OVERLAY_GW4 "169.254.1.1"
#define OVERLAY_GW6 "fe80::1"
#define MAX_HOLDS 64

/* Lock order: the cache's lock, then this one (listeners run under the cache's). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char name[EP_NAME_MAX]; unsigned int flags; } holds[MAX_HOLDS];
static size_t n_holds;
/* Endpoints whose node was not known when they were applied: a new node looks for them. */
static size_t n_orphans;

static int route_via(struct agent *a, const struct cidr *dst, const struct ip_addr *node4,
		     const struct ip_addr *node6)
{
	static const uint8_t overlay_mac[6] = { 0x02, 0x50, 0x00, 0x00, 0x00, 0x01 };
	bool v4 = dst->addr.family == AF_INET;
	struct ip_addr gw;

	if (a->cfg.mode == MODE_NATIVE)
		return nl_route_add(dst, v4 ? node4 : node6, a->cfg.underlay_dev, false);
	ip_parse(v4 ? OVERLAY_GW4 : OVERLAY_GW6, &gw);
	nl_neigh_add_permanent(VXLAN_DEV, &gw, overlay_mac);
	return nl_route_add(dst, &gw, VXLAN_DEV, true);
}

static unsigned int hold_flags(const char *name)
{
	for (size_t i = 0; i < n_holds; i++)
		if (!strcmp(holds[i].name, name))
			return holds[i].flags;
	return 0;
}

static void host_prefix(const struct ip_addr *ip, struct cidr *c)
{
	c->addr = *ip;
	c->prefixlen = ip->family == AF_INET ? 32 : 128;
}

/* Remove what an endpoint record put in place. */
static void endpoint_unset(struct agent *a, const struct cc_entry *e, const struct cc_entry *keep)
{
	const struct cc_endpoint *ep = &e->u.ep;
	bool was_routed = ep->moved && strcmp(ep->node, a->cfg.node) && a->cfg.backend == BACKEND_EBPF;

	for (int f = 0; f < 2; f++) {
		const struct ip_addr *ip = f ? &ep->ip6 : &ep->ip4;
		const struct ip_addr *kept = keep ? (f ? &keep->u.ep.ip6 : &keep->u.ep.ip4) : NULL;
		struct cidr host;

		if (!ip->family)
			continue;
		host_prefix(ip, &host);
		if (!kept || !ip_equal(ip, kept))
			datapath_location_delete(a->dp, &host);
		/* By device: an endpoint that came back has a route to its veth instead. */
		if (was_routed)
			nl_route_del(&host, a->cfg.mode == MODE_NATIVE ? a->cfg.underlay_dev : VXLAN_DEV);
	}
}

/* Point an endpoint's addresses at its node. Called with the cache locked. */
static void endpoint_set(struct agent *a, const struct cc_entry *e)
{
	const struct cc_endpoint *ep = &e->u.ep;
	const struct cc_entry *node = cc_find(a->cache, CC_NODE, ep->node);
	bool here = !strcmp(ep->node, a->cfg.node);
	bool away = !here && ep->moved && a->cfg.backend == BACKEND_EBPF;
	/* Mid-migration, the source hands the endpoint's packets to its own stack, which holds
	 * them until the container runs again, here or at the destination. Once it runs at the
	 * destination, the source only keeps dropping what its frozen copy still sends. */
	unsigned int flags = hold_flags(e->name);

	if (!here)
		flags &= DP_LOC_FROZEN;
	if (!node) {
		n_orphans++;
		return;
	}
	for (int f = 0; f < 2; f++) {
		const struct ip_addr *ip = f ? &ep->ip6 : &ep->ip4;
		struct cidr host;
		int ret;

		if (!ip->family)
			continue;
		host_prefix(ip, &host);
		ret = datapath_location_upsert_flags(a->dp, &host, &node->u.node.ip4, &node->u.node.ip6,
						     flags);
		if (ret)
			log_warn("location of endpoint %s: %s", e->name, strerror(-ret));
		if (away)
			route_via(a, &host, &node->u.node.ip4, &node->u.node.ip6);
	}
}

static void node_blocks(struct agent *a, const struct cc_node *n, bool add)
{
	const struct cidr *blocks[2] = { &n->block4, &n->block6 };

	for (int i = 0; i < 2; i++) {
		if (!blocks[i]->addr.family)
			continue;
		if (!add) {
			datapath_location_delete(a->dp, blocks[i]);
			continue;
		}
		datapath_location_upsert(a->dp, blocks[i], &n->ip4, &n->ip6);
		/* The classic baseline routes other nodes' blocks with kernel routes. */
		if (a->cfg.backend == BACKEND_IPTABLES && !ip_equal(&n->ip4, &a->cfg.underlay4))
			classic_route_block(blocks[i], i ? &n->ip6 : &n->ip4);
	}
}

struct node_scan {
	struct agent *a;
	const char *node;
};

static int repoint(const struct cc_entry *e, void *arg)
{
	struct node_scan *s = arg;

	if (!strcmp(e->u.ep.node, s->node))
		endpoint_set(s->a, e);
	return 0;
}

static void node_changed(struct agent *a, const struct cc_entry *old, const struct cc_entry *new)
{
	if (old)
		node_blocks(a, &old->u.node, false);
	if (!new)
		return;       /* its endpoints keep their last location until they go too */
	node_blocks(a, &new->u.node, true);
	/* Its endpoints follow a new address; endpoints that came before it find it now. */
	if ((old && (!ip_equal(&old->u.node.ip4, &new->u.node.ip4) ||
		     !ip_equal(&old->u.node.ip6, &new->u.node.ip6))) || n_orphans) {
		struct node_scan s = { a, new->name };

		n_orphans = 0;
		cc_foreach(a->cache, CC_ENDPOINT, repoint, &s);
	}
}

static void changed(void *ctx, const struct cc_entry *old, const struct cc_entry *new)
{
	struct agent *a = ctx;
	const struct cc_entry *e = new ? new : old;

	pthread_mutex_lock(&lock);
	if (e->kind == CC_NODE) {
		node_changed(a, old, new);
	} else {
		if (old)
			endpoint_unset(a, old, new);
		if (new)
			endpoint_set(a, new);
	}
	pthread_mutex_unlock(&lock);
}

int locations_subscribe(struct agent *a)
{
	struct cc_listener l = {
		.name = "locations", .kinds = CC_BIT(CC_NODE) | CC_BIT(CC_ENDPOINT),
		.changed = changed, .ctx = a,
	};

	return cluster_subscribe(a, &l);
}

/* --- what a restarted agent finds in its pinned map ---------------------------------- */

static int want_entry(const struct cc_entry *e, void *arg)
{
	struct prefix_set *set = arg;

	if (e->kind == CC_NODE)
		return prefix_set_add(set, &e->u.node.block4) ?: prefix_set_add(set, &e->u.node.block6);
	return prefix_set_add_host(set, &e->u.ep.ip4) ?: prefix_set_add_host(set, &e->u.ep.ip6);
}

static int note_stale(const struct cidr *prefix, const struct ip_addr *node4, void *arg)
{
	return prefix_sweep_note(arg, prefix);
}

/* Entries of a pinned map that cluster state no longer has (an endpoint deleted while the
 * agent was down) go; O(cluster), so only after a full load, never per event. */
int locations_sweep(struct agent *a)
{
	struct prefix_set *keep = prefix_set_new();
	struct prefix_sweep s = { .keep = keep };
	int ret;

	if (!keep)
		return -ENOMEM;
	cc_read_lock(a->cache);
	ret = cc_foreach(a->cache, CC_NODE, want_entry, keep) ?:
	      cc_foreach(a->cache, CC_ENDPOINT, want_entry, keep);
	cc_read_unlock(a->cache);
	if (!ret)
		ret = datapath_location_foreach(a->dp, note_stale, &s);
	for (size_t i = 0; !ret && i < s.n; i++)
		datapath_location_delete(a->dp, &s.stale[i]);
	if (s.n)
		log_info("removed %zu stale locations", s.n);
	prefix_set_free(keep);
	prefix_sweep_free(&s);
	return ret;
}

/* --- migrations -------------------------------------------------------------------- */

static void reapply(struct agent *a, const char *name)
{
	const struct cc_entry *e = cc_find(a->cache, CC_ENDPOINT, name);

	if (e)
		endpoint_set(a, e);
}

void cluster_hold(struct agent *a, const char *name, unsigned int flags)
{
	size_t i;

	cc_read_lock(a->cache);
	pthread_mutex_lock(&lock);
	for (i = 0; i < n_holds && strcmp(holds[i].name, name); i++)
		;
	if (flags && i < MAX_HOLDS) {
		snprintf(holds[i].name, EP_NAME_MAX, "%s", name);
		holds[i].flags = flags;
		n_holds += i == n_holds;
	} else if (!flags && i < n_holds) {
		holds[i] = holds[--n_holds];
	}
	if (a->cfg.backend == BACKEND_EBPF)
		reapply(a, name);
	pthread_mutex_unlock(&lock);
	cc_read_unlock(a->cache);
}

unsigned int cluster_held(const char *name)
{
	unsigned int flags;

	pthread_mutex_lock(&lock);
	flags = hold_flags(name);
	pthread_mutex_unlock(&lock);
	return flags;
}

void cluster_refresh_endpoint(struct agent *a, const char *name)
{
	cc_read_lock(a->cache);
	pthread_mutex_lock(&lock);
	reapply(a, name);
	pthread_mutex_unlock(&lock);
	cc_read_unlock(a->cache);
}

int cluster_point_endpoint(struct agent *a, const struct endpoint *ep, const struct ip_addr *to4,
			   const struct ip_addr *to6, unsigned int flags)
{
	int ret = 0;

	for (int f = 0; f < 2 && !ret; f++) {
		const struct ip_addr *ip = f ? &ep->ip6 : &ep->ip4;
		struct cidr host;

		if (!ip->family)
			continue;
		host_prefix(ip, &host);
		ret = datapath_location_upsert_flags(a->dp, &host, to4, to6, flags);
		if (!ret && a->cfg.backend == BACKEND_EBPF)
			ret = route_via(a, &host, to4, to6);
	}
	return ret;
}
