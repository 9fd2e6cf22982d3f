/* Store dispatch: one interface, SQLite or etcd underneath. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store_impl.h"

int store_prefix_end(const char *prefix, char *out, size_t len)
{
	size_t n = strlen(prefix);

	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(out, prefix, n + 1);
	for (size_t i = n; i-- > 0;) {
		if ((unsigned char)out[i] < 0xff) {
			out[i]++;
			out[i + 1] = 0;
			return 0;
		}
	}
	return -EINVAL;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_backend(const struct store *s)
{
	return s->ops->name;
}

int store_get(struct store *s, const char *key, char **value, int64_t *rev)
{
	return s->ops->get(s, key, value, rev);
}

int store_put(struct store *s, const char *key, const char *value, int64_t lease)
{
	return s->ops->put(s, key, value, lease);
}

int store_create(struct store *s, const char *key, const char *value, int64_t lease)
{
	return s->ops->create(s, key, value, lease);
}

int store_cas(struct store *s, const char *key, const char *value, int64_t expected)
{
	return s->ops->cas(s, key, value, expected);
}

int store_txn_if(struct store *s, const char *key, int64_t expected, const struct store_op *ops,
		 size_t n)
{
	return s->ops->txn_if(s, key, expected, ops, n);
}

int store_delete(struct store *s, const char *key)
{
	return s->ops->del(s, key);
}

int store_list(struct store *s, const char *prefix, struct store_kv **kvs, size_t *n, int64_t *rev)
{
	return s->ops->list(s, prefix, kvs, n, rev);
}

void store_kvs_free(struct store_kv *kvs, size_t n)
{
	for (size_t i = 0; kvs && i < n; i++) {
		free(kvs[i].key);
		free(kvs[i].value);
	}
	free(kvs);
}

int store_lease_grant(struct store *s, int ttl, int64_t *lease)
{
	return s->ops->lease_grant(s, ttl, lease);
}

int store_lease_keepalive(struct store *s, int64_t lease)
{
	return s->ops->lease_keepalive(s, lease);
}

int store_watch(struct store *s, const char *prefix, int64_t start_rev, store_watch_cb cb, void *arg)
{
	return s->ops->watch ? s->ops->watch(s, prefix, start_rev, cb, arg) : -ENOTSUP;
}

void store_watch_stop(struct store *s)
{
	if (s->ops->watch_stop)
		s->ops->watch_stop(s);
}

static __thread int64_t last_write_rev;
static __thread struct timespec deadline;     /* tv_sec 0: none */

void store_note_write_revision(int64_t rev)
{
	if (rev > last_write_rev)
		last_write_rev = rev;
}

int64_t store_last_write_revision(void)
{
	return last_write_rev;
}

void store_deadline_set(int ms)
{
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
}

void store_deadline_clear(void)
{
	deadline.tv_sec = 0;
}

long store_deadline_left(long limit)
{
	struct timespec now;
	long left;

	if (!deadline.tv_sec)
		return limit;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (deadline.tv_sec - now.tv_sec) * 1000L + (deadline.tv_nsec - now.tv_nsec) / 1000000L;
	if (left < 0)
		left = 0;
	return left < limit ? left : limit;
}
