/* An agent restarting in the middle of a migration settles it from cluster state: the
 * claim says which side won (commit.c), and the container's record says where it runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migration.h"
#include "log.h"
#include "runc.h"
#include "util.h"

/* A claim this node made as the source, left by its previous run. Called unlocked. */
static void settle_own_claim(struct agent *a, const char *name, const struct mig_claim *cl,
			     int64_t rev)
{
	const char *id = cl->id, *state = cl->state;
	struct mig m = { .a = a, .claimed = true };
	int won;

	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.to, sizeof(m.to), "%s", cl->to);
	/* Not settled yet: settle it now (frozen here until the store answers). */
	won = !strcmp(state, CLAIM_COMMITTED) ? 1 : !strcmp(state, CLAIM_ABORTED) ? 0 :
	      claim_settle(a, name, id, a->cfg.node, m.to, rev);
	snprintf(m.id, sizeof(m.id), "%s", id);
	if (mig_id_valid(id))
		snprintf(m.dir, sizeof(m.dir), "%s/migrations/%s", a->cfg.state_dir, id);
	/* A Podman container's: Podman restores it (or it goes), once the API answers. */
	if (won >= 0 && mig_id_valid(id) && podman_recover(a, id, won))
		return;
	pthread_mutex_lock(&a->lock);
	/* This node's half of the endpoint as it was, not the record (which, committed,
	 * describes the destination's). */
	if (container_get(a, name, &m.c) || !mig_id_valid(id) ||
	    claim_source_endpoint(a, id, &m.ep)) {
		pthread_mutex_unlock(&a->lock);
		log_warn("migration %s of %s: nothing of it left here", id, name);
		unclaim(&m);
		return;
	}
	pthread_mutex_unlock(&a->lock);
	if (won >= 0)
		lazy_leftover_end(m.dir);
	if (won == 1) {
		log_warn("migration %s of %s to %s had committed; removing the copy left here", id,
			 name, m.to);
		cleanup_source(&m);
	} else if (won == 0) {
		log_warn("migration %s of %s to %s did not commit; resuming it here", id, name, m.to);
		m.frozen = m.redirected = true;
		unfreeze(&m);
	} else {
		return;         /* stopping: the next start settles it */
	}
	unclaim(&m);
	remove_dir(a, m.dir);
}

/* A container runc has here whose record names another node, or none: a destination's
 * restored copy whose agent died before it committed (the source resumed it), or half
 * made. The record says where a container runs; this copy goes. Lock held. */
static void remove_orphan(struct agent *a, const char *name)
{
	char *argv[] = { "delete", "--force", (char *)name, NULL }, bundle[CONFIG_STR + 64];
	struct api_error e = { 0 };
	struct endpoint ep;

	log_warn("container %s runs here but its record names another node; removing this copy",
		 name);
	if (container_runc(a, argv, NULL, &e))
		log_warn("container %s: %s", name, e.msg);
	container_unmount(a, name);
	container_bundle_dir(a, name, bundle, sizeof(bundle));
	rm_tree(bundle);
	/* The endpoint half it adopted: same addresses, this node's own namespace name. */
	if (cluster_endpoint_get(a, name, &ep) == 0 && strcmp(ep.node, a->cfg.node)) {
		snprintf(ep.node, sizeof(ep.node), "%s", a->cfg.node);
		snprintf(ep.netns, sizeof(ep.netns), "%s%s.%s", a->cfg.netns_prefix, ep.name,
			 a->cfg.node);
		endpoint_release_local(a, &ep);
		cluster_refresh_endpoint(a, name);
	}
}

static void remove_orphans(struct agent *a)
{
	char *argv[] = { "list", "-q", NULL }, *out = NULL, *save = NULL;
	struct api_error e = { 0 };

	if (container_runc(a, argv, &out, &e))
		return;
	for (char *name = strtok_r(out, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
		struct container c;
		int ret = container_get(a, name, &c);
		char status[32] = "";
		int pid = 0;

		if (!name_valid(name))
			continue;
		if (ret == -ENOENT || (!ret && strcmp(c.node, a->cfg.node))) {
			remove_orphan(a, name);
		} else if (!ret && container_runc_state(a, name, &pid, status, sizeof(status)) == 0 &&
			   !strcmp(status, "paused")) {
			/* Left frozen by a migration that ended with the agent (a source that
			 * never resumed it, or a destination whose commit landed unseen): the
			 * record names this node, so it runs here. petrel pauses nothing else. */
			log_warn("container %s was left frozen by a migration; it runs here: thawing it",
				 name);
			if (container_freeze(a, &c, false, &e))
				log_warn("container %s: %s", name, e.msg);
		}
	}
	free(out);
}

void migrate_recover(struct agent *a)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;

	hold_cleanup_stale();
	restore_gates_release(a);
	images_tmpfs_sweep(a);
	criu_kdat_refresh(a);
	if (store_list(a->store, KEY_MIGRATIONS, &kvs, &n, NULL) == 0) {
		pthread_mutex_unlock(&a->lock);
		for (size_t i = 0; i < n; i++) {
			struct mig_claim cl;

			if (mig_claim_parse(kvs[i].value, &cl) == 0 && !strcmp(cl.from, a->cfg.node))
				settle_own_claim(a, kvs[i].key + strlen(KEY_MIGRATIONS), &cl,
						 kvs[i].mod_revision);
		}
		pthread_mutex_lock(&a->lock);
		store_kvs_free(kvs, n);
	}
	remove_orphans(a);
	/* Records of endpoints that moved away while this agent was not there to remove them. */
	endpoints_sweep_stale(a);
}
