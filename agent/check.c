/* `petrel check`: the probes an operator runs on a live cluster, after `cilium connectivity
 * test`. This agent creates probe endpoints of its own; other agents, asked over the
 * mutual-TLS peer channel, each create one and answer probes until the connection closes,
 * so a check that dies midway leaves nothing behind on them. Everything is named
 * chk-ID-... and deleted at the end. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include "agent.h"
#include "cluster_cache.h"
#include "log.h"
#include "probe.h"
#include "tls.h"

#define CHECK_PORT      4000      /* the responders' port inside probe endpoints */
#define CHECK_REMOTES   3         /* datapath probes to at most this many other nodes */
#define CHECK_LABEL     "petrel.io/check"
#define PROBE_MS        1500
#define CHECK_SESSIONS  4         /* probe endpoints other nodes may hold here at once */

struct check_run {
	struct agent *a;
	char id[8];
	json_t *results;
	int failed;
};

static void record(struct check_run *c, const char *name, int ok, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* ok: 1 pass, 0 fail, -1 skipped (not applicable here, with the reason) */
	json_array_append_new(c->results, json_pack("{s:s, s:s, s:s}", "check", name, "result",
		ok > 0 ? "pass" : ok == 0 ? "fail" : "skip", "detail", detail));
	if (ok == 0)
		c->failed++;
}

/* --- probe endpoints ------------------------------------------------------------------ */

struct probe_ep {
	struct endpoint ep;
	struct probe_responder resp;
	bool created;
};

static int probe_ep_create(struct agent *a, const char *name, const char *role, uint16_t publish,
			   struct probe_ep *pe, char *err, size_t len)
{
	struct ep_request rq = { 0 };
	struct api_error e = { 0 };
	int ret;

	memset(pe, 0, sizeof(*pe));
	snprintf(rq.name, sizeof(rq.name), "%s", name);
	snprintf(rq.labels[0].key, EP_LABEL_MAX, CHECK_LABEL);
	snprintf(rq.labels[0].value, EP_LABEL_MAX, "%s", role);
	rq.n_labels = 1;
	if (publish) {
		rq.publish[0] = (struct ep_publish){ IPPROTO_TCP, publish, CHECK_PORT };
		rq.n_publish = 1;
	}
	if (endpoint_create(a, &rq, &pe->ep, &e)) {
		snprintf(err, len, "cannot create probe endpoint %s: %s", name, e.msg);
		return -EIO;
	}
	pe->created = true;
	ret = probe_responder_start(&pe->resp, pe->ep.netns, CHECK_PORT);
	if (ret)
		snprintf(err, len, "cannot start the responder in %s: %s", name, strerror(-ret));
	return ret;
}

static void probe_ep_delete(struct agent *a, struct probe_ep *pe)
{
	struct api_error e = { 0 };

	probe_responder_stop(&pe->resp);
	if (pe->created && endpoint_delete(a, pe->ep.name, &e))
		log_warn("check: cannot delete probe endpoint %s: %s", pe->ep.name, e.msg);
	pe->created = false;
}

static struct probe probe_to(const struct endpoint *from, const struct ip_addr *dst, int port,
			     bool udp, int size)
{
	struct probe p = { .port = port, .udp = udp, .size = size, .timeout_ms = PROBE_MS,
			   .mode = PROBE_ECHO };

	snprintf(p.netns, sizeof(p.netns), "%s", from->netns);
	p.dst = *dst;
	return p;
}

static json_t *probe_json(const struct probe *p)
{
	return json_pack("{s:b, s:I, s:i, s:s}", "ok", p->ok, "rtt_us", (json_int_t)p->rtt_us,
			 "bytes", p->sent, "error", p->error);
}

/* --- the peer side: a probe endpoint for as long as the connection lasts --------------- */

static atomic_int sessions;

