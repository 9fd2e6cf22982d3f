/* Podman's containers, the source side (podman.c has the overview, the CNI requests and
 * the destination): Podman's checkpoint streamed out, the hold, the rollback, the report,
 * and a restarted agent settling what it left. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include "migration.h"
#include "cluster_cache.h"
#include "cni.h"
#include "log.h"
#include "proc.h"
#include "util.h"


/* ---- the source ---- */

struct pm_src {
	struct mig m;
	char container[EP_NAME_MAX];    /* Podman's name */
	SSL *ctl;
	char fifo[MIGRATION_DIR_MAX + 16], log[MIGRATION_DIR_MAX + 16];
	int reader_ret;
	uint64_t t_ckpt_done;
};

/* The FIFO Podman exports into, framed onto the control connection: [u32 length][bytes],
 * a zero length at the end. */
static void *export_reader(void *arg)
{
	struct pm_src *s = arg;
	char *buf = malloc(PODMAN_FRAME_MAX + 4);
	int fd = open(s->fifo, O_RDONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0 || !buf) {
		s->reader_ret = -EIO;
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + 4, PODMAN_FRAME_MAX)) > 0) {
		uint32_t l = htonl((uint32_t)n);

		memcpy(buf, &l, 4);
		if (tls_write_all(s->ctl, buf, (size_t)n + 4)) {
			ret = -EIO;
			break;
		}
		s->m.bytes += (uint64_t)n;
	}
	if (!ret) {
		uint32_t z = 0;

		ret = n < 0 ? -errno : tls_write_all(s->ctl, &z, 4);
	}
	close(fd);
	free(buf);
	s->reader_ret = ret;
	return NULL;
}

