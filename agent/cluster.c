/* This node's view of cluster state: the cache (lib/cluster_cache.h), fed by a watch
 * thread that lists once and then stages each event, and drained by an applier thread that
 * hands subscribers their deltas in batches. Reads (the API, IPAM, restore) answer from the
 * cache, so they never wait on the store. A keepalive thread holds the node's liveness. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "cluster_cache.h"
#include "log.h"

/* A batch is applied under the cache's write lock: bounded, so readers wait little. */
#define APPLY_BATCH 4096
/* How long a writer waits for its own change to come back through the watch. */
#define CATCH_UP_MS 2000
/* How long start-up waits for the watch to bring the cache up to date. */
#define READY_WAIT_MS 3000

/* Endpoint records are per node (KEY_ENDPOINTS NODE/NAME): see cluster_cache.h. */
static const struct cc_prefix prefixes[] = {
	{ KEY_NODES, CC_NODE, false },
	{ KEY_ALIVE, CC_ALIVE, false },
	{ KEY_ENDPOINTS, CC_ENDPOINT, true },
	{ KEY_POLICIES, CC_POLICY, false },
	{ KEY_IOAM, CC_IOAM, false },
};

/* SQLite has no watch: a catch-up re-lists it, and this keeps two from applying at once. */
static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

int cluster_cache_open(struct agent *a)
{
	return cc_new(&a->cache, prefixes, sizeof(prefixes) / sizeof(prefixes[0]));
}

void cluster_cache_close(struct agent *a)
{
	cc_free(a->cache);
	a->cache = NULL;
}

int cluster_subscribe(struct agent *a, const struct cc_listener *l)
{
	return cc_subscribe(a->cache, l);
}

static void apply_all(struct agent *a)
{
	pthread_mutex_lock(&apply_lock);
	while (cc_apply(a->cache, APPLY_BATCH))
		;
	pthread_mutex_unlock(&apply_lock);
}

/* List everything and stage it as a snapshot; *rev gets the listing's revision. */
static int relist(struct agent *a, int64_t *rev)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int ret;

	ret = store_list(a->store, "/petrel/", &kvs, &n, rev);
	if (!ret)
		ret = cc_stage_snapshot(a->cache, kvs, n, *rev);
	store_kvs_free(kvs, n);
	return ret;
}

int cluster_load(struct agent *a)
{
	int64_t rev = 0;
	int ret = relist(a, &rev);

	if (!ret)
		apply_all(a);
	a->loaded_rev = rev;
	return ret;
}

int cluster_catch_up_within(struct agent *a, int ms)
{
	int64_t rev;

	if (!a->watching)
		return cluster_load(a);
	rev = store_last_write_revision();
	if (cc_wait_revision(a->cache, rev, ms)) {
		log_warn("cluster cache still behind revision %lld after %d ms", (long long)rev, ms);
		return -ETIMEDOUT;
	}
	return 0;
}

int cluster_catch_up(struct agent *a)
{
	return cluster_catch_up_within(a, CATCH_UP_MS);
}

/* --- reads ------------------------------------------------------------------------- */

static int cmp_ep(const void *x, const void *y)
{
	return strcmp(((const struct endpoint *)x)->name, ((const struct endpoint *)y)->name);
}

struct ep_collect {
	const char *node;                /* NULL: all */
	struct endpoint *v;
	size_t n, cap;
	int err;
};

static int collect_ep(const struct cc_entry *e, void *arg)
{
	struct ep_collect *c = arg;

	if (c->node && strcmp(e->u.ep.node, c->node))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct endpoint *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return c->err = -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	if (endpoint_decode(e->value, &c->v[c->n]) == 0)
		c->n++;
	return 0;
}

static int endpoints_of(struct agent *a, const char *node, struct endpoint **out, size_t *n)
{
	struct ep_collect c = { .node = node };

	cc_read_lock(a->cache);
	cc_foreach(a->cache, CC_ENDPOINT, collect_ep, &c);
	cc_read_unlock(a->cache);
	if (c.err) {
		free(c.v);
		return c.err;
	}
	if (!c.v && !(c.v = calloc(1, sizeof(*c.v))))
		return -ENOMEM;
	qsort(c.v, c.n, sizeof(*c.v), cmp_ep);
	*out = c.v;
	*n = c.n;
	return 0;
}