static void serve_check(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	const char *name = json_string_value(json_object_get(hello, "endpoint"));
	struct probe_ep pe;
	char err[256], ip4[IP_STRLEN], ip6[IP_STRLEN];
	json_t *msg;

	if (json_is_true(json_object_get(hello, "ping"))) {
		peer_send(ssl, json_pack("{s:b, s:s}", "ok", 1, "node", a->cfg.node));
		return;
	}
	/* Only probe endpoints: a peer may not name anything else into being here, nor
	 * hold more than a few addresses of this node's block at once. */
	if (!name || strncmp(name, "chk-", 4) || !name_valid(name)) {
		peer_reply_error(ssl, "a check endpoint's name starts with chk-");
		return;
	}
	if (atomic_fetch_add(&sessions, 1) >= CHECK_SESSIONS) {
		atomic_fetch_sub(&sessions, 1);
		peer_reply_error(ssl, "node %s already serves %d checks", a->cfg.node, CHECK_SESSIONS);
		return;
	}
	if (probe_ep_create(a, name, "remote", 0, &pe, err, sizeof(err))) {
		peer_reply_error(ssl, "%s", err);
		probe_ep_delete(a, &pe);
		atomic_fetch_sub(&sessions, 1);
		return;
	}
	log_info("check: probe endpoint %s for node %s", name, peer);
	peer_send(ssl, json_pack("{s:b, s:s, s:s}", "ok", 1, "ipv4", ip_str(&pe.ep.ip4, ip4),
				 "ipv6", ip_str(&pe.ep.ip6, ip6)));
	/* Then probes from it, one request per line, until the checking node hangs up. */
	while ((msg = peer_recv(ssl))) {
		struct ip_addr dst;
		struct probe p;

		if (ip_parse(json_string_value(json_object_get(msg, "address")) ?: "", &dst)) {
			json_decref(msg);
			break;
		}
		p = probe_to(&pe.ep, &dst, (int)json_integer_value(json_object_get(msg, "port")),
			     json_is_true(json_object_get(msg, "udp")), 64);
		probe_run(&p);
		json_decref(msg);
		if (peer_send(ssl, probe_json(&p)))
			break;
	}
	probe_ep_delete(a, &pe);
	atomic_fetch_sub(&sessions, 1);
}

int check_register(struct agent *a)
{
	return peer_register("check", serve_check);
}

/* --- the checking side ------------------------------------------------------------------- */

struct remote {
	char node[EP_NAME_MAX];
	SSL *ssl;
	struct ip_addr ip4, ip6;
};

struct node_list {
	char (*names)[EP_NAME_MAX];
	size_t n, cap;
};

static int collect_node(const struct cc_entry *e, void *arg)
{
	struct node_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *v = realloc(l->names, cap * sizeof(*l->names));

		if (!v)
			return -ENOMEM;
		l->names = v;
		l->cap = cap;
	}
	snprintf(l->names[l->n++], EP_NAME_MAX, "%s", e->name);
	return 0;
}

/* Every node's agent, asked over the peer channel, CHECK_DIALERS at a time: a cluster of
 * unreachable nodes costs its size / CHECK_DIALERS times the dial timeout, not its size. */
#define CHECK_DIALERS 16

struct agent_ping {
	const char *node;
	int ok;                  /* 1 answers, 0 does not, as record() takes it */
	char detail[320];
};

struct ping_pool {
	struct check_run *c;
	struct agent_ping *v;
	size_t n;
	_Atomic size_t next;
};

/* One node's agent; the store's liveness record beside it. */
static void ping_one(struct check_run *c, struct agent_ping *r)
{
	char *v = NULL;
	bool alive = cluster_get(c->a, CC_ALIVE, r->node, &v) == 0;
	struct api_error e = { 0 };
	json_t *hello, *reply = NULL;
	SSL *ssl;

	free(v);
	if (!strcmp(r->node, c->a->cfg.node)) {
		r->ok = 1;
		snprintf(r->detail, sizeof(r->detail), "this agent, answering");
		return;
	}
	if (!c->a->peer) {
		r->ok = alive;
		snprintf(r->detail, sizeof(r->detail), "%s in cluster state (no TLS here to ask it "
			 "directly)", alive ? "alive" : "not alive");
		return;
	}
	hello = json_pack("{s:s, s:b}", "op", "check", "ping", 1);
	ssl = peer_dial(c->a, r->node, hello, &e);
	json_decref(hello);
	if (ssl)
		reply = peer_recv(ssl);
	r->ok = ssl && json_is_true(json_object_get(reply, "ok"));
	if (r->ok)
		snprintf(r->detail, sizeof(r->detail), "answers over mutual TLS%s",
			 alive ? "" : " (its liveness record lapsed)");
	else
		snprintf(r->detail, sizeof(r->detail), "node %s does not answer: %s", r->node,
			 ssl ? "no reply" : e.msg);
	json_decref(reply);
	if (ssl)
		tls_close(ssl);
}

