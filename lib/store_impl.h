/* Private to the store: the backend operations table behind lib/store.h. */
#pragma once
#include "store.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	int (*get)(struct store *s, const char *key, char **value, int64_t *rev);
	int (*put)(struct store *s, const char *key, const char *value, int64_t lease);
	int (*create)(struct store *s, const char *key, const char *value, int64_t lease);
	int (*cas)(struct store *s, const char *key, const char *value, int64_t expected);
	int (*del)(struct store *s, const char *key);
	int (*txn_if)(struct store *s, const char *key, int64_t expected, const struct store_op *ops,
		      size_t n);
	int (*list)(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev);
	int (*lease_grant)(struct store *s, int ttl, int64_t *lease);
	int (*lease_keepalive)(struct store *s, int64_t lease);
	int (*watch)(struct store *s, const char *prefix, int64_t start_rev, store_watch_cb cb, void *arg);
	void (*watch_stop)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* "prefix" → the first key after every key that starts with prefix (bytewise). */
int store_prefix_end(const char *prefix, char *out, size_t len);

/* Backends report the revision each successful write produced. */
void store_note_write_revision(int64_t rev);