int cluster_endpoints(struct agent *a, struct endpoint **out, size_t *n)
{
	return endpoints_of(a, NULL, out, n);
}

int cluster_local_endpoints(struct agent *a, struct endpoint **out, size_t *n)
{
	return endpoints_of(a, a->cfg.node, out, n);
}

int cluster_node_endpoints(struct agent *a, const char *node, struct endpoint **out, size_t *n)
{
	return endpoints_of(a, node, out, n);
}

int cluster_endpoint_get(struct agent *a, const char *name, struct endpoint *ep)
{
	const struct cc_entry *e;
	int ret = -ENOENT;

	cc_read_lock(a->cache);
	e = cc_find(a->cache, CC_ENDPOINT, name);
	if (e)
		ret = endpoint_decode(e->value, ep);
	cc_read_unlock(a->cache);
	return ret;
}

int cluster_foreach(struct agent *a, enum cc_kind kind,
		    int (*cb)(const struct cc_entry *e, void *arg), void *arg)
{
	int ret;

	cc_read_lock(a->cache);
	ret = cc_foreach(a->cache, kind, cb, arg);
	cc_read_unlock(a->cache);
	return ret;
}

size_t cluster_count(struct agent *a, enum cc_kind kind)
{
	size_t n;

	cc_read_lock(a->cache);
	n = cc_count(a->cache, kind);
	cc_read_unlock(a->cache);
	return n;
}

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

/* --- threads ----------------------------------------------------------------------- */

static int on_event(const struct store_event *ev, void *arg)
{
	struct agent *a = arg;

	/* Staging only: the watch never waits behind the datapath or a request. */
	if (ev->type == STORE_PUT)
		cc_stage_put(a->cache, ev->key, ev->value, ev->mod_revision);
	else
		cc_stage_delete(a->cache, ev->key, ev->mod_revision);
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
	int64_t rev = a->loaded_rev;
	int ret = 0;

	while (!a->stopping) {
		/* After the first listing, a re-list before each re-watch closes any gap. */
		if (rev || (ret = relist(a, &rev)) == 0)
			ret = store_watch(a->store, "/petrel/", rev + 1, on_event, a);
		rev = 0;
		if (!a->stopping) {
			log_warn("cluster watch ended (%s); listing again", strerror(-ret));
			nap(a, ret == -ESTALE ? 0 : 1000);
		}
	}
	return NULL;
}

static void *apply_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping)
		if (cc_wait_pending(a->cache, 1000))
			apply_all(a);
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
		return 0;   /* single node: every change is local and applied in place */
	if (pthread_create(&a->apply_thread, NULL, apply_main, a))
		return -errno;
	if (pthread_create(&a->watch_thread, NULL, watch_main, a))
		goto stop_apply;
	if (pthread_create(&a->keepalive_thread, NULL, keepalive_main, a))
		goto stop_watch;
	a->threads_started = true;
	a->watching = true;
	/* Ready once the watch has brought the cache to the store's present revision (any
	 * read reports it); a store shared with other applications may have moved on with
	 * keys that are not ours, so this waits a bounded time. */
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int64_t now = 0;

	if (store_list(a->store, KEY_ALIVE, &kvs, &n, &now) == 0 &&
	    cc_wait_revision(a->cache, now, READY_WAIT_MS))
		log_warn("the cluster cache has not reached revision %lld after %d ms; going on",
			 (long long)now, READY_WAIT_MS);
	store_kvs_free(kvs, n);
	return 0;
stop_watch:
	a->stopping = 1;
	store_watch_stop(a->store);
	pthread_join(a->watch_thread, NULL);
stop_apply:
	a->stopping = 1;
	cc_kick(a->cache);
	pthread_join(a->apply_thread, NULL);
	return -EAGAIN;
}