/* Podman's checkpoint of the container, exported through the FIFO to the destination. */
static int checkpoint_export(struct pm_src *s, struct api_error *e)
{
	struct mig *m = &s->m;
	pthread_t reader;
	int ret;

	snprintf(s->fifo, sizeof(s->fifo), "%s/export.fifo", m->dir);
	snprintf(s->log, sizeof(s->log), "%s/podman.log", m->dir);
	if (mkdir_p(m->dir, 0700) || mkfifo(s->fifo, 0600))
		return api_fail(e, 500, NULL, "cannot make %s: %s", s->fifo, strerror(errno));
	if (pthread_create(&reader, NULL, export_reader, s))
		return api_fail(e, 500, NULL, "cannot start the export's reader");
	ret = podman_run(m->a, s->log, PODMAN_MS, "container", "checkpoint", "--tcp-established",
			 "--export", s->fifo, "--compress", "zstd", s->container, NULL);
	s->t_ckpt_done = (uint64_t)now_ms();
	if (ret) {
		/* Podman may never have opened the FIFO: open its write end to end the read. */
		int w = open(s->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

		if (w >= 0)
			close(w);
	}
	pthread_join(reader, NULL);
	unlink(s->fifo);
	if (ret) {
		char why[256];

		last_line(s->log, why, sizeof(why));
		return api_fail(e, 500, NULL, "podman container checkpoint failed (%d): %s", ret, why);
	}
	if (s->reader_ret)
		return api_fail(e, 502, NULL, "streaming the checkpoint to %s failed: %s", m->to,
				strerror(-s->reader_ret));
	return 0;
}

/* Hold the endpoint's packets here and take it out of the datapath: what arrives now
 * waits for wherever the container runs next. */
static void hold_here(struct mig *m)
{
	m->t_freeze = now_ms();
	hold_begin(m->hold);
	pthread_mutex_lock(&m->a->lock);
	cluster_hold(m->a, m->name, DP_LOC_HOST);
	if (m->a->cfg.backend == BACKEND_EBPF)
		endpoint_datapath_detach(m->a, &m->ep);
	m->redirected = true;
	pthread_mutex_unlock(&m->a->lock);
	m->t_held = now_ms();
}

/* Back here: Podman restores it from the checkpoint it kept, whose CNI ADD adopts the
 * endpoint again; then what was held goes to it. */
static void rollback(struct pm_src *s, bool checkpointed)
{
	struct mig *m = &s->m;
	char why[256];
	int ret = 0;

	if (checkpointed) {
		reg_set(&m->ep, PM_ROLLBACK);
		ret = podman_run(m->a, s->log, PODMAN_MS, "container", "restore", "--tcp-established",
				 s->container, NULL);
		if (ret) {
			last_line(s->log, why, sizeof(why));
			log_err("migrate %s: podman container restore here failed (%d): %s", s->container,
				ret, why);
		} else if (!reg_adopted(m->name, NULL)) {
			log_err("migrate %s: restored without its petrel endpoint", s->container);
		}
	}
	pthread_mutex_lock(&m->a->lock);
	/* Its sockets are back (or were never gone): its packets may reach it again. */
	if (m->redirected && m->a->cfg.backend == BACKEND_EBPF && endpoint_datapath_attach(m->a, &m->ep))
		log_warn("migrate %s: cannot re-attach the endpoint", m->name);
	if (checkpointed && !ret)
		endpoint_publish(m->a, &m->ep, true);
	cluster_hold(m->a, m->name, 0);
	m->redirected = false;
	pthread_mutex_unlock(&m->a->lock);
	hold_release(m->hold, &m->held);
	m->hold = NULL;
	reg_clear(m->name);
}

static int source_check(struct pm_src *s, struct api_error *e)
{
	struct mig *m = &s->m;
	char ip[64], why[64];
	json_t *hello, *r;
	SSL *ssl;

	if (!strcmp(m->to, m->a->cfg.node))
		return api_fail(e, 400, "pick another node", "Podman container '%s' already runs on %s",
				s->container, m->to);
	if (peer_node_address(m->a, m->to, ip, sizeof(ip)))
		return api_fail(e, 404, "see `petrel node status`", "node '%s' does not exist", m->to);
	hello = json_pack("{s:s, s:b}", "op", "probe", "podman", 1);
	ssl = peer_dial(m->a, m->to, hello, e);
	json_decref(hello);
	if (!ssl)
		return -1;
	r = peer_recv(ssl);
	tls_close(ssl);
	snprintf(why, sizeof(why), "%s", json_string_value(json_object_get(r, "podman")) ?: "");
	json_decref(r);
	if (!*why)
		return api_fail(e, 412, "install Podman there (apt-get install podman) with a petrel "
				"network", "node %s has no Podman to restore '%s' with", m->to,
				s->container);
	return 0;
}

static void pm_report(struct pm_src *s, json_t *dest)
{
	struct mig *m = &s->m;
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
		"container", s->container, "endpoint", m->name, "from", m->a->cfg.node, "to", m->to,
		"mode", "podman", "total_ms", (json_int_t)(now_ms() - m->t0),
		"frozen_ms", (json_int_t)(m->t_resume - m->t_freeze),
		"checkpoint_ms", (json_int_t)((int64_t)s->t_ckpt_done - m->t_held),
		"bytes", (json_int_t)m->bytes, "held_packets", (json_int_t)m->held);

	json_object_set(r, "restore_ms", json_object_get(dest, "restore_ms") ?: json_integer(0));
	json_object_set(r, "relayed_flows", json_object_get(dest, "flows") ?: json_integer(0));
	mig_emit(m, json_pack("{s:o}", "report", r));
}

static void finish(struct pm_src *s, json_t *reply)
{
	struct mig *m = &s->m;

	progress(m, "cleanup", "%s runs on %s; removing it here", s->container, m->to);
	pthread_mutex_lock(&m->a->lock);
	point_at_destination(m);
	m->redirected = false;
	hold_release(m->hold, &m->held);
	m->hold = NULL;
	endpoint_release_local(m->a, &m->ep);
	clear_return_flows(m->a, &m->ep);
	cluster_hold(m->a, m->name, 0);
	endpoint_remove_stale(m->a, m->name, m->ep.epoch);
	unclaim(m);
	pthread_mutex_unlock(&m->a->lock);
	reg_clear(m->name);
	if (podman_run(m->a, s->log, PODMAN_MS, "rm", "--force", s->container, NULL))
		log_warn("migrate %s: podman rm here failed; see %s", s->container, s->log);
	pm_report(s, reply);
	remove_dir(m->a, m->dir);
}