static void *ping_worker(void *arg)
{
	struct ping_pool *pool = arg;
	size_t i;

	while ((i = pool->next++) < pool->n)
		ping_one(pool->c, &pool->v[i]);
	return NULL;
}

static void check_agents(struct check_run *c, struct node_list *nodes)
{
	struct ping_pool pool = { .c = c, .n = nodes->n };
	pthread_t t[CHECK_DIALERS];
	size_t n_threads = 0;
	char name[96];

	pool.v = calloc(nodes->n + 1, sizeof(*pool.v));
	if (!pool.v) {
		record(c, "agents", 0, "out of memory");
		return;
	}
	for (size_t i = 0; i < nodes->n; i++)
		pool.v[i].node = nodes->names[i];
	while (n_threads < CHECK_DIALERS && n_threads < nodes->n &&
	       !pthread_create(&t[n_threads], NULL, ping_worker, &pool))
		n_threads++;
	if (!n_threads)
		ping_worker(&pool);          /* no thread to spare: one at a time, here */
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(t[i], NULL);
	/* In the nodes' order, from this thread: the results array is not shared. */
	for (size_t i = 0; i < nodes->n; i++) {
		snprintf(name, sizeof(name), "agent %s", pool.v[i].node);
		record(c, name, pool.v[i].ok, "%s", pool.v[i].detail);
	}
	free(pool.v);
}

static int remote_open(struct check_run *c, const char *node, int k, struct remote *r)
{
	struct api_error e = { 0 };
	char name[EP_NAME_MAX];
	json_t *hello, *reply;
	int ok;

	memset(r, 0, sizeof(*r));
	snprintf(r->node, sizeof(r->node), "%s", node);
	snprintf(name, sizeof(name), "chk-%s-r%d", c->id, k);
	hello = json_pack("{s:s, s:s}", "op", "check", "endpoint", name);
	r->ssl = peer_dial(c->a, node, hello, &e);
	json_decref(hello);
	if (!r->ssl)
		return -EIO;
	reply = peer_recv(r->ssl);
	ok = json_is_true(json_object_get(reply, "ok")) &&
	     !ip_parse(json_string_value(json_object_get(reply, "ipv4")) ?: "", &r->ip4) &&
	     !ip_parse(json_string_value(json_object_get(reply, "ipv6")) ?: "", &r->ip6);
	if (!ok) {
		record(c, "probe endpoint", 0, "node %s could not make one: %s", node,
		       json_string_value(json_object_get(reply, "error")) ?: "no reply");
		tls_close(r->ssl);
		r->ssl = NULL;
	}
	json_decref(reply);
	return ok ? 0 : -EIO;
}

static void datapath_probes(struct check_run *c, const struct endpoint *from, const char *where,
			    const struct ip_addr *ip4, const struct ip_addr *ip6)
{
	static const struct { bool v6, udp; const char *what; } kinds[] = {
		{ false, false, "TCP over IPv4" }, { true, false, "TCP over IPv6" },
		{ false, true, "UDP over IPv4" }, { true, true, "UDP over IPv6" },
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct probe p = probe_to(from, kinds[k].v6 ? ip6 : ip4, CHECK_PORT, kinds[k].udp, 64);
		char name[128];

		probe_run(&p);
		snprintf(name, sizeof(name), "%s, %s", where, kinds[k].what);
		if (p.ok)
			record(c, name, 1, "echo in %ld us", p.rtt_us);
		else
			record(c, name, 0, "%s", p.error);
	}
}

