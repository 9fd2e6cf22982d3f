/* Cluster state → datapath: the location map mirrors the node registry and the endpoint
 * table. A watch thread (etcd) re-syncs on every change; a keepalive thread holds the
 * node's liveness lease. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "log.h"
#include "netlink.h"

struct location {
	struct cidr prefix;
	struct ip_addr node4, node6;
	unsigned int flags;
};

struct loc_set {
	struct location *v;
	size_t n, cap;
};

static void loc_add(struct loc_set *s, const struct cidr *p, const struct ip_addr *n4,
		    const struct ip_addr *n6)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct location *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].prefix = *p;
	s->v[s->n].node4 = *n4;
	s->v[s->n].node6 = *n6;
	s->v[s->n].flags = 0;
	s->n++;
}

static bool loc_has(const struct loc_set *s, const struct cidr *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].prefix.prefixlen == p->prefixlen && ip_equal(&s->v[i].prefix.addr, &p->addr))
			return true;
	return false;
}

struct node_addr {
	char name[EP_NAME_MAX];
	struct ip_addr ip4, ip6;
};

int cluster_node_addrs(const json_t *node, struct ip_addr *ip4, struct ip_addr *ip6)
{
	const char *s4 = json_string_value(json_object_get(node, "ipv4"));
	const char *s6 = json_string_value(json_object_get(node, "ipv6"));

	if (!s4 || ip_parse(s4, ip4))
		return -EINVAL;
	if (s6 && *s6)
		ip_parse(s6, ip6);
	return 0;
}

static int load_nodes(struct agent *a, struct node_addr **out, size_t *n_out, struct loc_set *want)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	struct node_addr *nodes;
	int ret;

	ret = store_list(a->store, KEY_NODES, &kvs, &n, NULL);
	if (ret)
		return ret;
	nodes = calloc(n ? n : 1, sizeof(*nodes));
	*n_out = 0;
	for (size_t i = 0; nodes && i < n; i++) {
		json_t *j = json_loads(kvs[i].value, 0, NULL);
		const char *b4 = json_string_value(json_object_get(j, "block4"));
		const char *b6 = json_string_value(json_object_get(j, "block6"));
		struct node_addr *na = &nodes[*n_out];
		struct cidr c;

		memset(na, 0, sizeof(*na));
		if (j && !cluster_node_addrs(j, &na->ip4, &na->ip6)) {
			snprintf(na->name, sizeof(na->name), "%s", kvs[i].key + strlen(KEY_NODES));
			if (b4 && !cidr_parse(b4, &c))
				loc_add(want, &c, &na->ip4, &na->ip6);
			if (b6 && !cidr_parse(b6, &c))
				loc_add(want, &c, &na->ip4, &na->ip6);
			(*n_out)++;
		}
		json_decref(j);
	}
	store_kvs_free(kvs, n);
	*out = nodes;
	return nodes ? 0 : -ENOMEM;
}

static int collect_stale(const struct cidr *prefix, const struct ip_addr *node4, void *arg)
{
	struct loc_set **sets = arg;   /* [0] wanted, [1] stale */

	if (!loc_has(sets[0], prefix))
		loc_add(sets[1], prefix, node4, node4);
	return 0;
}

/* The node's own stack (published-port flows, conntrack) reaches endpoints that moved
 * through kernel /32 routes: native mode via the hosting node's underlay address, vxlan
 * mode into the overlay device, whose egress program adds the tunnel key. */
#define OVERLAY_GW4 "169.254.1.1"
#define OVERLAY_GW6 "fe80::1"

struct host_route {
	struct cidr dst;
};
static struct host_route *host_routes;
static size_t n_host_routes;

