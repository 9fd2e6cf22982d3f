/* An agent restarting in the middle of a migration settles it from cluster state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migration.h"
#include "log.h"

/* The source agent died mid-migration: its claims are stale. A container of ours left
 * frozen for a migration that never committed (the record still names this node) runs
 * again here, with its endpoint back in the datapath; one whose destination committed
 * (the record names the destination) is the destination's, and this node's frozen copy
 * goes. Held packets were lost with the agent; TCP resends them. */
void migrate_recover(struct agent *a)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;

	hold_cleanup_stale();
	criu_kdat_refresh(a);
	if (store_list(a->store, KEY_MIGRATIONS, &kvs, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *j = json_loads(kvs[i].value, 0, NULL);
		const char *from = json_string_value(json_object_get(j, "from"));
		const char *name = kvs[i].key + strlen(KEY_MIGRATIONS);
		struct mig m = { .a = a };
		struct container c;

		if (!from || strcmp(from, a->cfg.node)) {
			json_decref(j);
			continue;
		}
		snprintf(m.name, sizeof(m.name), "%s", name);
		snprintf(m.to, sizeof(m.to), "%s", json_string_value(json_object_get(j, "to")) ?: "");
		m.claimed = true;
		if (container_get(a, name, &c) == 0 && cluster_endpoint_get(a, name, &m.ep) == 0) {
			m.c = c;
			if (!strcmp(m.ep.node, a->cfg.node)) {
				log_warn("migration of %s to %s was interrupted; resuming it here", name, m.to);
				m.frozen = m.redirected = true;
				pthread_mutex_unlock(&a->lock);
				unfreeze(&m);
				pthread_mutex_lock(&a->lock);
			} else if (!strcmp(c.node, m.ep.node)) {
				log_warn("migration of %s to %s had committed; removing the copy left here",
					 name, m.ep.node);
				pthread_mutex_unlock(&a->lock);
				cleanup_source(&m);
				pthread_mutex_lock(&a->lock);
			}
		}
		unclaim(&m);
		json_decref(j);
	}
	store_kvs_free(kvs, n);
}

