/* The commit: which node runs the container is decided in cluster state, once, by a
 * compare-and-set on the migration's claim (/petrel/migrations/NAME):
 *
 *   source: create  {"id","from","to","state":"claimed"}        (revision R)
 *   destination, once the restored copy runs:
 *           if claim still at R: claim "committed", its own endpoint record (epoch + 1,
 *           which makes it the current one) and the container record naming it, in one
 *           transaction
 *   source, once it knows: removes its own endpoint record (each node writes only its
 *           own; until then the destination's higher epoch is what everyone sees)
 *   source, when it would resume (a failure, or the answer lost):
 *           if claim still at R: claim "aborted"
 *
 * Both expect revision R, so exactly one of them wins: the container runs on exactly one
 * node. A side that cannot reach the store does not guess: the source stays frozen, the
 * destination freezes its copy, and both retry until the store answers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "migration.h"
#include "image.h"
#include "log.h"
#include "netlink.h"
#include "runc.h"
#include "util.h"

#define SETTLE_RETRY_MS 500

static void claim_key(char *key, size_t len, const char *name)
{
	snprintf(key, len, KEY_MIGRATIONS "%s", name);
}

static char *claim_text(const char *id, const char *from, const char *to, const char *state)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "from", from, "to", to,
			      "state", state);
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return text;
}

int claim(struct mig *m, struct api_error *e)
{
	char key[128], *text, *owner = NULL;
	int ret;

	claim_key(key, sizeof(key), m->name);
	text = claim_text(m->id, m->a->cfg.node, m->to, CLAIM_CLAIMED);
	ret = text ? store_create(m->a->store, key, text, 0) : -ENOMEM;
	free(text);
	if (ret == -EEXIST) {
		store_get(m->a->store, key, &owner, NULL);
		api_fail(e, 409, "wait for it to finish", "container '%s' is already being migrated (%s)",
			 m->name, owner ? owner : "?");
		free(owner);
		return -1;
	}
	if (!ret && (ret = store_get(m->a->store, key, &owner, &m->claim_rev)) == 0)
		free(owner);
	if (ret)
		return api_fail(e, 503, NULL, "cannot record the migration: %s", strerror(-ret));
	m->claimed = true;
	/* This node's half of the endpoint, for a restarted agent that must remove it: once
	 * the destination commits, the record describes the destination's half. */
	text = endpoint_encode(&m->ep);
	{
		char path[MIGRATION_DIR_MAX + 32];

		snprintf(path, sizeof(path), "%s/source-endpoint.json", m->dir);
		if (!text || mkdir_p(m->dir, 0700) || write_file_atomic(path, text))
			log_warn("migrate %s: cannot keep %s", m->name, path);
	}
	free(text);
	return 0;
}

int claim_source_endpoint(struct agent *a, const char *id, struct endpoint *ep)
{
	char path[MIGRATION_DIR_MAX + 32], *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "%s/migrations/%s/source-endpoint.json", a->cfg.state_dir, id);
	if ((ret = read_file(path, &text)))
		return ret;
	ret = endpoint_decode(text, ep);
	free(text);
	return ret;
}

void unclaim(struct mig *m)
{
	char key[128];

	if (!m->claimed)
		return;
	claim_key(key, sizeof(key), m->name);
	store_delete(m->a->store, key);
	m->claimed = false;
}

/* The claim's state ("claimed", "committed", "aborted") and id into state/id; -ENOENT when
 * there is none, -errno when the store does not answer. */
static int claim_read(struct agent *a, const char *name, char *state, size_t slen, char *id,
		      size_t idlen, int64_t *rev)
{
	char key[128], *v = NULL;
	struct mig_claim cl;
	int ret;

	claim_key(key, sizeof(key), name);
	if ((ret = store_get(a->store, key, &v, rev)))
		return ret;
	if (mig_claim_parse(v, &cl)) {
		snprintf(state, slen, "%s", "?");
		snprintf(id, idlen, "%s", "");
	} else {
		snprintf(state, slen, "%s", cl.state);
		snprintf(id, idlen, "%s", cl.id);
	}
	free(v);
	return 0;
}

/* No claim of this migration is left (the source ends its claim only once settled): the
 * endpoint's record says where the container runs. 1 there, 0 not, -errno unknown. */
static int record_says(struct agent *a, const char *name, const char *to)
{
	struct endpoint here, there;
	int ret, mine;

	pthread_mutex_lock(&a->lock);
	mine = cluster_endpoint_read_at(a, a->cfg.node, name, &here);
	ret = cluster_endpoint_read_at(a, to, name, &there);
	pthread_mutex_unlock(&a->lock);
	if (ret == -ENOENT)
		return 0;
	if (ret || (mine && mine != -ENOENT))
		return ret ? ret : mine;
	return mine == -ENOENT || there.epoch > here.epoch;
}

