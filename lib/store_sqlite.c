/* SQLite store backend: the single-node state, one file in the state directory. Every write
 * bumps a revision counter so mod_revision compare-and-swap works as with etcd. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "store_impl.h"

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	pthread_mutex_t lock;
	int64_t next_lease;
};

#define SQ(s) ((struct store_sqlite *)(s))

static int sq_err(int rc)
{
	switch (rc) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
	case SQLITE_CONSTRAINT: return -EEXIST;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_CANTOPEN: case SQLITE_PERM: case SQLITE_READONLY: return -EACCES;
	default: return -EIO;
	}
}

static int exec(sqlite3 *db, const char *sql)
{
	return sq_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Bump and return the revision; caller holds the lock inside a transaction. */
static int next_rev(sqlite3 *db, int64_t *rev)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "UPDATE meta SET v = v + 1 WHERE k = 'revision' RETURNING v", -1, &st, NULL);
	if (rc)
		return sq_err(rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*rev = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int current_rev(sqlite3 *db, int64_t *rev)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'revision'", -1, &st, NULL);

	if (rc)
		return sq_err(rc);
	rc = sqlite3_step(st);
	*rev = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

enum { CHANGE_ANY, CHANGE_OR_EAGAIN, CHANGE_OR_NOTHING };

/* Run one write statement (key, value, [expected]) in a transaction with a new revision.
 * A statement that changed no row fails with -EAGAIN (CAS) or is rolled back quietly (delete
 * of an absent key), so the revision moves only on real changes, as in etcd. */
static int write_op(struct store *s, const char *sql, const char *key, const char *value,
		    int64_t expected, int change)
{
	struct store_sqlite *q = SQ(s);
	sqlite3_stmt *st = NULL;
	int64_t rev = 0;
	int ret;

	pthread_mutex_lock(&q->lock);
	ret = exec(q->db, "BEGIN IMMEDIATE");
	if (ret)
		goto out;
	ret = next_rev(q->db, &rev);
	if (!ret)
		ret = sq_err(sqlite3_prepare_v2(q->db, sql, -1, &st, NULL));
	if (!ret) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (value)
			sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, rev);
		sqlite3_bind_int64(st, 4, expected);
		ret = sq_err(sqlite3_step(st));
		if (!ret && change != CHANGE_ANY && sqlite3_changes(q->db) == 0)
			ret = change == CHANGE_OR_EAGAIN ? -EAGAIN : 1;
	}
	sqlite3_finalize(st);
	if (ret) {
		exec(q->db, "ROLLBACK");
		ret = ret > 0 ? 0 : ret;
	} else {
		ret = exec(q->db, "COMMIT");
	}
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static int sq_put(struct store *s, const char *key, const char *value, int64_t lease)
{
	return write_op(s, "INSERT INTO kv(key, value, mod_revision) VALUES (?1, ?2, ?3) "
			   "ON CONFLICT(key) DO UPDATE SET value = ?2, mod_revision = ?3",
			key, value, 0, CHANGE_ANY);
}

static int sq_create(struct store *s, const char *key, const char *value, int64_t lease)
{
	return write_op(s, "INSERT INTO kv(key, value, mod_revision) VALUES (?1, ?2, ?3)",
			key, value, 0, CHANGE_ANY);
}

static int sq_cas(struct store *s, const char *key, const char *value, int64_t expected)
{
	return write_op(s, "UPDATE kv SET value = ?2, mod_revision = ?3 WHERE key = ?1 AND mod_revision = ?4",
			key, value, expected, CHANGE_OR_EAGAIN);
}

static int sq_txn_if(struct store *s, const char *key, int64_t expected, const struct store_op *ops,
		     size_t n)
{
	struct store_sqlite *q = SQ(s);
	sqlite3_stmt *st = NULL;
	int64_t rev = 0, cur = -1;
	int ret;

	pthread_mutex_lock(&q->lock);
	ret = exec(q->db, "BEGIN IMMEDIATE");
	if (ret)
		goto out;
	ret = key ? sq_err(sqlite3_prepare_v2(q->db, "SELECT mod_revision FROM kv WHERE key = ?1", -1, &st, NULL)) : 0;
	if (!ret && !key) {
		ret = next_rev(q->db, &rev);
	} else if (!ret) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			cur = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		ret = cur == expected ? next_rev(q->db, &rev) : -EAGAIN;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		ret = sq_err(sqlite3_prepare_v2(q->db, ops[i].value ?
			"INSERT INTO kv(key, value, mod_revision) VALUES (?1, ?2, ?3) "
			"ON CONFLICT(key) DO UPDATE SET value = ?2, mod_revision = ?3" :
			"DELETE FROM kv WHERE key = ?1 AND ?3 = ?3", -1, &st, NULL));
		if (ret)
			break;
		sqlite3_bind_text(st, 1, ops[i].key, -1, SQLITE_STATIC);
		if (ops[i].value)
			sqlite3_bind_text(st, 2, ops[i].value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, rev);
		ret = sq_err(sqlite3_step(st));
		sqlite3_finalize(st);
		st = NULL;
	}
	ret = ret ? (exec(q->db, "ROLLBACK"), ret) : exec(q->db, "COMMIT");
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static int sq_del(struct store *s, const char *key)
{
	return write_op(s, "DELETE FROM kv WHERE key = ?1 AND ?3 = ?3", key, NULL, 0, CHANGE_OR_NOTHING);
}