static void *podman_main(void *arg)
{
	struct pm_src *s = arg;
	struct mig *m = &s->m;
	struct api_error e = { 0 };
	json_t *hello, *r = NULL;
	bool checkpointed = false;
	int ret;

	progress(m, "check", "Podman container %s (endpoint %s) to %s", s->container, m->name, m->to);
	if (source_check(s, &e))
		goto refused;
	pthread_mutex_lock(&m->a->lock);
	ret = claim(m, &e);
	pthread_mutex_unlock(&m->a->lock);
	if (ret)
		goto refused;
	/* For a restarted agent that must settle it: whose container this is. */
	{
		char path[MIGRATION_DIR_MAX + 16], text[EP_NAME_MAX + 32];

		snprintf(path, sizeof(path), "%s/podman.json", m->dir);
		snprintf(text, sizeof(text), "{\"container\":\"%s\"}", s->container);
		if (write_file_atomic(path, text))
			log_warn("migrate %s: cannot keep %s", s->container, path);
	}
	if ((ret = hold_start(&m->ep, &m->a->cfg.underlay4, &m->a->cfg.underlay6, &m->hold))) {
		api_fail(&e, 500, NULL, "cannot set up the hold for its packets: %s", strerror(-ret));
		goto refused;
	}
	progress(m, "prepare", "node %s expects Podman's restore of %s", m->to, s->container);
	hello = json_pack("{s:s, s:s, s:s, s:s}", "op", "podman", "id", m->id, "endpoint", m->name,
			  "container", s->container);
	s->ctl = peer_dial(m->a, m->to, hello, &e);
	json_decref(hello);
	if (!s->ctl)
		goto refused;
	r = peer_recv(s->ctl);
	if (!json_is_true(json_object_get(r, "ok"))) {
		api_fail(&e, 502, NULL, "node %s cannot take it: %s", m->to,
			 r ? json_string_value(json_object_get(r, "error")) ?: "?" : "no answer");
		goto refused;
	}
	json_decref(r);
	r = NULL;
	if (reg_set(&m->ep, PM_SOURCE)) {
		api_fail(&e, 503, "wait for one to finish", "too many Podman migrations at once here");
		goto refused;
	}

	progress(m, "checkpoint", "podman container checkpoint --tcp-established, streamed to %s",
		 m->to);
	hold_here(m);
	m->frozen = true;
	if (checkpoint_export(s, &e))
		goto rolled_back;
	checkpointed = true;
	if (fault(m->a, "podman-source-exit-after-checkpoint"))
		_exit(3);
	m->t_dumped = now_ms();
	progress(m, "restore", "node %s restores %s with podman container restore --import", m->to,
		 s->container);
	m->restore_sent = true;
	if (!peer_send(s->ctl, json_pack("{s:s, s:o}", "op", "restore", "flows", relayed_flows(m))))
		r = peer_recv(s->ctl);
	if (r && json_is_true(json_object_get(r, "ok"))) {
		m->t_resume = now_ms();
		finish(s, r);
		goto out;
	}
	api_fail(&e, 502, NULL, "node %s could not restore %s: %s", m->to, s->container,
		 r ? json_string_value(json_object_get(r, "error")) ?: "?" : "no answer");
	/* Asked to restore: only the claim says whether the destination committed. */
	switch (claim_settle(m->a, m->name, m->id, m->a->cfg.node, m->to, m->claim_rev)) {
	case 1:
		/* It runs there: the migration went through, only its answer was lost. */
		m->t_resume = now_ms();
		log_warn("migrate %s: %s; but node %s committed it: it runs there", s->container,
			 e.msg, m->to);
		json_decref(r);
		r = json_object();
		finish(s, r);
		goto out;
	case 0:
		break;
	default:
		mig_fail(m, &e);
		goto out;
	}
rolled_back:
	progress(m, "rollback", "%s keeps running on %s", s->container, m->a->cfg.node);
	rollback(s, checkpointed);
	pthread_mutex_lock(&m->a->lock);
	unclaim(m);
	pthread_mutex_unlock(&m->a->lock);
	mig_fail(m, &e);
	goto out;
refused:
	if (m->hold)
		hold_abort(m->hold);
	m->hold = NULL;
	pthread_mutex_lock(&m->a->lock);
	unclaim(m);
	pthread_mutex_unlock(&m->a->lock);
	m->frozen = false;
	mig_fail(m, &e);
out:
	json_decref(r);
	if (s->ctl)
		tls_close(s->ctl);
	remove_dir(m->a, m->dir);
	close(m->out);
	free(s);
	return NULL;
}

