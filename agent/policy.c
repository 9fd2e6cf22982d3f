/* Policies in the agent: the API (apply, list, show, delete), compilation of every policy
 * for this node's endpoints into the datapath's maps, and the flow log that says which
 * policy and rule decided each flow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "agent.h"
#include "bpf/datapath.h"
#include "identity.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define KEY_POLICIES "/petrel/policies/"
#define FLOW_RING 4096

/* What flow events need to be named: refreshed by every policy sync, under the lock. */
struct names {
	struct { uint32_t id; char name[POLICY_NAME_MAX]; } *policies;
	size_t n_policies;
	struct { uint32_t id; char name[EP_NAME_MAX]; } *eps;
	size_t n_eps;
	struct { uint32_t identity; char labels[512]; } *ids;
	size_t n_ids;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *ring[FLOW_RING];
	uint64_t seq;                  /* events ever recorded */
	struct names names;
	pthread_t thread;
	bool running;
} flows = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

uint32_t policy_id_of(const char *name)
{
	return fnv1a32(name) | 1;      /* never 0: 0 stands for default-deny */
}

static int load_policies(struct agent *a, struct policy **out, size_t *n)
{
	struct store_kv *kvs = NULL;
	size_t nk = 0;
	struct policy *all = NULL;
	int ret;

	*n = 0;
	*out = NULL;
	ret = store_list(a->store, KEY_POLICIES, &kvs, &nk, NULL);
	if (ret)
		return ret;
	all = calloc(nk + 1, sizeof(*all));
	for (size_t i = 0; all && i < nk; i++) {
		struct policy *p;
		size_t np;
		char err[256];

		if (policy_parse(kvs[i].value, kvs[i].key, &p, &np, err, sizeof(err)) == 0) {
			if (np == 1) {
				all[(*n)++] = p[0];
				free(p);
			} else {
				policy_free(p, np);
			}
		} else {
			log_warn("ignoring stored policy: %s", err);
		}
	}
	store_kvs_free(kvs, nk);
	*out = all;
	return all ? 0 : -ENOMEM;
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;

	if (x->addr.family != y->addr.family)
		return x->addr.family - y->addr.family;
	if (x->prefixlen != y->prefixlen)
		return x->prefixlen - y->prefixlen;
	return memcmp(x->addr.bytes, y->addr.bytes, 16);
}

/* CIDRs named by policies get node-local identities: sorted and deduplicated, so the
 * numbering is stable for a given set of policies. Caller frees *out. */
static int collect_cidrs(const struct policy *p, size_t n, struct cidr **out)
{
	size_t count = 0, total = 0, w = 0;
	struct cidr *v;

	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < p[i].n_rules; r++)
			total += (size_t)p[i].rules[r].n_cidrs;
	v = calloc(total + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < p[i].n_rules; r++)
			for (int c = 0; c < p[i].rules[r].n_cidrs; c++)
				if (p[i].rules[r].cidrs[c].prefixlen)   /* /0 is world */
					v[count++] = p[i].rules[r].cidrs[c];
	qsort(v, count, sizeof(*v), cmp_cidr);
	for (size_t i = 0; i < count; i++)
		if (w == 0 || cmp_cidr(&v[w - 1], &v[i]))
			v[w++] = v[i];
	if (w > IDENTITY_MAX_CIDRS)
		w = IDENTITY_MAX_CIDRS;
	*out = v;
	return (int)w;
}

struct ipc_want {
	struct cidr prefix;
	uint32_t identity;
};

static int ipc_stale(const struct cidr *prefix, uint32_t identity, void *arg)
{
	struct { struct ipc_want *w; size_t n; struct cidr *stale; size_t n_stale, cap; } *s = arg;

	for (size_t i = 0; i < s->n; i++)
		if (s->w[i].prefix.prefixlen == prefix->prefixlen && ip_equal(&s->w[i].prefix.addr, &prefix->addr))
			return 0;
	if (s->n_stale == s->cap) {
		void *ns = realloc(s->stale, (s->cap = s->cap ? s->cap * 2 : 64) * sizeof(*s->stale));
		if (!ns)
			return -ENOMEM;
		s->stale = ns;
	}
	s->stale[s->n_stale++] = *prefix;
	return 0;
}