static void mtu_probe(struct check_run *c, const struct endpoint *from, const struct remote *r)
{
	struct probe p = probe_to(from, &r->ip4, CHECK_PORT, true, -1);

	probe_run(&p);
	if (p.ok)
		record(c, "MTU", 1, "a %d-byte UDP datagram with DF set, to node %s and back", p.sent, r->node);
	else
		record(c, "MTU", 0, "%d bytes with DF set to node %s: %s (is underlay-mtu right?)",
		       p.sent, r->node, p.error);
}

/* From a remote probe endpoint, in through this node's published port. */
static void publish_probe(struct check_run *c, const struct remote *r, uint16_t host_port)
{
	char ip[IP_STRLEN];
	json_t *reply;

	peer_send(r->ssl, json_pack("{s:s, s:i, s:b}", "address", ip_str(&c->a->cfg.underlay4, ip),
				    "port", host_port, "udp", 0));
	reply = peer_recv(r->ssl);
	if (json_is_true(json_object_get(reply, "ok")))
		record(c, "in through a published port", 1, "node %s → %s:%u → probe endpoint, echo in %lld us",
		       r->node, ip, host_port, (long long)json_integer_value(json_object_get(reply, "rtt_us")));
	else
		record(c, "in through a published port", 0, "node %s → %s:%u: %s", r->node, ip, host_port,
		       json_string_value(json_object_get(reply, "error")) ?: "no reply");
	json_decref(reply);
}

static void outside_probe(struct check_run *c, const struct endpoint *from, const char *outside)
{
	char host[64];
	const char *colon = outside ? strrchr(outside, ':') : NULL;
	struct probe p = { .mode = PROBE_CONNECT, .timeout_ms = PROBE_MS };

	if (!outside) {
		record(c, "to the outside", -1, "give --outside ADDRESS:PORT, a TCP server outside the cluster");
		return;
	}
	snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - outside) : 0, outside);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	p.port = colon ? atoi(colon + 1) : 0;
	if (ip_parse(host, &p.dst) || p.port < 1 || p.port > 65535) {
		record(c, "to the outside", 0, "'%s' is not ADDRESS:PORT", outside);
		return;
	}
	snprintf(p.netns, sizeof(p.netns), "%s", from->netns);
	probe_run(&p);
	if (p.ok)
		record(c, "to the outside", 1, "TCP connection to %s in %ld us (masqueraded)", outside, p.rtt_us);
	else
		record(c, "to the outside", 0, "%s: %s", outside, p.error);
}

/* A policy selecting only the target must stop what reached it a moment before. */
static void deny_probe(struct check_run *c, const struct endpoint *from, const struct endpoint *target)
{
	char key[128], text[512];
	struct probe p = probe_to(from, &target->ip4, CHECK_PORT, false, 64);
	int ret;

	probe_run(&p);
	if (!p.ok) {
		record(c, "a policy that must deny", 0, "the target was unreachable before the policy: %s", p.error);
		return;
	}
	snprintf(key, sizeof(key), KEY_POLICIES "chk-%s", c->id);
	snprintf(text, sizeof(text), "{\"name\":\"chk-%s\",\"endpointSelector\":{\"matchLabels\":"
		 "{\"" CHECK_LABEL "\":\"deny-%s\"}},\"ingress\":[]}", c->id, c->id);
	ret = store_put(c->a->operator_store, key, text, 0);
	if (ret == -EACCES) {
		record(c, "a policy that must deny", -1, "this node's etcd user may not write policies "
		       "(no etcd-operator-user here): run the check on a node that has one");
		return;
	}
	if (!ret)
		ret = cluster_catch_up(c->a) ?: policy_last_error();
	if (ret) {
		record(c, "a policy that must deny", 0, "cannot apply the probe policy: %s", strerror(-ret));
	} else {
		p = probe_to(from, &target->ip4, CHECK_PORT, false, 64);
		p.timeout_ms = 800;
		probe_run(&p);
		record(c, "a policy that must deny", !p.ok, p.ok ? "policy chk-%s let the probe through" :
		       "policy chk-%s (ingress: []) stopped a connection that passed before it", c->id);
	}
	store_delete(c->a->operator_store, key);
	cluster_catch_up(c->a);
}