static int sq_get(struct store *s, const char *key, char **value, int64_t *rev)
{
	struct store_sqlite *q = SQ(s);
	sqlite3_stmt *st;
	int rc, ret;

	pthread_mutex_lock(&q->lock);
	rc = sqlite3_prepare_v2(q->db, "SELECT value, mod_revision FROM kv WHERE key = ?1", -1, &st, NULL);
	if (rc) {
		pthread_mutex_unlock(&q->lock);
		return sq_err(rc);
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*value = strdup((const char *)sqlite3_column_text(st, 0));
		if (rev)
			*rev = sqlite3_column_int64(st, 1);
		ret = *value ? 0 : -ENOMEM;
	} else {
		ret = rc == SQLITE_DONE ? -ENOENT : sq_err(rc);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static int sq_list(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev)
{
	struct store_sqlite *q = SQ(s);
	char end[512];
	sqlite3_stmt *st;
	struct store_kv *kvs = NULL;
	size_t cap = 0;
	int rc, ret = 0;

	*n = 0;
	/* A range on the primary key (BINARY collation compares bytes) rather than LIKE, which
	 * would need '%' and '_' escaped. The empty prefix has no upper bound. */
	if (!*prefix)
		end[0] = 0;
	else if (store_prefix_end(prefix, end, sizeof(end)))
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	rc = sqlite3_prepare_v2(q->db, "SELECT key, value, mod_revision FROM kv "
				       "WHERE key >= ?1 AND (?2 = '' OR key < ?2) ORDER BY key", -1, &st, NULL);
	if (rc) {
		pthread_mutex_unlock(&q->lock);
		return sq_err(rc);
	}
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			struct store_kv *nk = realloc(kvs, (cap = cap ? cap * 2 : 16) * sizeof(*kvs));
			if (!nk) {
				ret = -ENOMEM;
				break;
			}
			kvs = nk;
		}
		struct store_kv *kv = &kvs[(*n)++];

		kv->key = strdup((const char *)sqlite3_column_text(st, 0));
		kv->value = strdup((const char *)sqlite3_column_text(st, 1));
		kv->mod_revision = sqlite3_column_int64(st, 2);
		if (!kv->key || !kv->value) {
			ret = -ENOMEM;
			break;
		}
	}
	if (!ret && rc != SQLITE_DONE)
		ret = sq_err(rc);
	sqlite3_finalize(st);
	if (!ret && rev)
		ret = current_rev(q->db, rev);
	pthread_mutex_unlock(&q->lock);
	if (ret) {
		store_kvs_free(kvs, *n);
		*n = 0;
		return ret;
	}
	*out = kvs;
	return 0;
}

static int sq_lease_grant(struct store *s, int ttl, int64_t *lease)
{
	/* One process, nothing expires: liveness is local. */
	pthread_mutex_lock(&SQ(s)->lock);
	*lease = ++SQ(s)->next_lease;
	pthread_mutex_unlock(&SQ(s)->lock);
	return 0;
}

static int sq_lease_keepalive(struct store *s, int64_t lease)
{
	return 0;
}

static void sq_close(struct store *s)
{
	sqlite3_close(SQ(s)->db);
	pthread_mutex_destroy(&SQ(s)->lock);
	free(s);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite", .close = sq_close, .get = sq_get, .put = sq_put, .create = sq_create,
	.cas = sq_cas, .txn_if = sq_txn_if, .del = sq_del, .list = sq_list, .lease_grant = sq_lease_grant,
	.lease_keepalive = sq_lease_keepalive,
};

int store_open_sqlite(struct store **out, const char *path)
{
	struct store_sqlite *q = calloc(1, sizeof(*q));
	int ret;

	if (!q)
		return -ENOMEM;
	q->base.ops = &sqlite_ops;
	pthread_mutex_init(&q->lock, NULL);
	ret = sq_err(sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_FULLMUTEX, NULL));
	if (!ret) {
		sqlite3_busy_timeout(q->db, 5000);
		ret = exec(q->db, "PRAGMA journal_mode=WAL;"
				  "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL,"
				  " mod_revision INTEGER NOT NULL);"
				  "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
				  "INSERT OR IGNORE INTO meta VALUES ('revision', 0);");
	}
	if (ret) {
		sqlite3_close(q->db);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return ret;
	}
	*out = &q->base;
	return 0;
}
