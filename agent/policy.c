/* Policies in the agent: the API (apply, list, show, delete) and the flow log that says
 * which policy and rule decided each flow. Compiling them into the datapath follows
 * cluster state in policy_sync.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "agent.h"
#include "cluster_cache.h"
#include "bpf/datapath_abi.h"
#include "identity.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define FLOW_RING 4096

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *ring[FLOW_RING];
	uint64_t seq;                  /* events ever recorded */
	pthread_t thread;
	bool running;
} flows = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

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
struct selector_scan {
	const struct policy *p;
	size_t n;
	bool *subject_hit;               /* per policy */
	bool *peer_hit;                  /* per peer selector, policy by policy, rule by rule */
	struct endpoint ep;              /* one decoded at a time */
};

static int scan_endpoint(const struct cc_entry *e, void *arg)
{
	struct selector_scan *s = arg;

	if (endpoint_decode(e->value, &s->ep))
		return 0;
	for (size_t i = 0, sel = 0; i < s->n; i++) {
		s->subject_hit[i] |= selector_matches(&s->p[i].subject, s->ep.labels, s->ep.n_labels);
		for (int r = 0; r < s->p[i].n_rules; r++)
			for (int k = 0; k < s->p[i].rules[r].n_selectors; k++, sel++)
				s->peer_hit[sel] |= selector_matches(&s->p[i].rules[r].selectors[k],
								     s->ep.labels, s->ep.n_labels);
	}
	return 0;
}

/* A file of ten thousand policies is not ten thousand lines of warnings. */
#define MAX_WARNINGS 20

static void warn(json_t *warnings, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(warnings, json_string(buf));
}

static void selector_warnings(struct agent *a, const struct policy *p, size_t n, json_t *warnings)
{
	struct selector_scan *s = calloc(1, sizeof(*s));
	size_t n_sel = 0;

	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < p[i].n_rules; r++)
			n_sel += (size_t)p[i].rules[r].n_selectors;
	s->p = p;
	s->n = n;
	s->subject_hit = calloc(n + 1, sizeof(*s->subject_hit));
	s->peer_hit = calloc(n_sel + 1, sizeof(*s->peer_hit));
	if (s->subject_hit && s->peer_hit) {
		cluster_foreach(a, CC_ENDPOINT, scan_endpoint, s);
		for (size_t i = 0, sel = 0; i < n; i++) {
			if (!s->subject_hit[i])
				warn(warnings, "policy '%s': endpointSelector matches no endpoint yet", p[i].name);
			for (int r = 0; r < p[i].n_rules; r++)
				for (int k = 0; k < p[i].rules[r].n_selectors; k++)
					if (!s->peer_hit[sel++])
						warn(warnings, "policy '%s': rule %d peer selector %d matches "
						     "no endpoint yet", p[i].name, r, k);
		}
		if (json_array_size(warnings) > MAX_WARNINGS) {
			size_t more = json_array_size(warnings) - MAX_WARNINGS;

			while (json_array_size(warnings) > MAX_WARNINGS)
				json_array_remove(warnings, MAX_WARNINGS);
			json_array_append_new(warnings, json_sprintf("%zu more selectors match no endpoint yet", more));
		}
	}
	free(s->subject_hit);
	free(s->peer_hit);
	free(s);
}

/* Every policy of a file in one store transaction: the cluster sees all or none of them.
 * etcd caps a transaction's writes (--max-txn-ops, 128 by default); the lab raises it and
 * docs/deploy.md says how, and a refusal names the cap rather than applying part. */
static int store_policies(struct agent *a, const struct policy *p, size_t n, struct api_error *e)
{
	struct store_op *ops = calloc(n + 1, sizeof(*ops));
	char (*keys)[128] = calloc(n + 1, sizeof(*keys));
	int ret = ops && keys ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), KEY_POLICIES "%s", p[i].name);
		ops[i].key = keys[i];
		if (!(ops[i].value = policy_encode(&p[i])))
			ret = -ENOMEM;
	}
	if (!ret)
		ret = store_txn_if(a->operator_store, NULL, 0, ops, n);
	for (size_t i = 0; ops && i < n; i++)
		free((char *)ops[i].value);
	free(ops);
	free(keys);
	if (ret && n > 128 && ret != -ENOMEM && ret != -ETIMEDOUT && ret != -ECONNREFUSED && ret != -EACCES)
		return api_fail(e, 503, "start etcd with --max-txn-ops and --max-request-bytes large enough "
				"for the file (docs/deploy.md)", "the store refused %zu policies in one "
				"transaction: %s (nothing was applied)", n, strerror(-ret));
	if (ret)
		return api_operator_write_fail(e, ret, "cannot store %zu policies (nothing was applied)", n);
	return 0;
}

