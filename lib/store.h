/* Key-value state store with two backends behind one interface:
 *  - SQLite in the node's state directory (single node, no extra service);
 *  - etcd through its v3 JSON gateway (several nodes), with leases and watches.
 * Keys are plain strings like "/petrel/endpoints/web"; values are JSON text. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

struct store;

struct store_kv {
	char *key;
	char *value;
	int64_t mod_revision;
};

enum store_event_type { STORE_PUT, STORE_DELETE };

struct store_event {
	enum store_event_type type;
	const char *key;
	const char *value;      /* NULL on delete */
	int64_t mod_revision;
};

/* Called from the watch thread; return nonzero to stop watching. */
typedef int (*store_watch_cb)(const struct store_event *ev, void *arg);

int store_open_sqlite(struct store **s, const char *path);
/* endpoints: comma-separated "http[s]://host:port" list; fails with -ECONNREFUSED/-ETIMEDOUT
 * (after trying each for ~2 s) when none answers. */
int store_open_etcd(struct store **s, const char *endpoints);
/* The same over https://: etcd's certificate is checked against ca, and cert/key (both
 * empty: none) authenticate this client to an etcd that asks for client certificates.
 * With user set, every request also carries a token for that etcd user (its roles decide
 * what it may write), got with password and renewed when etcd forgets it. etcd's JSON
 * gateway ignores the certificate's CN as a user name, and refuses a certificate with a
 * CN once auth is on: such a client's certificate has none. */
struct store_tls {
	char ca[256], cert[256], key[256];
	char user[64], password[128];
};
int store_open_etcd_tls(struct store **s, const char *endpoints, const struct store_tls *tls);
void store_close(struct store *s);
const char *store_backend(const struct store *s);       /* "sqlite" or "etcd" */

/* Every call returns -EACCES when the store's roles forbid it to this client. */
int store_get(struct store *s, const char *key, char **value, int64_t *mod_revision);  /* -ENOENT */
int store_put(struct store *s, const char *key, const char *value, int64_t lease);     /* lease 0: none */
/* Create only if absent (atomic): -EEXIST otherwise. */
int store_create(struct store *s, const char *key, const char *value, int64_t lease);
/* Replace only if the key's mod_revision still equals expected: -EAGAIN otherwise. */
int store_cas(struct store *s, const char *key, const char *value, int64_t expected_mod_revision);
int store_delete(struct store *s, const char *key);                                     /* 0 if absent */
/* One write of store_txn_if: key = value, or key deleted when value is NULL. */
struct store_op {
	const char *key, *value;
};
/* If key exists with mod_revision expected (or key is NULL: always), apply every op in one
 * atomic transaction; -EAGAIN otherwise (nothing applied). Two parties each expecting the same revision: one
 * wins, the other gets -EAGAIN. A key appears at most once in ops. */
int store_txn_if(struct store *s, const char *key, int64_t expected, const struct store_op *ops,
		 size_t n);
/* All keys with prefix, sorted by key. *rev gets the store revision of the read (may be NULL). */
int store_list(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev);
void store_kvs_free(struct store_kv *kvs, size_t n);

/* Leases (etcd); SQLite accepts them and ignores expiry. */
int store_lease_grant(struct store *s, int ttl_seconds, int64_t *lease);
int store_lease_keepalive(struct store *s, int64_t lease);

/* Block, delivering events for keys under prefix after revision start_rev, until cb returns
 * nonzero or store_watch_stop() is called. -ENOTSUP on SQLite (single node: nothing remote). */
int store_watch(struct store *s, const char *prefix, int64_t start_rev, store_watch_cb cb, void *arg);
void store_watch_stop(struct store *s);

/* The store revision this thread's last successful write produced (etcd; 0 before any),
 * so the writer can wait until its own change has reached the cluster cache. */
int64_t store_last_write_revision(void);
/* Bound every store call this thread makes until store_deadline_clear() to end by
 * ms from now: a call past it fails at once with -ETIMEDOUT. An unreachable or hung
 * store then costs an API request a bounded time, not one timeout per call. */
void store_deadline_set(int ms);
void store_deadline_clear(void);
/* Milliseconds left before this thread's deadline (limit when none is set, or less). */
long store_deadline_left(long limit);
