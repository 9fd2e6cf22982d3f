/* The commit: which node runs the container is decided in cluster state, once. The source
 * claims the migration (/petrel/migrations/NAME) before it sends anything; the destination
 * commits by writing the endpoint's record with its own node once the restored container
 * runs; the source then removes its frozen copy, or, when the destination's answer was
 * lost, asks the store which side won. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migration.h"
#include "log.h"
#include "netlink.h"
#include "runc.h"
#include "util.h"

int claim(struct mig *m, struct api_error *e)
{
	char key[128], *text, *owner = NULL;
	int ret;

	snprintf(key, sizeof(key), KEY_MIGRATIONS "%s", m->name);
	text = json_dumps(json_pack("{s:s, s:s, s:s}", "id", m->id, "from", m->a->cfg.node,
				    "to", m->to), JSON_COMPACT);
	ret = store_create(m->a->store, key, text, 0);
	free(text);
	if (ret == -EEXIST) {
		store_get(m->a->store, key, &owner, NULL);
		api_fail(e, 409, "wait for it to finish", "container '%s' is already being migrated (%s)",
			 m->name, owner ? owner : "?");
		free(owner);
		return -1;
	}
	if (ret)
		return api_fail(e, 503, NULL, "cannot record the migration: %s", strerror(-ret));
	m->claimed = true;
	return 0;
}

void unclaim(struct mig *m)
{
	char key[128];

	if (!m->claimed)
		return;
	snprintf(key, sizeof(key), KEY_MIGRATIONS "%s", m->name);
	store_delete(m->a->store, key);
	m->claimed = false;
}

/* This node's return flows for the endpoint: carried to its next node, or no longer needed. */
void clear_return_flows(struct agent *a, const struct endpoint *ep)
{
	if (a->cfg.backend != BACKEND_EBPF)
		return;
	datapath_return_flows_clear(a->dp, &ep->ip4);
	datapath_return_flows_clear(a->dp, &ep->ip6);
}

/* The destination committed: this node sends the container's addresses there (what was
 * held follows), and keeps dropping what the frozen copy still sends. Straight there,
 * without waiting for the commit to come back through the watch. Called with the agent
 * lock held. */
void point_at_destination(struct mig *m)
{
	cluster_hold(m->a, m->name, DP_LOC_FROZEN);
	if (m->a->cfg.backend == BACKEND_EBPF && m->to4.family &&
	    cluster_point_endpoint(m->a, &m->ep, &m->to4, &m->to6, DP_LOC_FROZEN))
		log_warn("migrate %s: cannot point its addresses at %s", m->name, m->to);
}

void cleanup_source(struct mig *m)
{
	struct api_error e = { 0 };
	char *kill_argv[] = { "delete", "--force", m->name, NULL };
	char bundle[CONFIG_STR + 64];

	pthread_mutex_lock(&m->a->lock);
	/* Cluster state says the destination now: routes and locations point there, and what
	 * was held follows them, in order; what the frozen copy sends is still dropped. */
	point_at_destination(m);
	m->redirected = false;
	hold_release(m->hold, &m->held);
	if (m->hold)
		m->t_released = now_ms();
	m->hold = NULL;
	/* Cut the frozen copy off before killing it: killed, its sockets would reset every
	 * peer. */
	nl_link_delete(m->ep.ifname);
	if (container_runc(m->a, kill_argv, NULL, &e))
		log_warn("migrate %s: removing the frozen source: %s", m->name, e.msg);
	endpoint_release_local(m->a, &m->ep);
	container_unmount(m->a, m->name);
	container_bundle_dir(m->a, m->name, bundle, sizeof(bundle));
	rm_tree(bundle);
	clear_return_flows(m->a, &m->ep);
	/* The frozen copy is gone: the hold ends once this node's cache has the commit, so
	 * the location it falls back to is the destination's. */
	if (cluster_catch_up_key(m->a, KEY_ENDPOINTS, m->name))
		log_warn("migrate %s: the commit has not reached this node's cache yet", m->name);
	cluster_hold(m->a, m->name, 0);
	pthread_mutex_unlock(&m->a->lock);
	m->frozen = false;
}

/* Did the destination take over? Asked of cluster state when its answer was lost. */
bool destination_owns(struct mig *m)
{
	struct endpoint ep;
	bool owns;

	/* From the store, not the cache: this decides which copy lives. */
	pthread_mutex_lock(&m->a->lock);
	owns = cluster_endpoint_read(m->a, m->name, &ep) == 0 && !strcmp(ep.node, m->to);
	pthread_mutex_unlock(&m->a->lock);
	return owns;
}



int dest_commit(struct dest *d, struct api_error *e)
{
	char key[128], *text;
	int ret;

	d->ep.moved = true;
	snprintf(d->ep.state, sizeof(d->ep.state), "ready");
	text = endpoint_encode(&d->ep);
	snprintf(key, sizeof(key), KEY_ENDPOINTS "%s", d->ep.name);
	ret = text ? store_put(d->a->store, key, text, 0) : -ENOMEM;
	free(text);
	if (ret)
		return api_fail(e, 503, NULL, "cannot record the new location: %s", strerror(-ret));
	return 0;
}
