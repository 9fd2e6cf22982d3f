/* Live migration of a Podman container on a petrel network (docs/migration.md, "Podman's
 * containers"). petrel drives Podman's own checkpoint and restore and keeps for it what it
 * keeps for its own containers: the claim and the fenced commit, the held packets, the
 * relayed flows, the location flip, the rollback and the report.
 *
 * Source                                      Destination
 *   claim /petrel/migrations/ENDPOINT
 *                                 ── podman ─►  claim verified; expects Podman's CNI ADD
 *   hold the endpoint's packets
 *   podman container checkpoint
 *     --tcp-established --export FIFO:
 *     Podman's CNI DEL here only unplugs   ── frames ─► the archive, to a file (Podman 4.3
 *     (the record stays)                                 reads an import more than once)
 *   flows ───────────────────────────────── restore ─► return flows;
 *                                                        podman container restore --import:
 *                                                        its CNI ADD gets the endpoint's
 *                                                        addresses and MAC (adopted here);
 *                                                        the commit ◄─ ok
 *   release the held packets there; podman rm                  publish its ports
 *
 * A failure before the commit restores the container here from the checkpoint Podman kept
 * (`podman container restore`), whose CNI ADD adopts the same endpoint again. */
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

#define FRAME_MAX (256 * 1024)
#define PODMAN_MS 120000

/* ---- the migrations under way here, for the CNI requests Podman makes during them ---- */

enum pm_role { PM_SOURCE, PM_ROLLBACK, PM_DEST };

static struct {
	pthread_mutex_t lock;
	struct pm_entry {
		char name[EP_NAME_MAX];
		enum pm_role role;
		struct endpoint ep;     /* the endpoint this node's half is built from */
		bool adopted;           /* Podman's CNI ADD came and was served */
		bool used;
	} v[16];
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct pm_entry *reg_find(const char *name)
{
	for (size_t i = 0; i < sizeof(reg.v) / sizeof(reg.v[0]); i++)
		if (reg.v[i].used && !strcmp(reg.v[i].name, name))
			return &reg.v[i];
	return NULL;
}

static int reg_set(const struct endpoint *ep, enum pm_role role)
{
	struct pm_entry *x;
	int ret = 0;

	pthread_mutex_lock(&reg.lock);
	x = reg_find(ep->name);
	for (size_t i = 0; !x && i < sizeof(reg.v) / sizeof(reg.v[0]); i++)
		if (!reg.v[i].used)
			x = &reg.v[i];
	if (x) {
		x->used = true;
		x->role = role;
		x->ep = *ep;
		x->adopted = false;
		snprintf(x->name, sizeof(x->name), "%s", ep->name);
	} else {
		ret = -EBUSY;
	}
	pthread_mutex_unlock(&reg.lock);
	return ret;
}

static void reg_clear(const char *name)
{
	struct pm_entry *x;

	pthread_mutex_lock(&reg.lock);
	if ((x = reg_find(name)))
		x->used = false;
	pthread_mutex_unlock(&reg.lock);
}

static bool reg_adopted(const char *name, struct endpoint *ep)
{
	struct pm_entry *x;
	bool done;

	pthread_mutex_lock(&reg.lock);
	x = reg_find(name);
	done = x && x->adopted;
	if (done && ep)
		*ep = x->ep;
	pthread_mutex_unlock(&reg.lock);
	return done;
}

int podman_mig_cni_add(struct agent *a, const struct ep_request *req, struct endpoint *out,
		       struct api_error *e)
{
	struct pm_entry *x;
	struct endpoint ep;
	int ret;

