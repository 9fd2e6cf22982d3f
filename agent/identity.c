/* Identity allocation in the state store: one number per label set, cluster-wide with etcd
 * (local with SQLite), reference-counted by endpoint and freed when the last one goes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "identity.h"
#include "log.h"

#define KEY_ID_LABELS "/petrel/identities/labels/"   /* canonical labels → id */
#define KEY_ID_BYID   "/petrel/identities/id/"       /* id → canonical labels */
#define KEY_ID_REFS   "/petrel/identities/refs/"     /* refs/<id>/<endpoint> */
#define KEY_ID_NEXT   "/petrel/identities/next"

/* Take the next free number with compare-and-swap on a counter key. */
static int next_number(struct agent *a, uint32_t *id)
{
	for (int attempt = 0; attempt < 32; attempt++) {
		char *value = NULL, buf[16];
		int64_t rev = 0;
		uint32_t n;
		int ret = store_get(a->store, KEY_ID_NEXT, &value, &rev);

		if (ret == -ENOENT) {
			snprintf(buf, sizeof(buf), "%u", IDENTITY_FIRST + 1);
			ret = store_create(a->store, KEY_ID_NEXT, buf, 0);
			if (ret == 0) {
				*id = IDENTITY_FIRST;
				return 0;
			}
			if (ret != -EEXIST)
				return ret;
			continue;
		}
		if (ret)
			return ret;
		n = (uint32_t)strtoul(value, NULL, 10);
		free(value);
		if (n < IDENTITY_FIRST || n == UINT32_MAX)
			return -EOVERFLOW;
		snprintf(buf, sizeof(buf), "%u", n + 1);
		ret = store_cas(a->store, KEY_ID_NEXT, buf, rev);
		if (ret == 0) {
			*id = n;
			return 0;
		}
		if (ret != -EAGAIN)
			return ret;
	}
	return -EAGAIN;
}

int identity_acquire(struct agent *a, const struct endpoint *ep, uint32_t *id)
{
	char canon[EP_MAX_LABELS * (2 * EP_LABEL_MAX + 2)], key[sizeof(canon) + 64], buf[16];
	char *value = NULL;
	int ret;

	ret = identity_canonical(ep->labels, ep->n_labels, canon, sizeof(canon));
	if (ret)
		return ret;
	snprintf(key, sizeof(key), KEY_ID_LABELS "%s", canon);
	for (int attempt = 0; attempt < 8; attempt++) {
		ret = store_get(a->store, key, &value, NULL);
		if (ret == 0) {
			*id = (uint32_t)strtoul(value, NULL, 10);
			free(value);
			break;
		}
		if (ret != -ENOENT)
			return ret;
		ret = next_number(a, id);
		if (ret)
			return ret;
		snprintf(buf, sizeof(buf), "%u", *id);
		ret = store_create(a->store, key, buf, 0);
		if (ret == 0) {
			char idkey[64];

			snprintf(idkey, sizeof(idkey), KEY_ID_BYID "%u", *id);
			ret = store_put(a->store, idkey, canon, 0);
			if (ret)
				return ret;
			log_info("identity %u allocated for labels {%s}", *id, canon);
			break;
		}
		if (ret != -EEXIST)   /* lost a race: another agent made it; read theirs */
			return ret;
	}
	snprintf(key, sizeof(key), KEY_ID_REFS "%u/%s", *id, ep->name);
	return store_put(a->store, key, "1", 0);
}

int identity_release(struct agent *a, const struct endpoint *ep)
{
	char canon[EP_MAX_LABELS * (2 * EP_LABEL_MAX + 2)], key[sizeof(canon) + 64];
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int ret;

	if (ep->identity < IDENTITY_FIRST)
		return 0;
	snprintf(key, sizeof(key), KEY_ID_REFS "%u/%s", ep->identity, ep->name);
	ret = store_delete(a->store, key);
	if (ret)
		return ret;
	snprintf(key, sizeof(key), KEY_ID_REFS "%u/", ep->identity);
	ret = store_list(a->store, key, &kvs, &n, NULL);
	store_kvs_free(kvs, n);
	if (ret || n)
		return ret;
	/* Last reference gone. A concurrent acquire on another node may have just read the
	 * number; it then re-creates the mapping on its next use (documented race, harmless:
	 * a number is never reused because the counter only grows). */
	if (identity_canonical(ep->labels, ep->n_labels, canon, sizeof(canon)) == 0) {
		snprintf(key, sizeof(key), KEY_ID_LABELS "%s", canon);
		store_delete(a->store, key);
	}
	snprintf(key, sizeof(key), KEY_ID_BYID "%u", ep->identity);
	store_delete(a->store, key);
	log_info("identity %u freed", ep->identity);
	return 0;
}