static int route_via(struct agent *a, const struct cidr *dst, const struct node_addr *node)
{
	static const uint8_t overlay_mac[6] = { 0x02, 0x50, 0x00, 0x00, 0x00, 0x01 };
	bool v4 = dst->addr.family == AF_INET;
	struct ip_addr gw;

	if (a->cfg.mode == MODE_NATIVE)
		return nl_route_add(dst, v4 ? &node->ip4 : &node->ip6, a->cfg.underlay_dev, false);
	ip_parse(v4 ? OVERLAY_GW4 : OVERLAY_GW6, &gw);
	nl_neigh_add_permanent(VXLAN_DEV, &gw, overlay_mac);
	return nl_route_add(dst, &gw, VXLAN_DEV, true);
}

static void sync_host_routes(struct agent *a, struct host_route *want, size_t n_want)
{
	for (size_t i = 0; i < n_host_routes; i++) {
		bool keep = false;

		for (size_t j = 0; j < n_want && !keep; j++)
			keep = host_routes[i].dst.prefixlen == want[j].dst.prefixlen &&
			       ip_equal(&host_routes[i].dst.addr, &want[j].dst.addr);
		/* By device: an endpoint that came back has a route to its veth instead. */
		if (!keep)
			nl_route_del(&host_routes[i].dst, a->cfg.mode == MODE_NATIVE ?
				     a->cfg.underlay_dev : VXLAN_DEV);
	}
	free(host_routes);
	host_routes = want;
	n_host_routes = n_want;
}

int cluster_sync(struct agent *a)
{
	struct host_route *routes = NULL;
	size_t n_routes = 0;
	struct loc_set want = { 0 }, stale = { 0 };
	struct loc_set *sets[2] = { &want, &stale };
	struct node_addr *nodes = NULL;
	struct endpoint *eps = NULL;
	size_t n_nodes = 0, n_eps = 0;
	int ret;

	ret = load_nodes(a, &nodes, &n_nodes, &want);
	if (!ret)
		ret = cluster_endpoints(a, &eps, &n_eps);
	if (ret)
		goto out;
	/* Endpoint /32 and /128 entries win over node blocks in the LPM map: that is what lets
	 * an address keep working after its endpoint moves to another node. */
	routes = calloc(2 * n_eps + 1, sizeof(*routes));
	for (size_t i = 0; routes && i < n_eps; i++) {
		const char *at = eps[i].node;
		bool away;

		/* Mid-migration, the source hands the endpoint's packets to its own stack, which
		 * holds them until the container runs again, here or at the destination. Once it
		 * runs at the destination, the source only keeps dropping what its frozen copy
		 * still sends, until that copy is gone. */
		unsigned int held = migrate_held(a, eps[i].name);

		if (strcmp(at, a->cfg.node))
			held &= DP_LOC_FROZEN;

		away = strcmp(at, a->cfg.node) && eps[i].moved;
		for (size_t j = 0; j < n_nodes; j++) {
			struct cidr host;

			if (strcmp(at, nodes[j].name))
				continue;
			for (int f = 0; away && f < 2; f++) {
				struct ip_addr *ip = f ? &eps[i].ip6 : &eps[i].ip4;

				if (!ip->family || a->cfg.backend != BACKEND_EBPF)
					continue;
				routes[n_routes].dst.addr = *ip;
				routes[n_routes].dst.prefixlen = f ? 128 : 32;
				if (route_via(a, &routes[n_routes].dst, &nodes[j]) == 0)
					n_routes++;
			}
			if (eps[i].ip4.family) {
				host.addr = eps[i].ip4;
				host.prefixlen = 32;
				loc_add(&want, &host, &nodes[j].ip4, &nodes[j].ip6);
				want.v[want.n - 1].flags = held;
			}
			if (eps[i].ip6.family) {
				host.addr = eps[i].ip6;
				host.prefixlen = 128;
				loc_add(&want, &host, &nodes[j].ip4, &nodes[j].ip6);
				want.v[want.n - 1].flags = held;
			}
		}
	}
	/* The classic baseline routes other nodes' blocks with kernel routes. */
	if (a->cfg.backend == BACKEND_IPTABLES)
		for (size_t i = 0; i < want.n; i++)
			if (!ip_equal(&want.v[i].node4, &a->cfg.underlay4) &&
			    want.v[i].prefix.prefixlen < (want.v[i].prefix.addr.family == AF_INET ? 32 : 128))
				classic_route_block(&want.v[i].prefix, want.v[i].prefix.addr.family == AF_INET ?
						    &want.v[i].node4 : &want.v[i].node6);
	datapath_location_foreach(a->dp, collect_stale, sets);
	for (size_t i = 0; i < stale.n; i++)
		datapath_location_delete(a->dp, &stale.v[i].prefix);
	for (size_t i = 0; i < want.n && !ret; i++)
		ret = datapath_location_upsert_flags(a->dp, &want.v[i].prefix, &want.v[i].node4,
						     &want.v[i].node6, want.v[i].flags);
	if (routes)
		sync_host_routes(a, routes, n_routes);
	log_debug("cluster sync: %zu nodes, %zu endpoints, %zu locations, %zu stale removed",
		  n_nodes, n_eps, want.n, stale.n);
	/* Identities and policies follow the same changes (endpoints come and go). */
	if (!ret)
		ret = policy_sync(a);
	if (!ret)
		ret = ioam_sync(a);
out:
	free(want.v);
	free(stale.v);
	free(nodes);
	free(eps);
	return ret;
}

