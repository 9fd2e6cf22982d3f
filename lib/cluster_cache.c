/* The cluster state cache: staged changes coalesced per key, applied in batches, handed to
 * subscribers as (old, new) deltas. See cluster_cache.h and docs/design.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>
#include <jansson.h>
#include "cluster_cache.h"
#include "util.h"

#define MAX_PREFIXES 8
#define MAX_LISTENERS 16

struct item {
	struct cc_entry e;
	struct item *alt;                /* per_node kinds: the name's other records */
	UT_hash_handle hh;
};

/* A staged change: value NULL removes the key. */
struct staged {
	char *key;
	char *value;
	int64_t rev;
	enum cc_kind kind;
	struct staged *next;             /* in a batch being applied */
	UT_hash_handle hh;
};

struct cluster_cache {
	struct cc_prefix prefixes[MAX_PREFIXES];
	size_t n_prefixes;
	bool per_node[CC__KINDS];
	struct cc_listener listeners[MAX_LISTENERS];
	bool touched[MAX_LISTENERS];     /* told something in the batch being applied */
	size_t n_listeners;

	pthread_rwlock_t table_lock;     /* the tables below */
	struct item *table[CC__KINDS];   /* by name */
	size_t count[CC__KINDS];

	pthread_mutex_t stage_lock;      /* everything below */
	pthread_cond_t staged_cond, applied_cond;
	struct staged *pending[CC__KINDS];   /* by key */
	size_t n_pending;
	int64_t staged_rev, applied_rev;
	bool kicked;
};

int cc_new(struct cluster_cache **out, const struct cc_prefix *prefixes, size_t n)
{
	struct cluster_cache *cc;

	if (n > MAX_PREFIXES)
		return -EINVAL;
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	memcpy(cc->prefixes, prefixes, n * sizeof(*prefixes));
	cc->n_prefixes = n;
	for (size_t i = 0; i < n; i++)
		cc->per_node[prefixes[i].kind] |= prefixes[i].per_node;
	pthread_rwlock_init(&cc->table_lock, NULL);
	pthread_mutex_init(&cc->stage_lock, NULL);
	pthread_cond_init(&cc->staged_cond, NULL);
	pthread_cond_init(&cc->applied_cond, NULL);
	*out = cc;
	return 0;
}

static void item_free(struct item *it)
{
	if (it) {
		free(it->e.key);
		free(it->e.value);
		free(it);
	}
}

static void group_free(struct item *it)
{
	while (it) {
		struct item *next = it->alt;

		item_free(it);
		it = next;
	}
}

static void staged_free(struct staged *s)
{
	if (s) {
		free(s->key);
		free(s->value);
		free(s);
	}
}

void cc_free(struct cluster_cache *cc)
{
	if (!cc)
		return;
	for (int k = 0; k < CC__KINDS; k++) {
		struct item *it, *tmp;
		struct staged *s, *stmp;

		HASH_ITER(hh, cc->table[k], it, tmp) {
			HASH_DEL(cc->table[k], it);
			group_free(it);
		}
		HASH_ITER(hh, cc->pending[k], s, stmp) {
			HASH_DEL(cc->pending[k], s);
			staged_free(s);
		}
	}
	pthread_rwlock_destroy(&cc->table_lock);
	pthread_mutex_destroy(&cc->stage_lock);
	pthread_cond_destroy(&cc->staged_cond);
	pthread_cond_destroy(&cc->applied_cond);
	free(cc);
}

int cc_subscribe(struct cluster_cache *cc, const struct cc_listener *l)
{
	if (cc->n_listeners == MAX_LISTENERS)
		return -ENOSPC;
	/* Subscribing happens at start, before the applier runs; the lock orders it anyway. */
	pthread_rwlock_wrlock(&cc->table_lock);
	cc->listeners[cc->n_listeners++] = *l;
	pthread_rwlock_unlock(&cc->table_lock);
	return 0;
}