static void names_free(struct names *n)
{
	free(n->policies);
	free(n->eps);
	free(n->ids);
	memset(n, 0, sizeof(*n));
}

int policy_sync(struct agent *a)
{
	struct policy *pols = NULL;
	struct endpoint *eps = NULL;
	size_t n_pols = 0, n_eps = 0, n_subj = 0, n_ids = 0, n_ipc = 0;
	struct policy_subject *subj = NULL;
	struct identity_ref *ids = NULL;
	struct ipc_want *ipc = NULL;
	struct cidr *cidrs = NULL;
	struct policy_compiled comp = { 0 };
	struct dp_policy_entry *entries = NULL;
	struct dp_enforce *enf = NULL;
	struct names names = { 0 };
	int n_cidrs, ret;

	if ((ret = load_policies(a, &pols, &n_pols)) || (ret = cluster_endpoints(a, &eps, &n_eps)))
		goto out;
	n_cidrs = collect_cidrs(pols, n_pols, &cidrs);
	if (n_cidrs < 0) {
		ret = n_cidrs;
		goto out;
	}
	subj = calloc(n_eps + 1, sizeof(*subj));
	ids = calloc(n_eps + (size_t)n_cidrs + 3, sizeof(*ids));
	ipc = calloc(2 * n_eps + (size_t)n_cidrs + 1, sizeof(*ipc));
	names.eps = calloc(n_eps + 1, sizeof(*names.eps));
	names.ids = calloc(n_eps + (size_t)n_cidrs + 3, sizeof(*names.ids));
	names.policies = calloc(n_pols + 1, sizeof(*names.policies));
	if (!subj || !ids || !ipc || !names.eps || !names.ids || !names.policies) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_eps; i++) {
		const struct endpoint *ep = &eps[i];
		bool known = false;

		if (!strcmp(ep->node, a->cfg.node)) {
			subj[n_subj++] = (struct policy_subject){ ep->id, ep->labels, ep->n_labels };
			names.eps[names.n_eps].id = ep->id;
			snprintf(names.eps[names.n_eps++].name, EP_NAME_MAX, "%s", ep->name);
		}
		for (size_t k = 0; k < n_ids && !known; k++)
			known = ids[k].identity == ep->identity;
		if (!known && ep->identity) {
			ids[n_ids] = (struct identity_ref){ .identity = ep->identity, .labels = ep->labels,
							    .n_labels = ep->n_labels };
			names.ids[names.n_ids].identity = ep->identity;
			identity_canonical(ep->labels, ep->n_labels, names.ids[names.n_ids].labels,
					   sizeof(names.ids[0].labels));
			names.n_ids++;
			n_ids++;
		}
		if (ep->ip4.family)
			ipc[n_ipc++] = (struct ipc_want){ { ep->ip4, 32 }, ep->identity };
		if (ep->ip6.family)
			ipc[n_ipc++] = (struct ipc_want){ { ep->ip6, 128 }, ep->identity };
	}
	for (int c = 0; c < n_cidrs; c++) {
		uint32_t id = IDENTITY_FIRST_CIDR + (uint32_t)c;
		char buf[CIDR_STRLEN];

		ids[n_ids].identity = id;
		ids[n_ids++].cidr = cidrs[c];
		ipc[n_ipc++] = (struct ipc_want){ cidrs[c], id };
		names.ids[names.n_ids].identity = id;
		snprintf(names.ids[names.n_ids++].labels, sizeof(names.ids[0].labels), "cidr:%s",
			 cidr_str(&cidrs[c], buf));
	}
	ids[n_ids].identity = IDENTITY_WORLD;
	cidr_parse("0.0.0.0/0", &ids[n_ids++].cidr);
	ids[n_ids].identity = IDENTITY_WORLD;
	cidr_parse("::/0", &ids[n_ids++].cidr);
	for (size_t i = 0; i < n_pols; i++) {
		names.policies[i].id = policy_id_of(pols[i].name);
		snprintf(names.policies[i].name, POLICY_NAME_MAX, "%s", pols[i].name);
	}
	names.n_policies = n_pols;

	/* ipcache first: a new policy's peers must be identifiable before it is enforced. */
	for (size_t i = 0; i < n_ipc; i++)
		datapath_ipcache_upsert(a->dp, &ipc[i].prefix, ipc[i].identity);
	struct { struct ipc_want *w; size_t n; struct cidr *stale; size_t n_stale, cap; } st = { ipc, n_ipc, NULL, 0, 0 };
	datapath_ipcache_foreach(a->dp, ipc_stale, &st);
	for (size_t i = 0; i < st.n_stale; i++)
		datapath_ipcache_delete(a->dp, &st.stale[i]);
	free(st.stale);

	ret = policy_compile(pols, n_pols, subj, n_subj, ids, n_ids, &comp);
	if (ret)
		goto out;
	entries = calloc(comp.n + 1, sizeof(*entries));
	enf = calloc(comp.n_enforce + 1, sizeof(*enf));
	if (!entries || !enf) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < comp.n; i++) {
		const struct policy_entry *e = &comp.entries[i];
		entries[i] = (struct dp_policy_entry){
			.ep_id = e->ep_id, .identity = e->identity, .dir = e->dir, .proto = e->proto,
			.port = e->port, .port_bits = e->port_bits, .verdict = e->verdict,
			.rule = e->rule_idx, .policy_id = policy_id_of(pols[e->policy_idx].name),
		};
	}
	for (size_t i = 0; i < comp.n_enforce; i++)
		enf[i] = (struct dp_enforce){ comp.enforce[i].ep_id, comp.enforce[i].ingress,
					      comp.enforce[i].egress };
	if (a->cfg.backend == BACKEND_IPTABLES) {
		struct classic_peers peers = { .v = calloc(n_ipc + 3, sizeof(*peers.v)) };
		struct endpoint *local = calloc(n_eps + 1, sizeof(*local));
		size_t n_local = 0;

		for (size_t i = 0; peers.v && i < n_ipc; i++) {
			peers.v[peers.n].prefix = ipc[i].prefix;
			peers.v[peers.n++].identity = ipc[i].identity;
		}
		/* iptables has no "world": rules for it match any source (a known difference). */
		if (peers.v) {
			cidr_parse("0.0.0.0/0", &peers.v[peers.n].prefix);
			peers.v[peers.n++].identity = IDENTITY_WORLD;
			cidr_parse("::/0", &peers.v[peers.n].prefix);
			peers.v[peers.n++].identity = IDENTITY_WORLD;
		}
		for (size_t i = 0; local && i < n_eps; i++)
			if (!strcmp(eps[i].node, a->cfg.node))
				local[n_local++] = eps[i];
		ret = peers.v && local ? classic_policy_apply(a, entries, comp.n, enf, comp.n_enforce,
							      local, n_local, &peers) : -ENOMEM;
		free(peers.v);
		free(local);
	} else {
		ret = datapath_policy_replace(a->dp, entries, comp.n, enf, comp.n_enforce);
	}
	log_debug("policy sync: %zu policies, %zu entries, %zu enforced endpoints", n_pols, comp.n,
		  comp.n_enforce);
	pthread_mutex_lock(&flows.lock);
	names_free(&flows.names);
	flows.names = names;
	memset(&names, 0, sizeof(names));
	pthread_mutex_unlock(&flows.lock);
