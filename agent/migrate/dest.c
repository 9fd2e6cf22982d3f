/* The destination of a migration: the endpoint with the source's addresses and MAC in a
 * new namespace, CRIU's page server fed by the source's stream, the bundle over the
 * writable layer that arrives while CRIU still dumps, and the restore. Anything failing
 * before the commit (commit.c) is undone here, and the source resumes. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "migration.h"
#include "log.h"
#include "proc.h"
#include "runc.h"
#include "util.h"

/* CRIU's page server, on one end of a socket pair (--ps-socket): the pages stream from
 * the source is relayed into the other end, and no listener exists that another process
 * of this host could reach. */
static int start_page_server(struct incoming *in, const struct versions *v, struct api_error *e)
{
	char log[MIGRATION_DIR_MAX];
	char *argv[] = { (char *)v->criu_path, "page-server", "--images-dir", in->images,
			 "--ps-socket", "3", "-o", log, "-v2", NULL };
	int fds[3] = { -1, -1, -1 }, sv[2];

	snprintf(log, sizeof(log), "%s/page-server.log", in->dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return api_fail(e, 500, NULL, "cannot make CRIU's page socket: %s", strerror(errno));
	in->page_server = proc_spawn(argv, fds, sv[0]);
	close(sv[0]);
	in->page_fd = sv[1];
	if (in->page_server < 0) {
		in->page_server = 0;
		return api_fail(e, 500, "see page-server.log in the migration directory",
				"CRIU's page server did not start");
	}
	return 0;
}

static void stop_page_server(struct incoming *in)
{
	if (in->page_server > 0) {
		kill(in->page_server, SIGKILL);
		proc_wait(in->page_server, 5000);
		in->page_server = 0;
	}
	if (in->page_fd >= 0)
		close(in->page_fd);
	in->page_fd = -1;
}

/* The source's flows for this endpoint: only its own addresses, each back through a node
 * of the cluster (anything else is not the source's to ask for). */
int return_flows_add(struct agent *a, const struct endpoint *ep, json_t *flows)
{
	char via[EP_NAME_MAX];

	size_t i;
	json_t *f;
	int n = 0;

	if (a->cfg.backend != BACKEND_EBPF)
		return 0;
	json_array_foreach(flows, i, f) {
		struct mig_flow mf;
		struct dp_return_flow rf;

		/* A malformed flow, one that this very node translates (no detour), or not
		 * the endpoint's. */
		if (mig_flow_parse(f, &mf) || ip_equal(&mf.node4, &a->cfg.underlay4) ||
		    !(ip_equal(&mf.ep, &ep->ip4) || ip_equal(&mf.ep, &ep->ip6)) ||
		    !cluster_node_at(a, &mf.node4, via, sizeof(via)))
			continue;
		rf = (struct dp_return_flow){ .proto = mf.proto, .ep = mf.ep, .peer = mf.peer,
					      .ep_port = mf.ep_port, .peer_port = mf.peer_port,
					      .node4 = mf.node4, .node6 = mf.node6 };
		if (datapath_return_flow_add(a->dp, &rf) == 0)
			n++;
	}
	return n;
}

static void dest_undo(struct dest *d)
{
	char *argv[] = { "delete", "--force", d->c.name, NULL };
	struct api_error e = { 0 };

	stop_page_server(&d->in);
	lazy_stop(d);
	cgroup_warm_stop(&d->warm);
	restore_gate_close(d);
	pthread_mutex_lock(&d->a->lock);
	if (d->restored)
		container_runc(d->a, argv, NULL, &e);
	container_unmount(d->a, d->c.name);
	if (d->adopted) {
		endpoint_release_local(d->a, &d->ep);
		clear_return_flows(d->a, &d->ep);
		cluster_refresh_endpoint(d->a, d->ep.name);
	}
	pthread_mutex_unlock(&d->a->lock);
	if (d->adopted) {
		char bundle[CONFIG_STR + 64];

		container_bundle_dir(d->a, d->c.name, bundle, sizeof(bundle));
		rm_tree(bundle);
	}
}

static int dest_prepare(struct dest *d, const char *name, struct api_error *e)
{
	struct agent *a = d->a;
	struct container existing;
	int ret;

	/* Only the name comes from the peer: what is built comes from cluster state. */
	if (claim_verify(a, d->in.id, name, d->in.source, &d->c, &d->ep, &d->claim_rev, e))
		return -1;
	local_versions(a, &d->v);
	if (!*d->v.criu)
		return api_fail(e, 412, NULL, "cannot restore here: %s", d->v.criu_error);
	pthread_mutex_lock(&a->lock);
	if (container_get(a, d->c.name, &existing) == 0 && !strcmp(existing.node, a->cfg.node)) {
		pthread_mutex_unlock(&a->lock);
		return api_fail(e, 409, NULL, "a container '%s' already runs on %s", d->c.name,
				a->cfg.node);
	}
	/* This node's own netns name for it: the source's may still exist (same machine).
	 * Its record here outranks the source's by one epoch. */
	snprintf(d->ep.node, sizeof(d->ep.node), "%s", a->cfg.node);
	d->ep.epoch++;
	snprintf(d->ep.netns, sizeof(d->ep.netns), "%s%s.%s", a->cfg.netns_prefix, d->ep.name,
		 a->cfg.node);
	ret = endpoint_adopt(a, &d->ep, e);
	if (!ret) {
		d->adopted = true;
		/* Adopting took the address's kernel routes; flows of this node's stack that
		 * go to where the container still runs get theirs back. */
		cluster_refresh_endpoint(a, d->ep.name);
	}
	pthread_mutex_unlock(&a->lock);
	if (ret)
		return -1;
	snprintf(d->c.node, sizeof(d->c.node), "%s", a->cfg.node);
	snprintf(d->c.netns, sizeof(d->c.netns), "%s", d->ep.netns);
	snprintf(d->in.dir, sizeof(d->in.dir), "%s/migrations/%s", a->cfg.state_dir, d->in.id);
	snprintf(d->in.images, sizeof(d->in.images), "%s/images", d->in.dir);
	snprintf(d->in.work, sizeof(d->in.work), "%s/work", d->in.dir);
	container_bundle_dir(a, d->c.name, d->in.bundle, sizeof(d->in.bundle));
	/* A leftover bundle of an earlier stay on this node, or of a migration here whose
	 * agent died: its overlay may still be mounted (the bundle is mounted as it lands). */
	container_unmount(a, d->c.name);
	rm_tree(d->in.bundle);
	if ((ret = mkdir_p(d->in.images, 0700)) || (ret = mkdir_p(d->in.work, 0700)) ||
	    (ret = mkdir_p(d->in.bundle, 0755)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", d->in.dir, strerror(-ret));
	images_tmpfs_mount(d->in.images, d->in.id, d->memory);
	return d->in.lazy ? 0 : start_page_server(&d->in, &d->v, e);
}

/* The bundle's config and CRIU options, and the overlay over the unpacked writable layer.
 * Called with the agent lock held. */
static int dest_write_bundle(struct dest *d, struct api_error *e)
{
	int ret = container_write_bundle(d->a, &d->c, NULL, e);

	/* A held restore's criu.conf is its gate (restore_gate.c). */
	if (!ret && !restore_gated(d) && (ret = container_criu_options(d->a, d->c.name, true, NULL)))
		return api_fail(e, 500, NULL, "cannot write CRIU's options: %s", strerror(-ret));
	d->in.bundle_ready = ret == 0;
	if (!ret)
		restore_gate_landed(d);
	return ret;
}

/* The writable layer has landed (the source sends it while CRIU still dumps): the
 * overlay is mounted and the config written now rather than inside the restore, 2-3 ms of
 * the freeze. A failure here is only logged: the restore tries again and reports it. */
void bundle_landed(struct agent *a, struct incoming *in)
{
	struct dest *d = (struct dest *)((char *)in - offsetof(struct dest, in));
	struct api_error e = { 0 };

	pthread_mutex_lock(&a->lock);
	dest_write_bundle(d, &e);
	pthread_mutex_unlock(&a->lock);
	if (e.status)
		log_warn("migration %s: early bundle: %s", in->id, e.msg);
}

static int dest_restore(struct dest *d, json_t *msg, json_t **reply, struct api_error *e)
{
	struct agent *a = d->a;
	int64_t t0 = now_ms(), t_runc = 0;
	bool early;
	int ret, flows;

	if ((ret = incoming_wait_streams(&d->in)))
		return api_fail(e, 502, NULL, "the checkpoint did not arrive complete: %s",
				strerror(-ret));
	if (d->in.page_server > 0)
		proc_wait(d->in.page_server, 10000);    /* it exits once the dump side is done */
	d->in.page_server = 0;
	if (d->in.lazy) {
		if (lazy_start(d, e))
			return -1;
	}
	if (fault(a, "corrupt-images")) {
		char inv[MIGRATION_DIR_MAX];

		snprintf(inv, sizeof(inv), "%s/inventory.img", d->in.images);
		write_file_atomic(inv, "not a CRIU image");
	}
	pthread_mutex_lock(&a->lock);
	/* Before the process runs: its very first reply to such a flow must take the detour. */
	flows = return_flows_add(a, &d->ep, json_object_get(msg, "flows"));
	ret = d->in.bundle_ready ? 0 : dest_write_bundle(d, e);
	early = restore_gated(d);
	if (!ret) {
		t_runc = now_ms();
		ret = restore_run(d, e);
		cgroup_warm_stop(&d->warm);
		t_runc = now_ms() - t_runc;
		d->restored = ret == 0;
	}
	if (!ret)
		ret = container_read_pid(a, &d->c, e);
	if (ret) {
		pthread_mutex_unlock(&a->lock);
		return -1;
	}
	/* It runs: this node's datapath delivers to it, then the location flips below and
	 * the source releases what it held. */
	if (a->cfg.backend == BACKEND_EBPF && (ret = endpoint_datapath_attach(a, &d->ep)))
		log_warn("migration %s: cannot attach the endpoint: %s", d->in.id, strerror(-ret));
	pthread_mutex_unlock(&a->lock);
	if (fault(a, "dest-exit-before-commit"))
		_exit(3);
	if (fault(a, "dest-pause-before-commit"))
		fault_pause(a, "at-commit");
	/* The commit point: the location flips, every node now sends here. (Its ports are
	 * published here after the answer: see publish_here.) */
	if (dest_commit(d, e))
		return -1;
	if (fault(a, "dest-exit-after-commit"))
		_exit(3);
	pthread_mutex_lock(&a->lock);
	if (d->in.lazy)
		lazy_watch(d);
	container_watch(a, &d->c);
	pthread_mutex_unlock(&a->lock);
	{
		char log[MIGRATION_DIR_MAX + 16];

		snprintf(log, sizeof(log), "%s/restore.log", d->in.work);
		*reply = json_pack("{s:b, s:I, s:I, s:i, s:I, s:I, s:b}", "ok", 1,
				   "restore_ms", (json_int_t)(now_ms() - t0),
				   "runc_restore_ms", (json_int_t)t_runc, "flows", flows,
				   "bytes", (json_int_t)d->in.bytes, "criu_restore_ms",
				   (json_int_t)criu_log_ms(log, NULL, "Restore finished successfully"),
				   "early_restore", early);
	}
	return 0;
}

/* New connections through this node's ports: published once the source has its answer,
 * outside the freeze (nftables takes tens of ms per port); the source waits for this line
 * before it reports, so the ports work once `petrel migrate` returns. */
static void publish_here(struct dest *d, SSL *ssl)
{
	int ret;

	pthread_mutex_lock(&d->a->lock);
	ret = endpoint_publish(d->a, &d->ep, true);
	pthread_mutex_unlock(&d->a->lock);
	if (ret)
		log_warn("migration %s: cannot publish ports here: %s", d->in.id, strerror(-ret));
	peer_send(ssl, json_pack("{s:b}", "published", ret == 0));
}

void migrate_serve(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	struct api_error e = { 0 };
	struct dest *d = calloc(1, sizeof(*d));
	json_t *msg = NULL, *reply = NULL;
	char name[EP_NAME_MAX];
	const char *op, *id;

	if (!d || mig_request_parse(hello, d->in.id, &d->in.lazy, name) ||
	    mig_memory_parse(hello, &d->memory) ||
	    mig_descriptors_parse(hello, &d->descriptors) == -EINVAL) {
		peer_reply_error(ssl, "malformed migration request");
		if (d)
			free(d->descriptors);
		free(d);
		return;
	}
	id = d->in.id;
	d->a = a;
	d->lazy_fd = -1;
	d->gate_fd = d->gate_in_w = d->gate_out_r = -1;
	d->in.page_fd = -1;
	snprintf(d->in.source, sizeof(d->in.source), "%s", peer);
	log_info("migration %s: from %s", id, peer);
	if (dest_prepare(d, name, &e))
		goto fail;
	pthread_mutex_lock(&a->lock);
	restore_gate_start(d);
	pthread_mutex_unlock(&a->lock);
	incoming_add(&d->in);
	if (peer_send(ssl, json_pack("{s:b}", "ok", 1)))
		goto fail_registered;
	/* The source freezes, dumps and streams, and says "restore"; or "abort"; or vanishes. */
	msg = peer_recv(ssl);
	op = json_string_value(json_object_get(msg, "op"));
	if (!op || strcmp(op, "restore")) {
		api_fail(&e, 409, NULL, "%s", op ? "the source aborted" : "the source went away");
		goto fail_registered;
	}
	if (dest_restore(d, msg, &reply, &e))
		goto fail_registered;
	incoming_remove(&d->in);
	peer_send(ssl, reply);
	/* This node's cache catches up with its own commit once the source has its answer:
	 * nothing the released packets need waits for it (the endpoint, its policy and the
	 * return flows are in place; delivery here goes by endpoint). */
	pthread_mutex_lock(&a->lock);
	cluster_catch_up(a);
	pthread_mutex_unlock(&a->lock);
	publish_here(d, ssl);
	remove_dir(a, d->in.dir);
	log_info("migration %s: %s runs here", id, d->c.name);
	json_decref(msg);
	free(d->descriptors);
	free(d);
	return;

fail_registered:
	incoming_remove(&d->in);
fail:
	log_warn("migration %s failed here: %s", id, e.msg);
	if (d->keep_restored) {         /* settled at the next start, by the records */
		cgroup_warm_stop(&d->warm);
		peer_reply_error(ssl, "%s", e.msg);
		json_decref(msg);
		free(d->descriptors);
		free(d);
		return;
	}
	dest_undo(d);
	remove_dir(a, d->in.dir);
	peer_reply_error(ssl, "%s", e.msg);
	json_decref(msg);
	free(d->descriptors);
	free(d);
}