/* The kind a key belongs to and where its name starts; -1 for keys not kept. */
static int classify(const struct cluster_cache *cc, const char *key, size_t *name_off)
{
	for (size_t i = 0; i < cc->n_prefixes; i++) {
		size_t l = strlen(cc->prefixes[i].prefix);
		const char *slash;

		if (strncmp(key, cc->prefixes[i].prefix, l) || !key[l])
			continue;
		if (cc->prefixes[i].per_node) {
			/* NODE/NAME, both non-empty, NAME without another '/' */
			slash = strchr(key + l, '/');
			if (!slash || slash == key + l || !slash[1] || strchr(slash + 1, '/'))
				return -1;
			l = (size_t)(slash + 1 - key);
		}
		*name_off = l;
		return (int)cc->prefixes[i].kind;
	}
	return -1;
}

static void note_rev_locked(struct cluster_cache *cc, int64_t rev)
{
	if (rev > cc->staged_rev)
		cc->staged_rev = rev;
	/* Nothing waits to be applied: the cache is as new as everything staged. */
	if (!cc->n_pending && cc->staged_rev > cc->applied_rev) {
		cc->applied_rev = cc->staged_rev;
		pthread_cond_broadcast(&cc->applied_cond);
	}
}

/* Stage one change with stage_lock held. value NULL: removal. */
static int stage_locked(struct cluster_cache *cc, const char *key, const char *value, int64_t rev)
{
	size_t off;
	int kind = classify(cc, key, &off);
	struct staged *s;

	if (kind < 0) {
		note_rev_locked(cc, rev);
		return 0;
	}
	HASH_FIND_STR(cc->pending[kind], key, s);
	if (s) {
		if (rev && s->rev > rev)
			return 0;               /* older than what waits: last writer wins */
		free(s->value);
		s->value = NULL;
	} else {
		s = calloc(1, sizeof(*s));
		if (!s || !(s->key = strdup(key))) {
			free(s);
			return -ENOMEM;
		}
		HASH_ADD_KEYPTR(hh, cc->pending[kind], s->key, strlen(s->key), s);
		cc->n_pending++;
	}
	if (value && !(s->value = strdup(value)))
		return -ENOMEM;         /* staged as a removal: the next re-list repairs it */
	s->rev = rev;
	if (rev > cc->staged_rev)
		cc->staged_rev = rev;
	pthread_cond_signal(&cc->staged_cond);
	return 0;
}

int cc_stage_put(struct cluster_cache *cc, const char *key, const char *value, int64_t rev)
{
	int ret;

	pthread_mutex_lock(&cc->stage_lock);
	ret = stage_locked(cc, key, value ? value : "", rev);
	pthread_mutex_unlock(&cc->stage_lock);
	return ret;
}

int cc_stage_delete(struct cluster_cache *cc, const char *key, int64_t rev)
{
	int ret;

	pthread_mutex_lock(&cc->stage_lock);
	ret = stage_locked(cc, key, NULL, rev);
	pthread_mutex_unlock(&cc->stage_lock);
	return ret;
}

/* The listing's keys, to find what it lacks: a set of pointers into kvs. */
struct key_ref {
	const char *key;
	UT_hash_handle hh;
};

int cc_stage_snapshot(struct cluster_cache *cc, const struct store_kv *kvs, size_t n, int64_t rev)
{
	struct key_ref *set = NULL, *refs = calloc(n + 1, sizeof(*refs)), *r, *rtmp;
	int ret = 0;

	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		HASH_FIND_STR(set, kvs[i].key, r);
		if (!r) {
			refs[i].key = kvs[i].key;
			HASH_ADD_KEYPTR(hh, set, refs[i].key, strlen(refs[i].key), &refs[i]);
		}
	}
	/* Table before stage lock, as cc_apply takes them. */
	pthread_rwlock_rdlock(&cc->table_lock);
	pthread_mutex_lock(&cc->stage_lock);
	for (int k = 0; k < CC__KINDS && !ret; k++) {
		struct item *it, *tmp;
		struct staged *s, *stmp;

		HASH_ITER(hh, cc->table[k], it, tmp) {
			for (struct item *x = it; x && !ret; x = x->alt) {
				HASH_FIND_STR(set, x->e.key, r);
				if (!r)
					ret = stage_locked(cc, x->e.key, NULL, rev);
			}
			if (ret)
				break;
		}
		HASH_ITER(hh, cc->pending[k], s, stmp) {
			HASH_FIND_STR(set, s->key, r);
			if (!r && s->value) {
				free(s->value);
				s->value = NULL;
				s->rev = rev;
			}
		}
	}
	for (size_t i = 0; i < n && !ret; i++)
		ret = stage_locked(cc, kvs[i].key, kvs[i].value ? kvs[i].value : "",
				   kvs[i].mod_revision ? kvs[i].mod_revision : rev);
	if (!ret)
		note_rev_locked(cc, rev);
	pthread_mutex_unlock(&cc->stage_lock);
	pthread_rwlock_unlock(&cc->table_lock);
	HASH_ITER(hh, set, r, rtmp)
		HASH_DEL(set, r);
	free(refs);
	return ret;
}