void cluster_threads_stop(struct agent *a)
{
	if (!a->threads_started)
		return;
	a->stopping = 1;
	a->watching = false;
	store_watch_stop(a->store);
	cc_kick(a->cache);
	pthread_join(a->watch_thread, NULL);
	pthread_join(a->apply_thread, NULL);
	pthread_join(a->keepalive_thread, NULL);
	a->threads_started = false;
}

/* --- decisions that must not act on a stale cache ----------------------------------- */

void endpoint_key(char *buf, size_t len, const char *node, const char *name)
{
	snprintf(buf, len, KEY_ENDPOINTS "%s/%s", node, name);
}

int cluster_endpoint_read_at(struct agent *a, const char *node, const char *name, struct endpoint *ep)
{
	char key[160], *value = NULL;
	int ret;

	endpoint_key(key, sizeof(key), node, name);
	ret = store_get(a->store, key, &value, NULL);
	if (ret)
		return ret;
	ret = endpoint_decode(value, ep);
	free(value);
	return ret;
}

int cluster_endpoint_read(struct agent *a, const char *name, struct endpoint *ep)
{
	struct endpoint cached;
	int ret = cluster_endpoint_get(a, name, &cached);

	return ret ? ret : cluster_endpoint_read_at(a, cached.node, name, ep);
}

int cluster_catch_up_key(struct agent *a, const char *prefix, const char *name)
{
	char key[256], *value = NULL;
	int64_t rev = 0;
	int ret;

	if (!a->watching)
		return cluster_load(a);
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	ret = store_get(a->store, key, &value, &rev);
	free(value);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	return cc_wait_revision(a->cache, rev, CATCH_UP_MS);
}

struct kv_collect {
	const char *prefix;
	struct store_kv *v;
	size_t n, cap;
	int err;
};

static int collect_kv(const struct cc_entry *e, void *arg)
{
	struct kv_collect *c = arg;

	if (strncmp(e->key, c->prefix, strlen(c->prefix)) || c->n == c->cap)
		return 0;
	c->v[c->n].key = strdup(e->key);
	c->v[c->n].value = strdup(e->value);
	c->v[c->n].mod_revision = e->rev;
	if (!c->v[c->n].key || !c->v[c->n].value) {
		free(c->v[c->n].key);
		free(c->v[c->n].value);
		return c->err = -ENOMEM;
	}
	c->n++;
	return 0;
}

int cluster_list(struct agent *a, enum cc_kind kind, const char *prefix, struct store_kv **out,
		 size_t *n)
{
	struct kv_collect c = { .prefix = prefix };

	*out = NULL;
	*n = 0;
	cc_read_lock(a->cache);
	c.cap = cc_count(a->cache, kind) + 1;
	c.v = calloc(c.cap, sizeof(*c.v));
	if (c.v)
		cc_foreach(a->cache, kind, collect_kv, &c);
	cc_read_unlock(a->cache);
	if (!c.v)
		return -ENOMEM;
	if (c.err) {
		store_kvs_free(c.v, c.n);
		return c.err;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

struct node_find {
	const struct ip_addr *ip4;
	char name[EP_NAME_MAX];
};

static int match_node(const struct cc_entry *e, void *arg)
{
	struct node_find *f = arg;

	if (!ip_equal(&e->u.node.ip4, f->ip4))
		return 0;
	snprintf(f->name, sizeof(f->name), "%s", e->name);
	return 1;
}

bool cluster_node_at(struct agent *a, const struct ip_addr *ip4, char *name, size_t len)
{
	struct node_find f = { .ip4 = ip4 };

	if (!cluster_foreach(a, CC_NODE, match_node, &f))
		return false;
	snprintf(name, len, "%s", f.name);
	return true;
}

int cluster_get(struct agent *a, enum cc_kind kind, const char *name, char **value)
{
	const struct cc_entry *e;

	*value = NULL;
	cc_read_lock(a->cache);
	e = cc_find(a->cache, kind, name);
	if (e)
		*value = strdup(e->value);
	cc_read_unlock(a->cache);
	if (!e)
		return -ENOENT;
	return *value ? 0 : -ENOMEM;
}
