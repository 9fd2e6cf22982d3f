/* The commit: which node runs the container is decided in cluster state, once. The source
 * claims the migration (/petrel/migrations/NAME) before it sends anything; the destination
 * commits by writing the endpoint's record with its own node once the restored container
 * runs; the source then removes its frozen copy, or, when the destination's answer was
 * lost, asks the store which side won. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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



/* A rootfs this node will mount as the lower layer: canonical (no link to follow), a
 * directory, not a host tree, and not holding this agent's own state. */
static bool rootfs_acceptable(struct agent *a, const char *rootfs)
{
	char real[PATH_MAX];
	size_t n = strlen(rootfs);
	struct stat st;

	return container_rootfs_valid(rootfs) && realpath(rootfs, real) && !strcmp(real, rootfs) &&
	       !lstat(rootfs, &st) && S_ISDIR(st.st_mode) &&
	       !(strncmp(a->cfg.state_dir, rootfs, n) == 0 &&
		 (a->cfg.state_dir[n] == '/' || a->cfg.state_dir[n] == 0));
}

static bool in_cluster(const struct cidr *pool, const struct ip_addr *ip)
{
	return !ip->family || cidr_contains(pool, ip);
}

int claim_verify(struct agent *a, const char *id, const char *name, const char *peer,
		 struct container *c, struct endpoint *ep, struct api_error *e)
{
	char key[128], *v = NULL;
	json_t *j = NULL;
	bool claimed;
	int ret;

	if (!name || !name_valid(name))
		return api_fail(e, 400, NULL, "malformed migration request");
	snprintf(key, sizeof(key), KEY_MIGRATIONS "%s", name);
	pthread_mutex_lock(&a->lock);
	if (store_get(a->store, key, &v, NULL) == 0)
		j = json_loads(v, 0, NULL);
	free(v);
	claimed = j && !strcmp(json_string_value(json_object_get(j, "id")) ?: "", id) &&
		  !strcmp(json_string_value(json_object_get(j, "from")) ?: "", peer) &&
		  !strcmp(json_string_value(json_object_get(j, "to")) ?: "", a->cfg.node);
	json_decref(j);
	if (!claimed)
		ret = api_fail(e, 403, NULL, "cluster state holds no claim for migration %s of '%s' "
			       "from %s to %s", id, name, peer, a->cfg.node);
	else if (container_get(a, name, c) || strcmp(c->node, peer))
		ret = api_fail(e, 403, NULL, "container '%s' is not %s's to move", name, peer);
	else if (cluster_endpoint_read(a, name, ep) || strcmp(ep->node, peer))
		ret = api_fail(e, 403, NULL, "endpoint '%s' is not %s's to move", name, peer);
	else if (!rootfs_acceptable(a, c->rootfs))
		ret = api_fail(e, 403, NULL, "container '%s' names rootfs '%s', which this node does not "
			       "accept (not canonical, not a directory, or a host tree)", name, c->rootfs);
	else if (!in_cluster(&a->cfg.pools.cluster4, &ep->ip4) ||
		 !in_cluster(&a->cfg.pools.cluster6, &ep->ip6))
		ret = api_fail(e, 403, NULL, "endpoint '%s' has addresses outside the cluster's", name);
	else
		ret = 0;
	pthread_mutex_unlock(&a->lock);
	return ret;
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