size_t cc_pending(struct cluster_cache *cc)
{
	size_t n;

	pthread_mutex_lock(&cc->stage_lock);
	n = cc->n_pending;
	pthread_mutex_unlock(&cc->stage_lock);
	return n;
}

bool cc_wait_pending(struct cluster_cache *cc, int timeout_ms)
{
	struct timespec ts;
	bool any;

	deadline_after_ms(&ts, timeout_ms);
	pthread_mutex_lock(&cc->stage_lock);
	while (!cc->n_pending && !cc->kicked)
		if (pthread_cond_timedwait(&cc->staged_cond, &cc->stage_lock, &ts))
			break;
	cc->kicked = false;
	any = cc->n_pending > 0;
	pthread_mutex_unlock(&cc->stage_lock);
	return any;
}

void cc_kick(struct cluster_cache *cc)
{
	pthread_mutex_lock(&cc->stage_lock);
	cc->kicked = true;
	pthread_cond_broadcast(&cc->staged_cond);
	pthread_mutex_unlock(&cc->stage_lock);
}

int cc_node_decode(const char *value, struct cc_node *n)
{
	json_t *j = json_loads(value, 0, NULL);
	const char *s4 = json_string_value(json_object_get(j, "ipv4"));
	const char *s6 = json_string_value(json_object_get(j, "ipv6"));
	const char *b4 = json_string_value(json_object_get(j, "block4"));
	const char *b6 = json_string_value(json_object_get(j, "block6"));
	int ret = 0;

	memset(n, 0, sizeof(*n));
	if (!s4 || ip_parse(s4, &n->ip4))
		ret = -EINVAL;
	if (!ret && s6 && *s6 && ip_parse(s6, &n->ip6))
		memset(&n->ip6, 0, sizeof(n->ip6));
	if (!ret && b4 && cidr_parse(b4, &n->block4))
		memset(&n->block4, 0, sizeof(n->block4));
	if (!ret && b6 && cidr_parse(b6, &n->block6))
		memset(&n->block6, 0, sizeof(n->block6));
	json_decref(j);
	return ret;
}

/* Whether a per_node record's key (PREFIX/NODE/NAME) names node. */
static bool key_node_is(const struct cc_entry *e, const char *node)
{
	const char *end = e->name - 1, *start = end;

	while (start > e->key && start[-1] != '/')
		start--;
	return strlen(node) == (size_t)(end - start) && !strncmp(start, node, (size_t)(end - start));
}

/* The summary of a record; -EINVAL for one the consumers could not use (it is not kept). */
static int decode(struct item *it, bool per_node)
{
	struct endpoint *ep;
	int ret;

	switch (it->e.kind) {
	case CC_NODE:
		return cc_node_decode(it->e.value, &it->e.u.node);
	case CC_ENDPOINT:
		ep = malloc(sizeof(*ep));
		if (!ep)
			return -ENOMEM;
		ret = endpoint_decode(it->e.value, ep);
		/* Per node: a record under NODE/ that names another node is no one's. */
		if (!ret && per_node && !key_node_is(&it->e, ep->node))
			ret = -EINVAL;
		if (!ret) {
			snprintf(it->e.u.ep.node, sizeof(it->e.u.ep.node), "%s", ep->node);
			it->e.u.ep.ip4 = ep->ip4;
			it->e.u.ep.ip6 = ep->ip6;
			it->e.u.ep.identity = ep->identity;
			it->e.u.ep.epoch = ep->epoch;
			it->e.u.ep.moved = ep->moved;
		}
		free(ep);
		return ret;
	default:
		return 0;
	}
}

