/* Relayed flows: a flow that another node translates for an endpoint that has since moved
 * here (its return_flows entry sends the endpoint's packets back through that node), and,
 * seen from the other side, a flow this node translates for an endpoint that moved away.
 * Two kinds: clients that came in through a published port (DNAT), and the endpoint's own
 * connections out of the cluster (masqueraded, SNAT). See docs/migration.md.
 *
 * How long: the translating node's conntrack is the source of truth. Every
 * RELAY_CHECK_MS this node asks each node it relays through which of those flows its
 * conntrack still holds; the rest leave the map, so a later flow with the same addresses
 * and ports is a new flow of this node's. A node that left the cluster took its
 * conntrack with it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include "migration.h"
#include "cluster_cache.h"
#include "conntrack.h"
#include "datapath.h"
#include "log.h"

#define RELAY_CHECK_MS 10000
#define RELAY_BATCH 4096               /* flows per question: a peer line stays < 1 MiB */

static struct {
	pthread_t thread;
	bool running;
	_Atomic uint64_t expired, checks_failed;
} relays;

/* ---- the node that translates: which flows its conntrack still holds ---------------- */

static int addr_cmp(const void *x, const void *y)
{
	const struct ip_addr *a = x, *b = y;

	return a->family != b->family ? a->family - b->family : memcmp(a->bytes, b->bytes, 16);
}

static int flow_cmp(const void *x, const void *y)
{
	const struct ct_flow *a = x, *b = y;
	int c = addr_cmp(&a->ep, &b->ep);

	if (c || (c = addr_cmp(&a->peer, &b->peer)))
		return c;
	if (a->proto != b->proto)
		return a->proto - b->proto;
	if (a->ep_port != b->ep_port)
		return a->ep_port - b->ep_port;
	return a->peer_port - b->peer_port;
}


struct asked {
	struct ip_addr *eps;               /* sorted, distinct */
	size_t n;
};

static bool is_asked(const struct ip_addr *ep, void *arg)
{
	const struct asked *q = arg;
	struct ip_addr key = { 0 };

	key.family = ep->family;
	memcpy(key.bytes, ep->bytes, ep->family == AF_INET ? 4 : 16);
	return bsearch(&key, q->eps, q->n, sizeof(*q->eps), addr_cmp) != NULL;
}

static json_t *flow_tuple(uint8_t proto, const struct ip_addr *ep, uint16_t ep_port,
			  const struct ip_addr *peer, uint16_t peer_port)
{
	char b1[IP_STRLEN], b2[IP_STRLEN];

	return json_pack("[i, s, i, s, i]", proto, ip_str(ep, b1), ep_port, ip_str(peer, b2), peer_port);
}