static int apply(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	const char *text = json_string_value(json_object_get(rq->body, "text"));
	const char *file = json_string_value(json_object_get(rq->body, "file"));
	struct policy *p = NULL;
	size_t n = 0;
	char err[512];
	json_t *names, *warnings;
	int ret;

	if (!rq->body)
		return api_fail(e, 400, NULL, "%s", rq->body_error);
	if (!text)
		return api_fail(e, 400, "send {\"file\": NAME, \"text\": CONTENTS}", "text: required string");
	/* Parse everything before storing anything: a bad file applies nothing. */
	if (policy_parse(text, file ? file : "policy", &p, &n, err, sizeof(err)))
		return api_fail(e, 400, NULL, "%s", err);
	ret = store_policies(a, p, n, e);
	if (ret) {
		policy_free(p, n);
		return ret;
	}
	names = json_array();
	warnings = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, json_string(p[i].name));
	selector_warnings(a, p, n, warnings);
	policy_free(p, n);
	/* One watch event per policy, then a compile: a large file gets 1 ms per policy more. */
	ret = cluster_catch_up_within(a, 2000 + (int)(n < 60000 ? n : 60000)) ?: policy_last_error();
	if (ret)
		return api_fail(e, 500, NULL, "policies stored but not compiled: %s", strerror(-ret));
	*resp = json_pack("{s:o, s:o}", "applied", names, "warnings", warnings);
	return 200;
}

struct policy_list {
	struct agent *a;
	json_t *arr;
};

static int list_policy(const struct cc_entry *e, void *arg)
{
	struct policy_list *l = arg;
	json_t *j = policy_json(l->a, e->value);

	if (j)
		json_array_append_new(l->arr, j);
	return 0;
}

int policy_route(struct agent *a, const struct api_request *rq, json_t **resp, struct api_error *e)
{
	static const char prefix[] = "/v1/policies/";
	char key[128], *value = NULL;
	int ret;

	if (!strcmp(rq->path, "/v1/policies")) {
		struct policy_list l = { a, json_array() };

		if (!strcmp(rq->method, "POST"))
			return apply(a, rq, resp, e);
		if (strcmp(rq->method, "GET"))
			return api_fail(e, 405, "use GET or POST", "method %s not allowed on %s", rq->method, rq->path);
		cluster_foreach(a, CC_POLICY, list_policy, &l);
		*resp = json_pack("{s:o}", "policies", l.arr);
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
	ret = store_delete(a->operator_store, key);
	if (ret)
		return api_operator_write_fail(e, ret, "cannot delete policy '%s'", name);
	cluster_catch_up(a);
	*resp = json_pack("{s:s}", "deleted", name);
	return 200;
}

/* --- Flow log ------------------------------------------------------------------------ */

static json_t *labels_of(uint32_t identity)
{
	const char *reserved = identity_reserved_name(identity);
	char buf[512], *save = NULL, *tok;
	json_t *arr;

	if (reserved)
		return json_pack("[s]", reserved);
	arr = json_array();
	if (!policy_identity_labels(identity, buf, sizeof(buf)))
		return arr;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_string(tok));
	return arr;
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
	char ep_name[EP_NAME_MAX], pol_name[POLICY_NAME_MAX];
	struct timespec ts;
	json_t *j;

	if (len < sizeof(*ev))
		return;
	proto = ev->proto == 6 ? "tcp" : ev->proto == 17 ? "udp" : ev->proto == 1 ? "icmp" :
		ev->proto == 58 ? "icmpv6" : "other";
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&flows.lock);
	ep = policy_endpoint_name(ev->ep_id, ep_name, sizeof(ep_name)) ? ep_name : NULL;
	pol = ev->rule == RULE_DEFAULT_DENY ? "default-deny" :
	      policy_name_of(ev->policy_id, pol_name, sizeof(pol_name)) ? pol_name : NULL;
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
