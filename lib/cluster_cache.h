/* A local copy of cluster state, fed by the store's watch, that hands its consumers deltas.
 *
 * Changes are staged (cheap, from the watch thread) and applied in batches (from one
 * applier thread): per key the last writer wins, so a burst of events costs what the
 * distinct keys cost. Applying compares each staged value with the cached one and tells
 * every listener of that kind (old, new): NULL old is an add, NULL new a removal. The
 * cache never names its listeners; they subscribe, like the kernel's notifier chains. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cidr.h"
#include "endpoint.h"
#include "store.h"

enum cc_kind { CC_NODE, CC_ENDPOINT, CC_ALIVE, CC_POLICY, CC_IOAM, CC__KINDS };
#define CC_BIT(kind) (1u << (kind))

/* What the hot consumers need of a node record, decoded once. */
struct cc_node {
	struct ip_addr ip4, ip6;
	struct cidr block4, block6;      /* family 0: none */
};

/* What the hot consumers need of an endpoint record; the whole record is in value. */
struct cc_endpoint {
	char node[EP_NAME_MAX];
	struct ip_addr ip4, ip6;
	uint32_t identity;
	uint32_t epoch;
	bool moved;
};

struct cc_entry {
	char *key;                       /* the store key */
	const char *name;                /* the key after its kind's prefix (and node, per_node) */
	char *value;                     /* the record as stored */
	int64_t rev;                     /* its mod_revision */
	enum cc_kind kind;
	union {
		struct cc_node node;
		struct cc_endpoint ep;
	} u;
};

/* Listeners run on the applier thread with the cache locked for writing: they may read it
 * with cc_find and cc_foreach, never with the locking readers. */
struct cc_listener {
	const char *name;
	unsigned int kinds;              /* CC_BIT()s it wants */
	void (*changed)(void *ctx, const struct cc_entry *old, const struct cc_entry *new);
	void (*batch_end)(void *ctx);    /* after each applied batch; may be NULL */
	/* After a batch that told it something, with the cache unlocked (it may read with
	 * cc_read_lock); before cc_wait_revision sees the batch. May be NULL. */
	void (*settled)(void *ctx);
	void *ctx;
};

/* A kind whose records each node writes under its own name (prefix NODE/NAME, so that
 * the store's roles can let a node write only its own) may hold several records of one
 * name for a moment: a moved endpoint's new node writes its record before the old node
 * removes its own. The cache keeps them all and shows one, the current: highest epoch
 * (cc_endpoint), then latest revision. Listeners and readers see names, as for any kind;
 * a record whose node is not its key's is not kept. */
struct cc_prefix {
	const char *prefix;              /* e.g. "/petrel/nodes/" */
	enum cc_kind kind;
	bool per_node;
};

struct cluster_cache;

/* Keys matching none of the prefixes are not kept (their revisions still count). */
int cc_new(struct cluster_cache **cc, const struct cc_prefix *prefixes, size_t n);
void cc_free(struct cluster_cache *cc);
int cc_subscribe(struct cluster_cache *cc, const struct cc_listener *l);

/* Staging, from any thread. A change older than what is staged or cached is ignored. */
int cc_stage_put(struct cluster_cache *cc, const char *key, const char *value, int64_t rev);
int cc_stage_delete(struct cluster_cache *cc, const char *key, int64_t rev);
/* A full listing at revision rev (a re-list after a lost or compacted watch): stages every
 * listed key, and the removal of every cached or staged key the listing lacks. */
int cc_stage_snapshot(struct cluster_cache *cc, const struct store_kv *kvs, size_t n, int64_t rev);
size_t cc_pending(struct cluster_cache *cc);
/* Sleep until something is staged or timeout_ms passes; true if something is. */
bool cc_wait_pending(struct cluster_cache *cc, int timeout_ms);
void cc_kick(struct cluster_cache *cc);          /* wake cc_wait_pending (to stop) */

/* Apply up to max staged changes in one batch (nodes first, so endpoints find theirs);
 * the number applied. One thread at a time. */
size_t cc_apply(struct cluster_cache *cc, size_t max);
/* The highest revision staged and applied. */
int64_t cc_revision(struct cluster_cache *cc);
/* Wait until cc_revision reaches rev, or timeout_ms passes; 0 or -ETIMEDOUT. */
int cc_wait_revision(struct cluster_cache *cc, int64_t rev, int timeout_ms);

/* Reading. Under cc_read_lock (or inside a listener) the entries stay valid. */
void cc_read_lock(struct cluster_cache *cc);
void cc_read_unlock(struct cluster_cache *cc);
const struct cc_entry *cc_find(struct cluster_cache *cc, enum cc_kind kind, const char *name);
/* Entries of one kind in no particular order, until cb returns nonzero (returned). */
int cc_foreach(struct cluster_cache *cc, enum cc_kind kind,
	       int (*cb)(const struct cc_entry *e, void *arg), void *arg);
size_t cc_count(struct cluster_cache *cc, enum cc_kind kind);

/* A node record's addresses and blocks; -EINVAL without a valid ipv4. */
int cc_node_decode(const char *value, struct cc_node *n);