static void notify(struct cluster_cache *cc, enum cc_kind kind, const struct cc_entry *old,
		   const struct cc_entry *new)
{
	for (size_t i = 0; i < cc->n_listeners; i++)
		if (cc->listeners[i].kinds & CC_BIT(kind)) {
			cc->touched[i] = true;
			cc->listeners[i].changed(cc->listeners[i].ctx, old, new);
		}
}

/* The current of two records of one name: higher epoch, then later revision, then key. */
static bool better(const struct item *a, const struct item *b)
{
	uint32_t ea = a->e.kind == CC_ENDPOINT ? a->e.u.ep.epoch : 0;
	uint32_t eb = b->e.kind == CC_ENDPOINT ? b->e.u.ep.epoch : 0;

	if (ea != eb)
		return ea > eb;
	if (a->e.rev != b->e.rev)
		return a->e.rev > b->e.rev;
	return strcmp(a->e.key, b->e.key) > 0;
}

/* The record with key in the group headed by head, or NULL. */
static struct item *group_find(struct item *head, const char *key)
{
	for (struct item *x = head; x; x = x->alt)
		if (!strcmp(x->e.key, key))
			return x;
	return NULL;
}

/* x into a group being rebuilt: the current record so far in *best, the others in *rest. */
static void place(struct item **best, struct item **rest, struct item *x)
{
	if (*best && !better(x, *best)) {
		x->alt = *rest;
		*rest = x;
		return;
	}
	if (*best) {
		(*best)->alt = *rest;
		*rest = *best;
	}
	*best = x;
}

/* The group head minus out plus in (either may be NULL), relinked with its current record
 * first; returns that head (NULL: the group is empty). */
static struct item *group_rebuild(struct item *head, struct item *out, struct item *in)
{
	struct item *best = NULL, *rest = NULL, *x, *next;

	for (x = head; x; x = next) {
		next = x->alt;
		x->alt = NULL;
		if (x != out)
			place(&best, &rest, x);
	}
	if (in)
		place(&best, &rest, in);
	if (best)
		best->alt = rest;
	return best;
}

/* One staged change into the table, telling the listeners. Consumes s. */
static void apply_one(struct cluster_cache *cc, enum cc_kind kind, struct staged *s)
{
	struct item *head = NULL, *old = NULL, *it = NULL, *new_head;
	size_t off = 0;

	if (classify(cc, s->key, &off) < 0)
		goto out;
	HASH_FIND_STR(cc->table[kind], s->key + off, head);
	old = group_find(head, s->key);
	if (old && s->rev && old->e.rev > s->rev)
		goto out;                       /* the cache already holds something newer */
	if (s->value && old && !strcmp(old->e.value, s->value)) {
		old->e.rev = s->rev;            /* the same record again: no delta */
		goto out;
	}
	if (s->value) {
		it = calloc(1, sizeof(*it));
		if (!it)
			goto out;
		it->e.key = s->key;
		it->e.value = s->value;
		s->key = s->value = NULL;
		it->e.name = it->e.key + off;
		it->e.rev = s->rev;
		it->e.kind = kind;
		if (decode(it, cc->per_node[kind])) {
			/* A record nobody can use counts as absent. */
			item_free(it);
			it = NULL;
		}
	}
	if (!old && !it)
		goto out;
	if (head)
		HASH_DEL(cc->table[kind], head);
	new_head = group_rebuild(head, old, it);
	if (new_head)
		HASH_ADD_KEYPTR(hh, cc->table[kind], new_head->e.name, strlen(new_head->e.name), new_head);
	cc->count[kind] += (size_t)(!head && new_head) - (size_t)(head && !new_head);
	/* Listeners see the current record of the name change, or nothing. */
	if (new_head != head || (new_head && new_head == it))
		notify(cc, kind, head ? &head->e : NULL, new_head ? &new_head->e : NULL);
	item_free(old);
out:
	staged_free(s);
}