out:
	names_free(&names);
	policy_compiled_free(&comp);
	free(entries);
	free(enf);
	free(subj);
	free(ids);
	free(ipc);
	free(eps);
	free(cidrs);
	policy_free(pols, n_pols);
	return ret;
}

/* --- API ---------------------------------------------------------------------------- */

static json_t *policy_json(struct agent *a, const char *stored)
{
	json_t *j = json_loads(stored, 0, NULL);
	uint64_t packets = 0, bytes = 0;
	const char *name = json_string_value(json_object_get(j, "name"));

	if (!j || !name)
		return j;
	datapath_policy_counters(a->dp, policy_id_of(name), &packets, &bytes);
	json_object_set_new(j, "id", json_integer(policy_id_of(name)));
	json_object_set_new(j, "counters", json_pack("{s:s, s:I, s:I}", "node", a->cfg.node,
		"packets", (json_int_t)packets, "bytes", (json_int_t)bytes));
	return j;
}

/* Warnings for selectors that match no endpoint (valid, but probably a mistake). */
static void selector_warnings(struct agent *a, const struct policy *p, size_t n, json_t *warnings)
{
	struct endpoint *eps = NULL;
	size_t n_eps = 0;

	if (cluster_endpoints(a, &eps, &n_eps))
		return;
	for (size_t i = 0; i < n; i++) {
		bool any = false;
		for (size_t e = 0; e < n_eps && !any; e++)
			any = selector_matches(&p[i].subject, eps[e].labels, eps[e].n_labels);
		if (!any)
			json_array_append_new(warnings, json_sprintf(
				"policy '%s': endpointSelector matches no endpoint yet", p[i].name));
		for (int r = 0; r < p[i].n_rules; r++)
			for (int s = 0; s < p[i].rules[r].n_selectors; s++) {
				bool m = false;
				for (size_t e = 0; e < n_eps && !m; e++)
					m = selector_matches(&p[i].rules[r].selectors[s], eps[e].labels, eps[e].n_labels);
				if (!m)
					json_array_append_new(warnings, json_sprintf(
						"policy '%s': rule %d peer selector %d matches no endpoint yet",
						p[i].name, r, s));
			}
	}
	free(eps);
}