	pthread_mutex_lock(&reg.lock);
	x = reg_find(req->name);
	if (!x || x->role == PM_SOURCE) {
		pthread_mutex_unlock(&reg.lock);
		return 0;
	}
	ep = x->ep;
	pthread_mutex_unlock(&reg.lock);
	/* Podman asks for the addresses and MAC it checkpointed: they are the endpoint's. */
	ret = endpoint_adopt_at(a, &ep, req, e);
	if (ret)
		return -1;
	pthread_mutex_lock(&reg.lock);
	if ((x = reg_find(req->name))) {
		x->ep = ep;
		x->adopted = true;
	}
	pthread_mutex_unlock(&reg.lock);
	log_info("endpoint %s: Podman's restored container takes it here (%s)", ep.name, ep.netns);
	*out = ep;
	return 1;
}

bool podman_mig_cni_del(struct agent *a, const char *name)
{
	struct pm_entry *x;
	struct endpoint ep;
	bool ours;

	pthread_mutex_lock(&reg.lock);
	x = reg_find(name);
	ours = x != NULL;
	if (ours)
		ep = x->adopted || x->role == PM_SOURCE ? x->ep : (struct endpoint){ 0 };
	if (ours && x->role != PM_SOURCE)
		x->adopted = false;
	pthread_mutex_unlock(&reg.lock);
	/* Podman's checkpoint (or a failed restore) tears its network down: the migration
	 * keeps the record, and this node's half goes. */
	if (ours && *ep.name) {
		endpoint_release_local(a, &ep);
		log_info("endpoint %s: unplugged here by Podman during its migration; the record stays",
			 name);
	}
	return ours;
}

/* ---- helpers ---- */

/* podman ARGS... with this node's storage, output into log; its exit status or -errno. */
static int podman_run(struct agent *a, const char *log, int timeout_ms, ...)
{
	char *argv[24];
	int n = podman_argv(a, argv), fds[3] = { -1, -1, -1 }, ret;
	va_list ap;
	pid_t pid;

	va_start(ap, timeout_ms);
	while (n < 23 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	fds[1] = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	fds[2] = fds[1];
	pid = proc_spawn(argv, fds, -1);
	if (fds[1] >= 0)
		close(fds[1]);
	if (pid < 0)
		return pid;
	ret = proc_wait(pid, timeout_ms);
	return ret;
}

/* The last line of a log, for an error message. */
static void last_line(const char *log, char *buf, size_t len)
{
	char *text = NULL, *end, *start;

	snprintf(buf, len, "see %s", log);
	if (read_file(log, &text))
		return;
	end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		*--end = 0;
	start = strrchr(text, '\n');
	snprintf(buf, len, "%s", start ? start + 1 : text);
	free(text);
}

/* This node's Podman version, or "" without one. */
void podman_version(struct agent *a, char *buf, size_t len)
{
	char *argv[8], *out = NULL;
	int n = podman_argv(a, argv);

	argv[n++] = "--version";
	argv[n] = NULL;
	*buf = 0;
	if (proc_output(argv, &out, 10000) == 0 && out && !strncmp(out, "podman version ", 15))
		snprintf(buf, len, "%.*s", (int)strcspn(out + 15, "\n"), out + 15);
	free(out);
}

static const char *label_of(const struct endpoint *ep, const char *key)
{
	for (int i = 0; i < ep->n_labels; i++)
		if (!strcmp(ep->labels[i].key, key))
			return ep->labels[i].value;
	return NULL;
}

/* A Podman container's endpoint: petrel-cni labels it with the container's name. */
int podman_endpoint(struct agent *a, const char *name, struct endpoint *out)
{
	struct endpoint *eps = NULL;
	size_t n = 0;
	int ret = cluster_node_endpoints(a, a->cfg.node, &eps, &n);

	if (ret)
		return ret;
	ret = -ENOENT;
	for (size_t i = 0; i < n && ret; i++) {
		const char *cni = label_of(&eps[i], CNI_LABEL_MARK);
		const char *pod = label_of(&eps[i], "io.kubernetes.pod.name");

		if (cni && !strcmp(cni, "true") && pod && !strcmp(pod, name)) {
			*out = eps[i];
			ret = 0;
		}
	}
	free(eps);
	return ret;
}

struct by_pod {
	char needle[EP_NAME_MAX + 40];
	struct endpoint ep;
	bool found;
};

static int match_pod(const struct cc_entry *e, void *arg)
{
	struct by_pod *b = arg;
	const char *cni;

	/* A cheap look at the record's text first: one name among many endpoints. */
	if (!strstr(e->value, b->needle) || endpoint_decode(e->value, &b->ep))
		return 0;
	cni = label_of(&b->ep, CNI_LABEL_MARK);
	b->found = cni && !strcmp(cni, "true");
	return b->found;
}

json_t *podman_container_json(struct agent *a, const char *name)
{
	struct by_pod b = { 0 };

	snprintf(b.needle, sizeof(b.needle), "\"io.kubernetes.pod.name\":\"%s\"", name);
	cluster_foreach(a, CC_ENDPOINT, match_pod, &b);
	if (!b.found)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "runtime", "podman", "node",
			 b.ep.node, "endpoint", b.ep.name, "state", "running");
}

int podman_refusal(struct agent *a, const char *name, struct api_error *e)
{
	char *argv[12], *out = NULL;
	int n = podman_argv(a, argv), ret;

	argv[n++] = "container";
	argv[n++] = "inspect";
	argv[n++] = "--format";
	argv[n++] = "{{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}";
	argv[n++] = (char *)name;
	argv[n] = NULL;
	ret = proc_output(argv, &out, 10000);
	if (ret || !out) {
		free(out);
		return 0;                      /* no Podman container of that name either */
	}
	out[strcspn(out, "\n")] = 0;
	{
		char *nets = out + strcspn(out, " ");
		size_t l;

		if (*nets)
			*nets++ = 0;
		l = strlen(nets);
		while (l && nets[l - 1] == ' ')
			nets[--l] = 0;
		if (!strstr(nets, "petrel"))
			api_fail(e, 409, "run it with --network petrel (a CNI network through petrel-cni)",
				 "Podman container '%s' is not on a petrel network (it is %s, on %s%s)", name,
				 out, *nets ? "networks " : "no network", nets);
		else
			api_fail(e, 409, "start it", "Podman container '%s' is %s, not running", name, out);
	}
	free(out);
	return -1;
}

static int read_full(SSL *ssl, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		int r = SSL_read(ssl, (char *)buf + got, (int)(len - got));

		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

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
	char *buf = malloc(FRAME_MAX + 4);
	int fd = open(s->fifo, O_RDONLY | O_CLOEXEC), ret = 0;
	ssize_t n;

	if (fd < 0 || !buf) {
		s->reader_ret = -EIO;
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + 4, FRAME_MAX)) > 0) {
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
	static unsigned next_id;
	struct pm_src *s = calloc(1, sizeof(*s));
	struct mig *m = s ? &s->m : NULL;
	pthread_t t;
	int p[2];

	if (!s || pipe2(p, O_CLOEXEC)) {
		free(s);
		return api_fail(e, 500, NULL, "out of resources");
	}
	m->a = a;
	m->out = p[1];
	m->t0 = now_ms();
	m->criu_dump_ms = -1;
	m->ep = *ep;
	snprintf(m->name, sizeof(m->name), "%s", ep->name);
	snprintf(m->to, sizeof(m->to), "%s", to);
	snprintf(s->container, sizeof(s->container), "%s", container);
	snprintf(m->id, sizeof(m->id), "%s-%s-%lld-%u", ep->name, a->cfg.node, (long long)time(NULL),
		 __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED));
	snprintf(m->dir, sizeof(m->dir), "%s/migrations/%s", a->cfg.state_dir, m->id);
	{
		char *v = NULL, key[128];
		json_t *j;

		snprintf(key, sizeof(key), KEY_NODES "%s", to);
		if (store_get(a->store, key, &v, NULL) == 0 && (j = json_loads(v, 0, NULL))) {
			cluster_node_addrs(j, &m->to4, &m->to6);
			json_decref(j);
		}
		free(v);
	}
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&t, NULL, podman_main, s)) {
		close(p[0]);
		close(p[1]);
		free(s);
		return api_fail(e, 500, NULL, "cannot start the migration");
	}
	pthread_detach(t);
	*fd = p[0];
	return 0;
}

