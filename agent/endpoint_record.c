/* Endpoint records in cluster state: this node's own record of each of its endpoints
 * (KEY_ENDPOINTS NODE/NAME, which only this node's etcd user may write), the name's
 * cluster-wide claim (KEY_NAMES), and the janitor that settles what the store did not
 * answer: a half-created record, or this node's record of an endpoint that moved away. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "log.h"
#include "netlink.h"

/* The record under this node's own key. Creating it first claims the name cluster-wide
 * (KEY_NAMES, atomic): records are per node, so a name's uniqueness lives there. */
int endpoint_record_store(struct agent *a, const struct endpoint *ep, bool create)
{
	char key[160], name_key[128], *text = endpoint_encode(ep);
	int ret = 0;

	if (!text)
		return -ENOMEM;
	endpoint_key(key, sizeof(key), ep->node, ep->name);
	snprintf(name_key, sizeof(name_key), KEY_NAMES "%s", ep->name);
	if (create)
		ret = store_create(a->store, name_key, ep->node, 0);
	if (!ret && (ret = store_put(a->store, key, text, 0)) && create)
		store_delete(a->store, name_key);
	free(text);
	return ret;
}

/* The endpoint's record here and its name's claim; 0 or the first failure. */
int endpoint_record_remove(struct agent *a, const struct endpoint *ep)
{
	char key[160];
	int ret;

	endpoint_key(key, sizeof(key), a->cfg.node, ep->name);
	if ((ret = store_delete(a->store, key)))
		return ret;
	snprintf(key, sizeof(key), KEY_NAMES "%s", ep->name);
	return store_delete(a->store, key);
}

/* Reservations whose write, or whose undoing, failed against the store: a write that
 * timed out may still be applied once etcd answers again. The janitor removes such a
 * record if it turns up half-created; a name that stays absent for a few rounds after
 * the store answers again is forgotten. It also retries the removal of this node's
 * record of an endpoint that moved away (stale), until the store answers. */
#define JANITOR_SLOTS 32
#define JANITOR_QUIET_ROUNDS 3
static struct {
	pthread_mutex_t lock;
	struct { struct endpoint ep; int quiet; bool stale; } v[JANITOR_SLOTS];
	int n;
	pthread_t thread;
	bool running;
} janitor = { .lock = PTHREAD_MUTEX_INITIALIZER };

void endpoint_record_abandon(const struct endpoint *ep)
{
	pthread_mutex_lock(&janitor.lock);
	if (janitor.n < JANITOR_SLOTS) {
		janitor.v[janitor.n].ep = *ep;
		janitor.v[janitor.n].stale = false;
		janitor.v[janitor.n++].quiet = 0;
		log_warn("endpoint %s: its record's fate is unknown (the store did not answer); "
			 "it will be removed if it turns up half-created", ep->name);
	}
	pthread_mutex_unlock(&janitor.lock);
}

/* One round: true when the slot is settled. Called with a->lock held. */
static bool janitor_settle(struct agent *a, struct endpoint *ep, int *quiet)
{
	struct endpoint now;
	int ret;

	ret = cluster_endpoint_read_at(a, a->cfg.node, ep->name, &now);
	if (ret == -ENOENT)
		return ++*quiet >= JANITOR_QUIET_ROUNDS;
	if (ret == -EINVAL)
		return true;
	if (ret)
		return false;                       /* still unreachable: next round */
	if (strcmp(now.state, "creating") || nl_link_index(now.ifname) > 0)
		return true;                        /* a live endpoint now: not half-created */
	identity_release(a, &now);
	if (endpoint_record_remove(a, &now))
		return false;
	log_info("endpoint %s: removed the half-created record a failed add left", now.name);
	return true;
}


/* This node's record of name, at epoch or below: removed (a migration away committed, so
 * the destination's record, written first, outranks it everywhere). True when settled
 * (removed, gone, or a newer record of this node's: the endpoint came back); false when
 * the store did not answer. */
static bool stale_settle(struct agent *a, const char *name, uint32_t epoch)
{
	struct endpoint mine;
	char key[160];
	int ret = cluster_endpoint_read_at(a, a->cfg.node, name, &mine);

	if (ret)
		return ret == -ENOENT || ret == -EINVAL;
	if (mine.epoch > epoch)
		return true;
	endpoint_key(key, sizeof(key), a->cfg.node, name);
	if (store_delete(a->store, key))
		return false;
	log_info("endpoint %s: removed this node's record (epoch %u): it runs elsewhere now",
		 name, mine.epoch);
	return true;
}

static void stale_later(const char *name, uint32_t epoch)
{
	pthread_mutex_lock(&janitor.lock);
	if (janitor.n < JANITOR_SLOTS) {
		memset(&janitor.v[janitor.n], 0, sizeof(janitor.v[janitor.n]));
		snprintf(janitor.v[janitor.n].ep.name, sizeof(janitor.v[janitor.n].ep.name), "%s", name);
		janitor.v[janitor.n].ep.epoch = epoch;
		janitor.v[janitor.n++].stale = true;
	}
	pthread_mutex_unlock(&janitor.lock);
	log_warn("endpoint %s: cannot remove this node's outranked record yet (the store does not "
		 "answer); retrying", name);
}

void endpoint_remove_stale(struct agent *a, const char *name, uint32_t epoch)
{
	if (!stale_settle(a, name, epoch))
		stale_later(name, epoch);
}

void endpoints_sweep_stale(struct agent *a)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	char prefix[128];

	snprintf(prefix, sizeof(prefix), KEY_ENDPOINTS "%s/", a->cfg.node);
	if (store_list(a->store, prefix, &kvs, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *name = kvs[i].key + strlen(prefix);
		struct endpoint mine, cur;

		/* Only the outranked: the cache, loaded at start, knows every record. */
		if (endpoint_decode(kvs[i].value, &mine) == 0 &&
		    cluster_endpoint_get(a, name, &cur) == 0 && cur.epoch > mine.epoch)
			endpoint_remove_stale(a, name, mine.epoch);
	}
	store_kvs_free(kvs, n);
}

bool endpoint_current_at(struct agent *a, const char *node, const char *name, struct endpoint *ep)
{
	struct endpoint cur;

	if (cluster_endpoint_read_at(a, node, name, ep) || strcmp(ep->node, node))
		return false;
	return cluster_endpoint_get(a, name, &cur) || cur.epoch <= ep->epoch;
}

static void *janitor_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		for (int t = 0; t < 20 && !a->stopping; t++)
			usleep(100 * 1000);
		pthread_mutex_lock(&a->lock);
		store_deadline_set(2000);
		pthread_mutex_lock(&janitor.lock);
		for (int i = 0; i < janitor.n; i++)
			if (janitor.v[i].stale ?
			    stale_settle(a, janitor.v[i].ep.name, janitor.v[i].ep.epoch) :
			    janitor_settle(a, &janitor.v[i].ep, &janitor.v[i].quiet))
				janitor.v[i--] = janitor.v[--janitor.n];
		pthread_mutex_unlock(&janitor.lock);
		store_deadline_clear();
		pthread_mutex_unlock(&a->lock);
	}
	return NULL;
}

int endpoints_janitor_start(struct agent *a)
{
	if (pthread_create(&janitor.thread, NULL, janitor_main, a))
		return -errno;
	janitor.running = true;
	return 0;
}

void endpoints_janitor_stop(struct agent *a)
{
	if (janitor.running)
		pthread_join(janitor.thread, NULL);
	janitor.running = false;
}