static int apply(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	const char *text = json_string_value(json_object_get(rq->body, "text"));
	const char *file = json_string_value(json_object_get(rq->body, "file"));
	struct policy *p = NULL;
	size_t n = 0;
	char err[512], key[128];
	json_t *names, *warnings;
	int ret;

	if (!rq->body)
		return api_fail(e, 400, NULL, "%s", rq->body_error);
	if (!text)
		return api_fail(e, 400, "send {\"file\": NAME, \"text\": CONTENTS}", "text: required string");
	/* Parse everything before storing anything: a bad file applies nothing. */
	if (policy_parse(text, file ? file : "policy", &p, &n, err, sizeof(err)))
		return api_fail(e, 400, NULL, "%s", err);
	names = json_array();
	warnings = json_array();
	for (size_t i = 0; i < n; i++) {
		char *enc = policy_encode(&p[i]);

		snprintf(key, sizeof(key), KEY_POLICIES "%s", p[i].name);
		ret = enc ? store_put(a->store, key, enc, 0) : -ENOMEM;
		free(enc);
		if (ret) {
			policy_free(p, n);
			json_decref(names);
			json_decref(warnings);
			return api_fail(e, 503, NULL, "cannot store policy '%s': %s", p[i].name, strerror(-ret));
		}
		json_array_append_new(names, json_string(p[i].name));
	}
	selector_warnings(a, p, n, warnings);
	policy_free(p, n);
	ret = policy_sync(a);
	if (ret)
		return api_fail(e, 500, NULL, "policies stored but not compiled: %s", strerror(-ret));
	*resp = json_pack("{s:o, s:o}", "applied", names, "warnings", warnings);
	return 200;
}