int claim_settle(struct agent *a, const char *name, const char *id, const char *from,
		 const char *to, int64_t rev)
{
	char key[128], state[16], seen[MIGRATION_ID_MAX];
	char *text = claim_text(id, from, to, CLAIM_ABORTED);
	uint64_t t0 = now_ms(), told = 0;
	int ret = -ENOMEM;

	claim_key(key, sizeof(key), name);
	while (text) {
		ret = store_cas(a->store, key, text, rev);
		if (ret == 0)
			break;                  /* aborted: the source resumes */
		if (ret == -EAGAIN) {
			/* The claim moved on: committed by the destination, or settled before. */
			ret = claim_read(a, name, state, sizeof(state), seen, sizeof(seen), NULL);
			if (ret == 0 && !strcmp(seen, id)) {
				ret = !strcmp(state, CLAIM_COMMITTED);
				break;
			}
			if (ret == 0 || ret == -ENOENT)
				ret = record_says(a, name, to);
			if (ret >= 0)
				break;
		}
		if (a->stopping)
			break;
		if (now_ms() - t0 >= told) {
			log_warn("migration %s: the store does not answer (%s); %s stays frozen until "
				 "it can tell where it runs", id, strerror(-ret), name);
			told += 10000;
		}
		usleep(SETTLE_RETRY_MS * 1000);
	}
	free(text);
	return ret;
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
	 * the location it falls back to is the destination's. Then this node's own record
	 * goes (the destination's epoch already outranks it). */
	{
		char dest_rec[160];

		snprintf(dest_rec, sizeof(dest_rec), "%s/%s", m->to, m->name);
		if (cluster_catch_up_key(m->a, KEY_ENDPOINTS, dest_rec))
			log_warn("migrate %s: the commit has not reached this node's cache yet", m->name);
	}
	endpoint_remove_stale(m->a, m->name, m->ep.epoch);
	cluster_hold(m->a, m->name, 0);
	pthread_mutex_unlock(&m->a->lock);
	m->frozen = false;
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

/* Whether cluster state holds the claim for migration id of name, from peer to this node;
 * its revision into *claim_rev. Agent lock held. */
static bool claimed_for(struct agent *a, const char *id, const char *name, const char *peer,
			int64_t *claim_rev)
{
	char key[128], *v = NULL;
	struct mig_claim cl;
	bool claimed;

	claim_key(key, sizeof(key), name);
	claimed = store_get(a->store, key, &v, claim_rev) == 0 && mig_claim_parse(v, &cl) == 0 &&
		  !strcmp(cl.id, id) && !strcmp(cl.from, peer) && !strcmp(cl.to, a->cfg.node) &&
		  !strcmp(cl.state, CLAIM_CLAIMED);
	free(v);
	return claimed;
}

int claim_verify_endpoint(struct agent *a, const char *id, const char *name, const char *peer,
			  struct endpoint *ep, int64_t *claim_rev, struct api_error *e)
{
	int ret = 0;

	if (!name || !name_valid(name))
		return api_fail(e, 400, NULL, "malformed migration request");
	pthread_mutex_lock(&a->lock);
	if (!claimed_for(a, id, name, peer, claim_rev))
		ret = api_fail(e, 403, NULL, "cluster state holds no claim for migration %s of '%s' "
			       "from %s to %s", id, name, peer, a->cfg.node);
	else if (!endpoint_current_at(a, peer, name, ep))
		ret = api_fail(e, 403, NULL, "endpoint '%s' is not %s's to move", name, peer);
	else if (!in_cluster(&a->cfg.pools.cluster4, &ep->ip4) ||
		 !in_cluster(&a->cfg.pools.cluster6, &ep->ip6))
		ret = api_fail(e, 403, NULL, "endpoint '%s' has addresses outside the cluster's", name);
	pthread_mutex_unlock(&a->lock);
	return ret;
}

int podman_commit(struct agent *a, const struct endpoint *ep, const char *id, const char *source,
		  int64_t claim_rev, struct api_error *e)
{
	char key[128], ekey[160], state[16], seen[MIGRATION_ID_MAX];
	uint64_t t0 = now_ms(), told = 0;
	int ret = -ENOMEM;

	claim_key(key, sizeof(key), ep->name);
	endpoint_key(ekey, sizeof(ekey), a->cfg.node, ep->name);
	for (;;) {
		char *claim = claim_text(id, source, a->cfg.node, CLAIM_COMMITTED);
		char *rec = endpoint_encode(ep);

		if (claim && rec) {
			const struct store_op ops[] = { { key, claim }, { ekey, rec } };

			ret = store_txn_if(a->store, key, claim_rev, ops, 2);
		}
		free(claim);
		free(rec);
		if (!ret || ret == -EAGAIN || ret == -ENOMEM || a->stopping)
			break;
		if (now_ms() - t0 >= told) {
			log_warn("migration %s: the store does not answer the commit (%s); retrying", id,
				 strerror(-ret));
			told += 10000;
		}
		usleep(SETTLE_RETRY_MS * 1000);
	}
	/* -EAGAIN after an unanswered attempt may be that attempt having landed. */
	if (ret == -EAGAIN && claim_read(a, ep->name, state, sizeof(state), seen, sizeof(seen),
					 NULL) == 0 && !strcmp(seen, id) && !strcmp(state, CLAIM_COMMITTED))
		ret = 0;
	if (ret == -EAGAIN)
		return api_fail(e, 409, NULL, "the source aborted the migration first");
	if (ret)
		return api_fail(e, 503, NULL, "cannot commit: %s", strerror(-ret));
	return 0;
}

int claim_verify(struct agent *a, const char *id, const char *name, const char *peer,
		 struct container *c, struct endpoint *ep, int64_t *claim_rev, struct api_error *e)
{
	bool claimed;
	int ret;

	if (!name || !name_valid(name))
		return api_fail(e, 400, NULL, "malformed migration request");
	pthread_mutex_lock(&a->lock);
	claimed = claimed_for(a, id, name, peer, claim_rev);
	if (!claimed)
		ret = api_fail(e, 403, NULL, "cluster state holds no claim for migration %s of '%s' "
			       "from %s to %s", id, name, peer, a->cfg.node);
	else if (container_get(a, name, c) || strcmp(c->node, peer))
		ret = api_fail(e, 403, NULL, "container '%s' is not %s's to move", name, peer);
	else if (!endpoint_current_at(a, peer, name, ep))
		ret = api_fail(e, 403, NULL, "endpoint '%s' is not %s's to move", name, peer);
	else if (*c->image ? !container_image_ref_valid(c->image) || !image_digest_valid(c->image_id) :
		 !rootfs_acceptable(a, c->rootfs))
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

/* The destination's transaction: claim committed, endpoint and container here. 0, -EAGAIN
 * (the source aborted first), or -errno (the store did not answer: outcome unknown). */
static int commit_txn(struct dest *d)
{
	char key[128], ekey[160], ckey[128];
	char *claim = claim_text(d->in.id, d->in.source, d->a->cfg.node, CLAIM_COMMITTED);
	char *ep = endpoint_encode(&d->ep), *ct = container_encode(&d->c);
	int ret = -ENOMEM;

	claim_key(key, sizeof(key), d->c.name);
	endpoint_key(ekey, sizeof(ekey), d->a->cfg.node, d->ep.name);
	snprintf(ckey, sizeof(ckey), KEY_CONTAINERS "%s", d->c.name);
	if (claim && ep && ct) {
		const struct store_op ops[] = { { key, claim }, { ekey, ep }, { ckey, ct } };

		ret = store_txn_if(d->a->store, key, d->claim_rev, ops, 3);
	}
	free(claim);
	free(ep);
	free(ct);
	return ret;
}

int dest_commit(struct dest *d, struct api_error *e)
{
	char state[16], seen[MIGRATION_ID_MAX];
	bool frozen = false;
	uint64_t t0 = now_ms(), told = 0;
	int ret;

	d->ep.moved = true;
	snprintf(d->ep.state, sizeof(d->ep.state), "ready");
	while ((ret = commit_txn(d)) != 0 && ret != -EAGAIN && !d->a->stopping) {
		/* Unknown: the transaction may have landed. The restored copy must not run
		 * while the source might resume, so it waits frozen until the store answers. */
		if (!frozen) {
			pthread_mutex_lock(&d->a->lock);
			frozen = container_freeze(d->a, &d->c, true, e) == 0;
			pthread_mutex_unlock(&d->a->lock);
			if (!frozen)
				log_err("migration %s: cannot freeze the restored copy: %s", d->in.id,
					e->msg);
		}
		if (now_ms() - t0 >= told) {
			log_warn("migration %s: the store does not answer the commit (%s); retrying",
				 d->in.id, strerror(-ret));
			told += 10000;
		}
		usleep(SETTLE_RETRY_MS * 1000);
	}
	/* -EAGAIN after an unanswered attempt may be that attempt having landed. */
	if (ret == -EAGAIN && claim_read(d->a, d->c.name, state, sizeof(state), seen, sizeof(seen),
					 NULL) == 0 && !strcmp(seen, d->in.id) &&
	    !strcmp(state, CLAIM_COMMITTED))
		ret = 0;
	/* Stopping with the outcome unknown: the copy stays, frozen, for the next start to
	 * settle by the records (recover.c): removing it could lose a committed container. */
	if (ret && ret != -EAGAIN) {
		d->keep_restored = true;
		return api_fail(e, 503, NULL, "the agent stops before the store told whether the "
				"commit landed: the restored copy waits frozen for its next start");
	}
	if (frozen) {
		pthread_mutex_lock(&d->a->lock);
		if (container_freeze(d->a, &d->c, false, e))
			log_err("migration %s: cannot thaw the restored copy: %s", d->in.id, e->msg);
		pthread_mutex_unlock(&d->a->lock);
	}
	memset(e, 0, sizeof(*e));
	if (ret == -EAGAIN)
		return api_fail(e, 409, NULL, "the source aborted the migration first");
	return 0;
}