int podman_migrate_start(struct agent *a, const char *container, const struct endpoint *ep,
			 const char *to, int *fd, struct api_error *e)
{
	struct pm_src *s = calloc(1, sizeof(*s));
	struct mig *m = s ? &s->m : NULL;

	if (!s)
		return api_fail(e, 500, NULL, "out of resources");
	if (mig_begin(m, a, ep->name, to, fd, e)) {
		free(s);
		return -1;
	}
	m->ep = *ep;
	snprintf(s->container, sizeof(s->container), "%s", container);
	if (mig_dest_node(m, e)) {
		close(*fd);
		close(m->out);
		free(s);
		return -1;
	}
	if (mig_thread(podman_main, s, m, *fd, e)) {
		free(s);
		return -1;
	}
	return 0;
}

/* ---- an agent that stopped in the middle of a Podman migration it was the source of ---- */

struct settle {
	struct agent *a;
	char container[EP_NAME_MAX], id[MIGRATION_ID_MAX], dir[MIGRATION_DIR_MAX];
	struct endpoint ep;
	int won;
};

static void *settle_main(void *arg)
{
	struct settle *st = arg;
	struct agent *a = st->a;
	char log[MIGRATION_DIR_MAX + 16], status[32] = "";
	struct mig m = { .a = a, .claimed = true };
	int ret;

	/* Podman's restore calls the CNI plugin, which calls this agent: once it answers. */
	while (!a->api_up && !a->stopping)
		usleep(50 * 1000);
	snprintf(log, sizeof(log), "%s/podman.log", st->dir);
	snprintf(m.name, sizeof(m.name), "%s", st->ep.name);
	snprintf(m.id, sizeof(m.id), "%s", st->id);
	if (st->won == 1) {
		log_warn("Podman migration %s of %s had committed; removing the copy left here", st->id,
			 st->container);
		pthread_mutex_lock(&a->lock);
		endpoint_release_local(a, &st->ep);
		clear_return_flows(a, &st->ep);
		endpoint_remove_stale(a, st->ep.name, st->ep.epoch);
		pthread_mutex_unlock(&a->lock);
		podman_run(a, log, PODMAN_MS, "rm", "--force", st->container, NULL);
	} else {
		podman_inspect(a, st->container, "{{.State.Status}}", status, sizeof(status));
		log_warn("Podman migration %s of %s did not commit; it runs here again (it was %s)",
			 st->id, st->container, *status ? status : "gone");
		if (strcmp(status, "running")) {
			reg_set(&st->ep, PM_ROLLBACK);
			ret = podman_run(a, log, PODMAN_MS, "container", "restore", "--tcp-established",
					 st->container, NULL);
			if (ret || !reg_adopted(st->ep.name, &st->ep))
				log_err("Podman container %s could not be restored here (%d); see %s",
					st->container, ret, log);
			reg_clear(st->ep.name);
		}
		pthread_mutex_lock(&a->lock);
		if (a->cfg.backend == BACKEND_EBPF)
			endpoint_datapath_attach(a, &st->ep);
		endpoint_publish(a, &st->ep, true);
		cluster_hold(a, st->ep.name, 0);
		pthread_mutex_unlock(&a->lock);
	}
	pthread_mutex_lock(&a->lock);
	unclaim(&m);
	pthread_mutex_unlock(&a->lock);
	remove_dir(a, st->dir);
	free(st);
	return NULL;
}

bool podman_recover(struct agent *a, const char *id, int won)
{
	char path[CONFIG_STR + MIGRATION_ID_MAX + 48], *text = NULL;
	struct settle *st;
	json_t *j;
	pthread_t t;
	bool ok;

	snprintf(path, sizeof(path), "%s/migrations/%s/podman.json", a->cfg.state_dir, id);
	if (read_file(path, &text))
		return false;
	st = calloc(1, sizeof(*st));
	j = json_loads(text, 0, NULL);
	free(text);
	ok = st && json_string_value(json_object_get(j, "container")) &&
	     name_valid(json_string_value(json_object_get(j, "container"))) &&
	     claim_source_endpoint(a, id, &st->ep) == 0;
	if (ok) {
		st->a = a;
		st->won = won;
		snprintf(st->container, sizeof(st->container), "%s",
			 json_string_value(json_object_get(j, "container")));
		snprintf(st->id, sizeof(st->id), "%s", id);
		snprintf(st->dir, sizeof(st->dir), "%s/migrations/%s", a->cfg.state_dir, id);
		ok = pthread_create(&t, NULL, settle_main, st) == 0;
		if (ok)
			pthread_detach(t);
	}
	json_decref(j);
	if (!ok)
		free(st);
	return ok;
}