int policy_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	static const char prefix[] = "/v1/policies/";
	char key[128], *value = NULL;
	int ret;

	if (!strcmp(rq->path, "/v1/policies")) {
		struct store_kv *kvs = NULL;
		size_t n = 0;
		json_t *arr;

		if (!strcmp(rq->method, "POST"))
			return apply(a, rq, resp, e);
		if (strcmp(rq->method, "GET"))
			return api_fail(e, 405, "use GET or POST", "method %s not allowed on %s", rq->method, rq->path);
		ret = store_list(a->store, KEY_POLICIES, &kvs, &n, NULL);
		if (ret)
			return api_fail(e, 503, NULL, "cannot read policies: %s", strerror(-ret));
		arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *j = policy_json(a, kvs[i].value);
			if (j)
				json_array_append_new(arr, j);
		}
		store_kvs_free(kvs, n);
		*resp = json_pack("{s:o}", "policies", arr);
		return 200;
	}
	if (strncmp(rq->path, prefix, strlen(prefix)))
		return 0;
	const char *name = rq->path + strlen(prefix);
	if (!name_valid(name))
		return api_fail(e, 400, NULL, "'%s' is not a valid policy name", name);
	snprintf(key, sizeof(key), KEY_POLICIES "%s", name);
	ret = store_get(a->store, key, &value, NULL);
	if (ret == -ENOENT)
		return api_fail(e, 404, "see `petrel policy list`", "policy '%s' does not exist", name);
	if (ret)
		return api_fail(e, 503, NULL, "cannot read policy '%s': %s", name, strerror(-ret));
	if (!strcmp(rq->method, "GET")) {
		*resp = policy_json(a, value);
		free(value);
		return *resp ? 200 : api_fail(e, 500, NULL, "stored policy '%s' is corrupt", name);
	}
	free(value);
	if (strcmp(rq->method, "DELETE"))
		return api_fail(e, 405, "use GET or DELETE", "method %s not allowed on policies", rq->method);
	ret = store_delete(a->store, key);
	if (ret)
		return api_fail(e, 503, NULL, "cannot delete policy '%s': %s", name, strerror(-ret));
	policy_sync(a);
	*resp = json_pack("{s:s}", "deleted", name);
	return 200;
}

/* --- Flow log ------------------------------------------------------------------------ */

static const char *lookup_name(uint32_t id, bool policy)
{
	if (policy) {
		for (size_t i = 0; i < flows.names.n_policies; i++)
			if (flows.names.policies[i].id == id)
				return flows.names.policies[i].name;
		return NULL;
	}
	for (size_t i = 0; i < flows.names.n_eps; i++)
		if (flows.names.eps[i].id == id)
			return flows.names.eps[i].name;
	return NULL;
}

static json_t *labels_of(uint32_t identity)
{
	const char *reserved = identity_reserved_name(identity);

	if (reserved)
		return json_pack("[s]", reserved);
	for (size_t i = 0; i < flows.names.n_ids; i++) {
		if (flows.names.ids[i].identity != identity)
			continue;
		json_t *arr = json_array();
		char buf[512], *save = NULL, *tok;
		snprintf(buf, sizeof(buf), "%s", flows.names.ids[i].labels);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			json_array_append_new(arr, json_string(tok));
		return arr;
	}
	return json_array();
}

static json_t *peer_json(int family, const uint8_t *addr, uint16_t port, uint32_t identity)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, ip, sizeof(ip));
	return json_pack("{s:s, s:i, s:I, s:o}", "ip", ip, "port", ntohs(port),
			 "identity", (json_int_t)identity, "labels", labels_of(identity));
}