size_t cc_apply(struct cluster_cache *cc, size_t max)
{
	struct staged *batch = NULL, **tail = &batch, *s, *tmp;
	size_t n = 0;
	int64_t rev;
	bool drained;

	/* The table lock first, as cc_stage_snapshot takes it: a re-list then sees either
	 * none or all of this batch. */
	pthread_rwlock_wrlock(&cc->table_lock);
	pthread_mutex_lock(&cc->stage_lock);
	/* Nodes first: an endpoint's location needs its node. Within a kind, puts before
	 * removals: a name whose record moved from one node's key to another's (a re-list
	 * after a migration) is then one change, not a removal and an add. */
	for (int k = 0; k < CC__KINDS && n < max; k++) {
		struct staged *dels = NULL, **dtail = &dels;

		HASH_ITER(hh, cc->pending[k], s, tmp) {
			if (n == max)
				break;
			HASH_DEL(cc->pending[k], s);
			s->kind = (enum cc_kind)k;
			s->next = NULL;
			if (s->value) {
				*tail = s;
				tail = &s->next;
			} else {
				*dtail = s;
				dtail = &s->next;
			}
			n++;
		}
		if (dels) {
			*tail = dels;
			tail = dtail;
		}
	}
	cc->n_pending -= n;
	drained = cc->n_pending == 0;
	rev = cc->staged_rev;
	pthread_mutex_unlock(&cc->stage_lock);

	for (s = batch; s; s = tmp) {
		tmp = s->next;
		apply_one(cc, s->kind, s);
	}
	for (size_t i = 0; n && i < cc->n_listeners; i++)
		if (cc->listeners[i].batch_end)
			cc->listeners[i].batch_end(cc->listeners[i].ctx);
	/* Copied under the lock: a subscriber may be added meanwhile. */
	bool touched[MAX_LISTENERS];
	struct cc_listener listeners[MAX_LISTENERS];
	size_t n_listeners = cc->n_listeners;

	memcpy(touched, cc->touched, sizeof(touched));
	memcpy(listeners, cc->listeners, n_listeners * sizeof(*listeners));
	memset(cc->touched, 0, sizeof(cc->touched));
	pthread_rwlock_unlock(&cc->table_lock);
	for (size_t i = 0; i < n_listeners; i++)
		if (touched[i] && listeners[i].settled)
			listeners[i].settled(listeners[i].ctx);

	pthread_mutex_lock(&cc->stage_lock);
	if (drained && cc->n_pending == 0 && rev > cc->applied_rev) {
		cc->applied_rev = rev;
		pthread_cond_broadcast(&cc->applied_cond);
	}
	pthread_mutex_unlock(&cc->stage_lock);
	return n;
}

int64_t cc_revision(struct cluster_cache *cc)
{
	int64_t rev;

	pthread_mutex_lock(&cc->stage_lock);
	rev = cc->applied_rev;
	pthread_mutex_unlock(&cc->stage_lock);
	return rev;
}

int cc_wait_revision(struct cluster_cache *cc, int64_t rev, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	deadline_after_ms(&ts, timeout_ms);
	pthread_mutex_lock(&cc->stage_lock);
	while (cc->applied_rev < rev)
		if (pthread_cond_timedwait(&cc->applied_cond, &cc->stage_lock, &ts)) {
			ret = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&cc->stage_lock);
	return ret;
}

void cc_read_lock(struct cluster_cache *cc)
{
	pthread_rwlock_rdlock(&cc->table_lock);
}

void cc_read_unlock(struct cluster_cache *cc)
{
	pthread_rwlock_unlock(&cc->table_lock);
}

const struct cc_entry *cc_find(struct cluster_cache *cc, enum cc_kind kind, const char *name)
{
	struct item *it;

	HASH_FIND_STR(cc->table[kind], name, it);
	return it ? &it->e : NULL;
}

int cc_foreach(struct cluster_cache *cc, enum cc_kind kind,
	       int (*cb)(const struct cc_entry *e, void *arg), void *arg)
{
	struct item *it, *tmp;
	int ret = 0;

	HASH_ITER(hh, cc->table[kind], it, tmp)
		if ((ret = cb(&it->e, arg)))
			break;
	return ret;
}

size_t cc_count(struct cluster_cache *cc, enum cc_kind kind)
{
	return cc->count[kind];
}