static int point_endpoint(struct agent *a, const struct endpoint *ep, const struct ip_addr *to4,
			  const struct ip_addr *to6, unsigned int flags, bool route)
{
	struct node_addr node = { .ip4 = *to4, .ip6 = *to6 };
	int ret = 0;

	for (int f = 0; f < 2 && !ret; f++) {
		const struct ip_addr *ip = f ? &ep->ip6 : &ep->ip4;
		struct cidr host = { .prefixlen = f ? 128 : 32 };

		if (!ip->family)
			continue;
		host.addr = *ip;
		ret = datapath_location_upsert_flags(a->dp, &host, to4, to6, flags);
		if (!ret && route && a->cfg.backend == BACKEND_EBPF)
			ret = route_via(a, &host, &node);
	}
	return ret;
}

int cluster_point_endpoint(struct agent *a, const struct endpoint *ep, const struct ip_addr *to4,
			   const struct ip_addr *to6, unsigned int flags)
{
	return point_endpoint(a, ep, to4, to6, flags, true);
}

int cluster_mark_endpoint(struct agent *a, const struct endpoint *ep, unsigned int flags)
{
	return point_endpoint(a, ep, &a->cfg.underlay4, &a->cfg.underlay6, flags, false);
}

static int cmp_ep(const void *x, const void *y)
{
	return strcmp(((const struct endpoint *)x)->name, ((const struct endpoint *)y)->name);
}

int cluster_endpoints(struct agent *a, struct endpoint **out, size_t *n_out)
{
	struct store_kv *kvs = NULL;
	struct endpoint *eps;
	size_t n = 0;
	int ret;

	ret = store_list(a->store, KEY_ENDPOINTS, &kvs, &n, NULL);
	if (ret)
		return ret;
	eps = calloc(n ? n : 1, sizeof(*eps));
	*n_out = 0;
	for (size_t i = 0; eps && i < n; i++) {
		if (endpoint_decode(kvs[i].value, &eps[*n_out]) == 0)
			(*n_out)++;
		else
			log_warn("ignoring malformed endpoint record %s", kvs[i].key);
	}
	store_kvs_free(kvs, n);
	if (!eps)
		return -ENOMEM;
	qsort(eps, *n_out, sizeof(*eps), cmp_ep);
	*out = eps;
	return 0;
}