static void on_flow(const void *data, size_t len, void *arg)
{
	const struct flow_event *ev = data;
	const char *proto, *ep, *pol;
	struct timespec ts;
	json_t *j;

	if (len < sizeof(*ev))
		return;
	proto = ev->proto == 6 ? "tcp" : ev->proto == 17 ? "udp" : ev->proto == 1 ? "icmp" :
		ev->proto == 58 ? "icmpv6" : "other";
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&flows.lock);
	ep = lookup_name(ev->ep_id, false);
	pol = ev->rule == RULE_DEFAULT_DENY ? "default-deny" : lookup_name(ev->policy_id, true);
	j = json_pack("{s:f, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:i, s:I}",
		      "time", (double)ts.tv_sec + ts.tv_nsec / 1e9,
		      "endpoint", ep ? ep : "?", "direction", ev->dir == POLICY_INGRESS ? "ingress" : "egress",
		      "protocol", proto,
		      "src", peer_json(ev->family, ev->saddr, ev->sport, ev->src_identity),
		      "dst", peer_json(ev->family, ev->daddr, ev->dport, ev->dst_identity),
		      "verdict", ev->verdict == DP_VERDICT_ALLOW ? "allowed" : "denied",
		      "policy", pol ? pol : "?", "rule", ev->rule == RULE_DEFAULT_DENY ? -1 : (int)ev->rule,
		      "bytes", (json_int_t)ev->len);
	json_decref(flows.ring[flows.seq % FLOW_RING]);
	flows.ring[flows.seq % FLOW_RING] = j;
	flows.seq++;
	pthread_cond_broadcast(&flows.cond);
	pthread_mutex_unlock(&flows.lock);
}

static void *flow_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping)
		if (datapath_flows_poll(a->dp, 200, on_flow, NULL))
			usleep(200 * 1000);
	return NULL;
}

int flows_start(struct agent *a)
{
	if (pthread_create(&flows.thread, NULL, flow_main, a))
		return -errno;
	flows.running = true;
	return 0;
}

void flows_stop(struct agent *a)
{
	if (!flows.running)
		return;
	pthread_mutex_lock(&flows.lock);
	pthread_cond_broadcast(&flows.cond);
	pthread_mutex_unlock(&flows.lock);
	pthread_join(flows.thread, NULL);
	flows.running = false;
}

static bool flow_matches(json_t *ev, const char *endpoint, const char *verdict)
{
	return (!endpoint || !strcmp(endpoint, json_string_value(json_object_get(ev, "endpoint")) ?: "")) &&
	       (!verdict || !strcmp(verdict, json_string_value(json_object_get(ev, "verdict")) ?: ""));
}

/* Next event after *cursor that matches, as a JSON line; waits up to wait_ms when none.
 * Returns NULL when there is none (yet). */
char *flows_next(uint64_t *cursor, const char *endpoint, const char *verdict, int wait_ms)
{
	struct timespec deadline;
	char *line = NULL;

	deadline_after_ms(&deadline, wait_ms);
	pthread_mutex_lock(&flows.lock);
	for (;;) {
		if (flows.seq > FLOW_RING && *cursor < flows.seq - FLOW_RING)
			*cursor = flows.seq - FLOW_RING;       /* overwritten: skip ahead */
		while (*cursor < flows.seq) {
			json_t *ev = flows.ring[*cursor % FLOW_RING];
			(*cursor)++;
			if (ev && flow_matches(ev, endpoint, verdict)) {
				line = json_dumps(ev, JSON_COMPACT);
				break;
			}
		}
		if (line || wait_ms <= 0 ||
		    pthread_cond_timedwait(&flows.cond, &flows.lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&flows.lock);
	return line;
}

uint64_t flows_oldest(void)
{
	uint64_t seq;

	pthread_mutex_lock(&flows.lock);
	seq = flows.seq > FLOW_RING ? flows.seq - FLOW_RING : 0;
	pthread_mutex_unlock(&flows.lock);
	return seq;
}

uint64_t flows_now(void)
{
	uint64_t seq;

	pthread_mutex_lock(&flows.lock);
	seq = flows.seq;
	pthread_mutex_unlock(&flows.lock);
	return seq;
}