static int tuple_parse(json_t *t, struct ct_flow *f)
{
	json_int_t proto = json_integer_value(json_array_get(t, 0));
	json_int_t p1 = json_integer_value(json_array_get(t, 2));
	json_int_t p2 = json_integer_value(json_array_get(t, 4));

	memset(f, 0, sizeof(*f));
	if (json_array_size(t) != 5 || (proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    p1 < 1 || p1 > 65535 || p2 < 1 || p2 > 65535 ||
	    ip_parse(json_string_value(json_array_get(t, 1)) ?: "", &f->ep) ||
	    ip_parse(json_string_value(json_array_get(t, 3)) ?: "", &f->peer) ||
	    f->ep.family != f->peer.family)
		return -EINVAL;
	f->proto = (uint8_t)proto;
	f->ep_port = (uint16_t)p1;
	f->peer_port = (uint16_t)p2;
	return 0;
}

static int node_ip4(struct agent *a, const char *node, struct ip_addr *ip4)
{
	char *v = NULL;
	struct cc_node n;
	int ret = cluster_get(a, CC_NODE, node, &v);

	if (!ret)
		ret = cc_node_decode(v, &n);
	free(v);
	if (!ret)
		*ip4 = n.ip4;
	return ret;
}

/* A peer may ask only about endpoints that cluster state places on it: this node's
 * conntrack is no one else's business. */
static bool located_at(struct agent *a, const struct ip_addr *ep, const struct ip_addr *node4)
{
	struct ip_addr at;

	return datapath_location_lookup(a->dp, ep, &at) == 0 && ip_equal(&at, node4);
}

static void serve_relay_check(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	json_t *flows = json_object_get(hello, "flows"), *alive, *t;
	size_t n = json_array_size(flows), i, n_ct = 0;
	struct ct_flow *asked = NULL, *ct = NULL;
	struct asked q = { 0 };
	struct ip_addr peer4;

	if (a->cfg.backend != BACKEND_EBPF || !json_is_array(flows) || n > RELAY_BATCH) {
		peer_reply_error(ssl, "a relay check names at most %d flows", RELAY_BATCH);
		return;
	}
	if (node_ip4(a, peer, &peer4)) {
		peer_reply_error(ssl, "node %s is not in this node's cluster state", peer);
		return;
	}
	asked = calloc(n + 1, sizeof(*asked));
	q.eps = calloc(n + 1, sizeof(*q.eps));
	alive = json_array();
	if (!asked || !q.eps || !alive)
		goto out;
	/* Per flow: true (conntrack holds it), false (it ended), or null for a malformed
	 * flow or an endpoint not on the peer, which the peer must not take for "ended": a
	 * destination asks before the location flips to it, while the migration commits. */
	json_array_foreach(flows, i, t)
		if (tuple_parse(t, &asked[i]) == 0 && located_at(a, &asked[i].ep, &peer4))
			q.eps[q.n++] = asked[i].ep;
		else
			asked[i].proto = 0;
	if (q.n) {
		qsort(q.eps, q.n, sizeof(*q.eps), addr_cmp);
		if (ct_nat_flows(is_asked, &q, &ct, &n_ct)) {
			peer_reply_error(ssl, "cannot read conntrack on node %s", a->cfg.node);
			goto out;
		}
		if (n_ct)
			qsort(ct, n_ct, sizeof(*ct), flow_cmp);
	}
	for (i = 0; i < n; i++)
		json_array_append_new(alive, !asked[i].proto ? json_null() :
			json_boolean(n_ct && bsearch(&asked[i], ct, n_ct, sizeof(*ct), flow_cmp)));
	peer_send(ssl, json_pack("{s:O}", "alive", alive));
out:
	json_decref(alive);
	free(asked);
	free(q.eps);
	free(ct);
}

/* ---- the node that relays: ask, and let go of the flows that ended ------------------- */

struct held {
	struct dp_return_flow *v;
	size_t n, cap;
};

static int collect(const struct dp_return_flow *f, void *arg)
{
	struct held *h = arg;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct dp_return_flow *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = *f;
	return 0;
}

static int by_node(const void *x, const void *y)
{
	return memcmp(((const struct dp_return_flow *)x)->node4.bytes,
		      ((const struct dp_return_flow *)y)->node4.bytes, 4);
}

static void expire(struct agent *a, const struct dp_return_flow *f, const char *why)
{
	char b1[IP_STRLEN], b2[IP_STRLEN];

	if (datapath_return_flow_delete(a->dp, f))
		return;
	relays.expired++;
	log_info("relay: %s %s:%u <-> %s:%u %s", f->proto == IPPROTO_TCP ? "tcp" : "udp",
		 ip_str(&f->ep, b1), f->ep_port, ip_str(&f->peer, b2), f->peer_port, why);
}

/* Ask node about flows v[0..n): each it no longer holds leaves the map. */
static void check_batch(struct agent *a, const char *node, const struct dp_return_flow *v, size_t n)
{
	json_t *flows = json_array(), *hello, *reply = NULL, *alive;
	struct api_error e = { 0 };
	SSL *ssl;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(flows, flow_tuple(v[i].proto, &v[i].ep, v[i].ep_port, &v[i].peer,
							v[i].peer_port));
	hello = json_pack("{s:s, s:o}", "op", "relay-check", "flows", flows);
	ssl = peer_dial(a, node, hello, &e);
	json_decref(hello);
	if (ssl) {
		reply = peer_recv(ssl);
		tls_close(ssl);
	}
	alive = json_object_get(reply, "alive");
	if (json_array_size(alive) != n) {
		/* Unreachable or confused: keep relaying, ask again next round. */
		relays.checks_failed++;
		log_warn("relay: cannot check %zu flows with node %s: %s", n, node,
			 ssl ? json_string_value(json_object_get(reply, "error")) ?: "no answer" : e.msg);
	} else {
		for (size_t i = 0; i < n; i++)
			if (json_is_false(json_array_get(alive, i)))
				expire(a, &v[i], "ended on its translating node: no longer relayed");
	}
	json_decref(reply);
}

static void check_round(struct agent *a)
{
	struct held h = { 0 };
	char node[EP_NAME_MAX];

	if (datapath_return_flows_foreach(a->dp, NULL, collect, &h) || !h.n) {
		free(h.v);
		return;
	}
	qsort(h.v, h.n, sizeof(*h.v), by_node);
	for (size_t i = 0, j; i < h.n && !a->stopping; i = j) {
		for (j = i + 1; j < h.n && !by_node(&h.v[i], &h.v[j]); j++)
			;
		if (!cluster_node_at(a, &h.v[i].node4, node, sizeof(node))) {
			for (size_t k = i; k < j; k++)
				expire(a, &h.v[k], "relayed through a node that left the cluster");
			continue;
		}
		for (size_t k = i; k < j && !a->stopping; k += RELAY_BATCH)
			check_batch(a, node, &h.v[k], j - k < RELAY_BATCH ? j - k : RELAY_BATCH);
	}
	free(h.v);
}

static void *relays_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		for (int t = 0; t < RELAY_CHECK_MS / 100 && !a->stopping; t++)
			usleep(100 * 1000);
		if (!a->stopping)
			check_round(a);
	}
	return NULL;
}