int cluster_endpoint_get(struct agent *a, const char *name, struct endpoint *ep)
{
	char key[128], *value = NULL;
	int ret;

	snprintf(key, sizeof(key), KEY_ENDPOINTS "%s", name);
	ret = store_get(a->store, key, &value, NULL);
	if (ret)
		return ret;
	ret = endpoint_decode(value, ep);
	free(value);
	return ret;
}

static int on_event(const struct store_event *ev, void *arg)
{
	struct agent *a = arg;

	/* An endpoint this node is migrating away: its destination's commit lands here a few
	 * ms before the answer, and a sync now would make the migration, holding the client's
	 * packets, wait for the lock. The migration points the location itself and syncs in
	 * full when it ends, committed or rolled back. */
	if (!strncmp(ev->key, KEY_ENDPOINTS, strlen(KEY_ENDPOINTS)) &&
	    migrate_held(a, ev->key + strlen(KEY_ENDPOINTS)))
		return a->stopping;
	if (!strncmp(ev->key, KEY_NODES, strlen(KEY_NODES)) ||
	    !strncmp(ev->key, KEY_ENDPOINTS, strlen(KEY_ENDPOINTS)) ||
	    !strncmp(ev->key, "/petrel/policies/", 17) || !strncmp(ev->key, "/petrel/ioam/", 13)) {
		log_debug("watch: %s %s", ev->type == STORE_PUT ? "put" : "delete", ev->key);
		pthread_mutex_lock(&a->lock);
		cluster_sync(a);
		pthread_mutex_unlock(&a->lock);
	}
	return a->stopping;
}

static void nap(struct agent *a, int ms)
{
	for (int i = 0; i < ms / 100 && !a->stopping; i++)
		usleep(100 * 1000);
}

static void *watch_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		struct store_kv *kvs = NULL;
		size_t n = 0;
		int64_t rev = 0;
		int ret;

		/* A full sync before each (re)watch closes any gap while the watch was down. */
		ret = store_list(a->store, "/petrel/", &kvs, &n, &rev);
		store_kvs_free(kvs, n);
		if (!ret) {
			pthread_mutex_lock(&a->lock);
			cluster_sync(a);
			pthread_mutex_unlock(&a->lock);
			ret = store_watch(a->store, "/petrel/", rev + 1, on_event, a);
		}
		if (!a->stopping) {
			log_warn("cluster watch ended (%s); retrying", strerror(-ret));
			nap(a, 1000);
		}
	}
	return NULL;
}

static void *keepalive_main(void *arg)
{
	struct agent *a = arg;
	char key[128];

	snprintf(key, sizeof(key), KEY_ALIVE "%s", a->cfg.node);
	while (!a->stopping) {
		nap(a, NODE_LEASE_TTL * 1000 / 3);
		if (a->stopping)
			break;
		if (store_lease_keepalive(a->store, a->lease) == 0)
			continue;
		/* Lease expired (etcd was down longer than the TTL): take a new one. */
		if (store_lease_grant(a->store, NODE_LEASE_TTL, &a->lease) == 0 &&
		    store_put(a->store, key, "1", a->lease) == 0)
			log_info("liveness lease renewed after expiry");
	}
	return NULL;
}

int cluster_threads_start(struct agent *a)
{
	if (strcmp(store_backend(a->store), "etcd"))
		return 0;   /* single node: every change is local and synced in place */
	if (pthread_create(&a->watch_thread, NULL, watch_main, a))
		return -errno;
	if (pthread_create(&a->keepalive_thread, NULL, keepalive_main, a)) {
		a->stopping = 1;
		store_watch_stop(a->store);
		pthread_join(a->watch_thread, NULL);
		return -errno;
	}
	a->threads_started = true;
	return 0;
}

void cluster_threads_stop(struct agent *a)
{
	if (!a->threads_started)
		return;
	a->stopping = 1;
	store_watch_stop(a->store);
	pthread_join(a->watch_thread, NULL);
	pthread_join(a->keepalive_thread, NULL);
	a->threads_started = false;
}