static void run(struct check_run *c, const char *outside)
{
	struct probe_ep client = { 0 }, server = { 0 }, target = { 0 };
	struct node_list nodes = { 0 };
	struct remote remotes[CHECK_REMOTES];
	uint16_t host_port = (uint16_t)(40000 + (unsigned)rand() % 20000);
	char name[EP_NAME_MAX], role[32], err[256], detail[256];
	int n_remote = 0;

	cluster_foreach(c->a, CC_NODE, collect_node, &nodes);
	check_agents(c, &nodes);
	snprintf(name, sizeof(name), "chk-%s-c", c->id);
	if (probe_ep_create(c->a, name, "client", 0, &client, err, sizeof(err))) {
		record(c, "probe endpoints", 0, "%s", err);
		goto out;
	}
	snprintf(name, sizeof(name), "chk-%s-s", c->id);
	/* Its published port is picked at random: another try if something holds it. */
	for (int tries = 0; probe_ep_create(c->a, name, "server", host_port, &server, err, sizeof(err)); tries++) {
		probe_ep_delete(c->a, &server);
		if (tries == 2) {
			record(c, "probe endpoints", 0, "%s", err);
			goto out;
		}
		host_port = (uint16_t)(40000 + (unsigned)rand() % 20000);
	}
	datapath_probes(c, &client.ep, "same node", &server.ep.ip4, &server.ep.ip6);
	for (size_t i = 0; i < nodes.n && n_remote < CHECK_REMOTES; i++)
		if (strcmp(nodes.names[i], c->a->cfg.node) && c->a->peer &&
		    remote_open(c, nodes.names[i], n_remote, &remotes[n_remote]) == 0)
			n_remote++;
	for (int k = 0; k < n_remote; k++) {
		char where[96];

		snprintf(where, sizeof(where), "across nodes to %s", remotes[k].node);
		datapath_probes(c, &client.ep, where, &remotes[k].ip4, &remotes[k].ip6);
	}
	if (n_remote) {
		mtu_probe(c, &client.ep, &remotes[0]);
		publish_probe(c, &remotes[0], host_port);
	} else {
		record(c, "across nodes", -1, "no other node answered with a probe endpoint");
		record(c, "MTU", -1, "needs a second node");
		record(c, "in through a published port", -1, "needs a second node to come from");
	}
	outside_probe(c, &client.ep, outside);
	snprintf(name, sizeof(name), "chk-%s-d", c->id);
	snprintf(role, sizeof(role), "deny-%s", c->id);
	if (probe_ep_create(c->a, name, role, 0, &target, err, sizeof(err)))
		record(c, "a policy that must deny", 0, "%s", err);
	else
		deny_probe(c, &client.ep, &target.ep);
	record(c, "stack latency probes", latency_check_attach(c->a, client.ep.name, detail, sizeof(detail)) == 0,
	       "%s", detail);
out:
	for (int k = 0; k < n_remote; k++)
		tls_close(remotes[k].ssl);       /* the other agent deletes its endpoint */
	probe_ep_delete(c->a, &target);
	probe_ep_delete(c->a, &server);
	probe_ep_delete(c->a, &client);
	free(nodes.names);
}

int check_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
	struct check_run c = { .a = a, .results = json_array() };
	const char *outside;

	if (strcmp(rq->path, "/v1/check")) {
		json_decref(c.results);
		return 0;
	}
	if (strcmp(rq->method, "POST")) {
		json_decref(c.results);
		return api_fail(e, 405, "use POST", "method %s not allowed on %s", rq->method, rq->path);
	}
	outside = json_string_value(json_object_get(rq->body, "outside"));
	if (pthread_mutex_trylock(&one)) {
		json_decref(c.results);
		return api_fail(e, 409, "wait for it to finish", "a check is already running on node %s",
				a->cfg.node);
	}
	srand((unsigned)time(NULL) ^ (unsigned)(uintptr_t)&c);
	snprintf(c.id, sizeof(c.id), "%06x", (unsigned)rand() & 0xffffff);
	log_info("check %s: starting", c.id);
	run(&c, outside);
	pthread_mutex_unlock(&one);
	log_info("check %s: %d failed", c.id, c.failed);
	*resp = json_pack("{s:s, s:s, s:o, s:i}", "id", c.id, "node", a->cfg.node, "checks", c.results,
			  "failed", c.failed);
	return 200;
}