int relays_register(struct agent *a)
{
	(void)a;
	return peer_register("relay-check", serve_relay_check);
}

int relays_start(struct agent *a)
{
	if (a->cfg.backend != BACKEND_EBPF || !a->peer)
		return 0;              /* no return flows or no peers: nothing is ever relayed */
	if (pthread_create(&relays.thread, NULL, relays_main, a))
		return -errno;
	relays.running = true;
	return 0;
}

void relays_stop(struct agent *a)
{
	(void)a;
	if (relays.running)
		pthread_join(relays.thread, NULL);
	relays.running = false;
}

/* ---- GET /v1/relays ------------------------------------------------------------------ */

struct listing {
	struct agent *a;
	json_t *arr;
};

static int through_json(const struct dp_return_flow *f, void *arg)
{
	struct listing *c = arg;
	char b1[IP_STRLEN], b2[IP_STRLEN], via[EP_NAME_MAX] = "?";

	cluster_node_at(c->a, &f->node4, via, sizeof(via));
	json_array_append_new(c->arr, json_pack("{s:s, s:s, s:i, s:s, s:i, s:s}",
		"proto", f->proto == IPPROTO_TCP ? "tcp" : "udp", "endpoint", ip_str(&f->ep, b1),
		"endpoint_port", f->ep_port, "peer", ip_str(&f->peer, b2), "peer_port", f->peer_port,
		"via", via));
	return 0;
}

/* A cluster address that lives on another node now. */
static bool moved_away(const struct ip_addr *ep, void *arg)
{
	struct agent *a = arg;
	const struct cidr *pool = ep->family == AF_INET ? &a->cfg.pools.cluster4 : &a->cfg.pools.cluster6;
	struct ip_addr at;

	return pool->addr.family && cidr_contains(pool, ep) &&
	       datapath_location_lookup(a->dp, ep, &at) == 0 && !ip_equal(&at, &a->cfg.underlay4);
}

static json_t *for_json(struct agent *a)
{
	struct ct_flow *v = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (ct_nat_flows(moved_away, a, &v, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			char b1[IP_STRLEN], b2[IP_STRLEN], at[EP_NAME_MAX] = "?";
			struct ip_addr where;

			if (datapath_location_lookup(a->dp, &v[i].ep, &where) == 0)
				cluster_node_at(a, &where, at, sizeof(at));
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:i}",
				"proto", v[i].proto == IPPROTO_TCP ? "tcp" : "udp",
				"kind", v[i].nat == CT_SNAT ? "outbound" : "published",
				"endpoint", ip_str(&v[i].ep, b1), "endpoint_port", v[i].ep_port,
				"peer", ip_str(&v[i].peer, b2), "peer_port", v[i].peer_port,
				"endpoint_node", at, "expires_s", v[i].timeout));
		}
	free(v);
	return arr;
}

int relays_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	struct listing c = { a, NULL };

	if (strcmp(rq->path, "/v1/relays"))
		return 0;
	if (strcmp(rq->method, "GET"))
		return api_fail(e, 405, "use GET", "method %s not allowed on %s", rq->method, rq->path);
	if (a->cfg.backend != BACKEND_EBPF)
		return api_fail(e, 409, "relays need policy-backend = ebpf",
				"node %s relays no flows: its policy backend is iptables", a->cfg.node);
	c.arr = json_array();
	datapath_return_flows_foreach(a->dp, NULL, through_json, &c);
	*resp = json_pack("{s:s, s:o, s:o, s:I, s:I}", "node", a->cfg.node, "through", c.arr,
			  "for", for_json(a), "expired", (json_int_t)relays.expired,
			  "checks_failed", (json_int_t)relays.checks_failed);
	return 200;
}

void relays_metrics(struct agent *a, FILE *f)
{
	(void)a;
	fprintf(f, "# HELP petrel_relay_flows_expired_total Relayed flows let go because their "
		"translating node no longer held them.\n# TYPE petrel_relay_flows_expired_total counter\n"
		"petrel_relay_flows_expired_total %llu\n"
		"# HELP petrel_relay_checks_failed_total Relay checks a translating node did not answer.\n"
		"# TYPE petrel_relay_checks_failed_total counter\npetrel_relay_checks_failed_total %llu\n",
		(unsigned long long)relays.expired, (unsigned long long)relays.checks_failed);
}