/* ---- the destination ---- */

struct pm_dest {
	struct agent *a;
	SSL *ssl;
	char id[MIGRATION_ID_MAX], peer[EP_NAME_MAX], container[EP_NAME_MAX];
	char dir[MIGRATION_DIR_MAX], archive[MIGRATION_DIR_MAX + 16], log[MIGRATION_DIR_MAX + 16];
	struct endpoint ep;
	int64_t claim_rev;
};

/* The archive's frames into its file. */
static int receive_archive(struct pm_dest *d, uint64_t *bytes)
{
	char *buf = malloc(FRAME_MAX);
	int fd = open(d->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ret = fd >= 0 && buf ? 0 : -EIO;

	while (!ret) {
		uint32_t l;

		if ((ret = read_full(d->ssl, &l, 4)))
			break;
		l = ntohl(l);
		if (!l)
			break;
		if (l > FRAME_MAX) {
			ret = -EPROTO;
			break;
		}
		if (!(ret = read_full(d->ssl, buf, l)) && write(fd, buf, l) != (ssize_t)l)
			ret = -EIO;
		*bytes += l;
	}
	if (fd >= 0 && fsync(fd) && !ret)
		ret = -EIO;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static void dest_fail(struct pm_dest *d, bool restored, const char *fmt, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, why);
	log_warn("migration %s: %s", d->id, msg);
	if (restored && podman_run(d->a, d->log, PODMAN_MS, "rm", "--force", d->container, NULL))
		log_warn("migration %s: podman rm failed; see %s", d->id, d->log);
	pthread_mutex_lock(&d->a->lock);
	if (reg_adopted(d->ep.name, &d->ep))
		endpoint_release_local(d->a, &d->ep);
	clear_return_flows(d->a, &d->ep);
	cluster_refresh_endpoint(d->a, d->ep.name);
	pthread_mutex_unlock(&d->a->lock);
	reg_clear(d->ep.name);
	peer_reply_error(d->ssl, "%s", msg);
}

void podman_serve(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	struct pm_dest d = { .a = a, .ssl = ssl };
	const char *id = json_string_value(json_object_get(hello, "id"));
	const char *name = json_string_value(json_object_get(hello, "endpoint"));
	const char *container = json_string_value(json_object_get(hello, "container"));
	struct api_error e = { 0 };
	char version[64], why[256];
	uint64_t bytes = 0, t0;
	json_t *msg;
	int ret, flows;

	if (!id || !mig_id_valid(id) || !container || !name_valid(container)) {
		peer_reply_error(ssl, "malformed Podman migration request");
		return;
	}
	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.peer, sizeof(d.peer), "%s", peer);
	snprintf(d.container, sizeof(d.container), "%s", container);
	/* Only the names come from the peer: the endpoint comes from cluster state. */
	if (claim_verify_endpoint(a, id, name, peer, &d.ep, &d.claim_rev, &e)) {
		peer_reply_error(ssl, "%s", e.msg);
		return;
	}
	podman_version(a, version, sizeof(version));
	if (!*version) {
		peer_reply_error(ssl, "node %s has no Podman", a->cfg.node);
		return;
	}
	snprintf(d.ep.node, sizeof(d.ep.node), "%s", a->cfg.node);
	d.ep.epoch++;
	d.ep.moved = true;
	snprintf(d.dir, sizeof(d.dir), "%s/migrations/%s", a->cfg.state_dir, id);
	snprintf(d.archive, sizeof(d.archive), "%s/checkpoint.tar", d.dir);
	snprintf(d.log, sizeof(d.log), "%s/podman.log", d.dir);
	if (mkdir_p(d.dir, 0700) || reg_set(&d.ep, PM_DEST)) {
		peer_reply_error(ssl, "node %s cannot take a Podman migration now", a->cfg.node);
		return;
	}
	log_info("migration %s: Podman container %s from %s", id, container, peer);
	peer_send(ssl, json_pack("{s:b}", "ok", 1));
	if ((ret = receive_archive(&d, &bytes))) {
		dest_fail(&d, false, "the checkpoint did not arrive: %s", strerror(-ret));
		goto out;
	}
	msg = peer_recv(ssl);
	if (!msg || strcmp(json_string_value(json_object_get(msg, "op")) ?: "", "restore")) {
		json_decref(msg);
		dest_fail(&d, false, "%s", "the source aborted");
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	flows = return_flows_add(a, &d.ep, json_object_get(msg, "flows"));
	pthread_mutex_unlock(&a->lock);
	json_decref(msg);
	t0 = (uint64_t)now_ms();
	if (fault(a, "podman-restore-fail"))
		ret = podman_run(a, d.log, PODMAN_MS, "container", "restore", "--import", "/nonexistent",
				 NULL);
	else
		ret = podman_run(a, d.log, PODMAN_MS, "container", "restore", "--tcp-established",
				 "--import", d.archive, NULL);
	if (ret || !reg_adopted(d.ep.name, &d.ep)) {
		if (ret)
			last_line(d.log, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "Podman did not attach it to the petrel network");
		dest_fail(&d, true, "podman container restore failed: %s", why);
		goto out;
	}
	/* CRIU restored its sockets: its packets may reach it here now. */
	pthread_mutex_lock(&a->lock);
	if (a->cfg.backend == BACKEND_EBPF && endpoint_datapath_attach(a, &d.ep))
		log_warn("migration %s: cannot attach %s to the datapath", id, d.ep.name);
	pthread_mutex_unlock(&a->lock);
	if (podman_commit(a, &d.ep, id, peer, d.claim_rev, &e)) {
		dest_fail(&d, true, "%s", e.msg);
		goto out;
	}
	log_info("migration %s: %s runs here (Podman, %llu bytes)", id, container,
		 (unsigned long long)bytes);
	peer_send(ssl, json_pack("{s:b, s:I, s:i}", "ok", 1, "restore_ms",
				 (json_int_t)((uint64_t)now_ms() - t0), "flows", flows));
	pthread_mutex_lock(&a->lock);
	if (endpoint_publish(a, &d.ep, true))
		log_warn("migration %s: cannot publish %s's ports here", id, container);
	pthread_mutex_unlock(&a->lock);
	reg_clear(d.ep.name);
out:
	remove_dir(a, d.dir);
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
		char *argv[12], *out = NULL;
		int n = podman_argv(a, argv);

		argv[n++] = "container";
		argv[n++] = "inspect";
		argv[n++] = "--format";
		argv[n++] = "{{.State.Status}}";
		argv[n++] = st->container;
		argv[n] = NULL;
		if (proc_output(argv, &out, 10000) == 0 && out)
			snprintf(status, sizeof(status), "%.*s", (int)strcspn(out, "\n"), out);
		free(out);
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

int podman_register(struct agent *a)
{
	(void)a;
	return peer_register("podman", podman_serve);
}
