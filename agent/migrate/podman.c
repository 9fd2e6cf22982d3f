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
 * (`podman container restore`), whose CNI ADD adopts the same endpoint again.
 *
 * This file: the migrations under way (for Podman's CNI requests), Podman helpers and the
 * destination; podman_source.c: the source side and a restarted source's settling. */
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


/* ---- the migrations under way here, for the CNI requests Podman makes during them ---- */


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

int reg_set(const struct endpoint *ep, enum pm_role role)
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

void reg_clear(const char *name)
{
	struct pm_entry *x;

	pthread_mutex_lock(&reg.lock);
	if ((x = reg_find(name)))
		x->used = false;
	pthread_mutex_unlock(&reg.lock);
}

bool reg_adopted(const char *name, struct endpoint *ep)
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
int podman_run(struct agent *a, const char *log, int timeout_ms, ...)
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
void last_line(const char *log, char *buf, size_t len)
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

int podman_inspect(struct agent *a, const char *name, const char *format, char *buf, size_t len)
{
	char *argv[12], *out = NULL;
	int n = podman_argv(a, argv), ret;

	argv[n++] = "container";
	argv[n++] = "inspect";
	argv[n++] = "--format";
	argv[n++] = (char *)format;
	argv[n++] = (char *)name;
	argv[n] = NULL;
	ret = proc_output(argv, &out, 10000);
	if (!ret && out)
		snprintf(buf, len, "%.*s", (int)strcspn(out, "\n"), out);
	free(out);
	return ret ? (ret < 0 ? ret : -ENOENT) : out ? 0 : -EIO;
}

int podman_refusal(struct agent *a, const char *name, struct api_error *e)
{
	char out[512];

	if (podman_inspect(a, name, "{{.State.Status}} {{range $k, $v := .NetworkSettings.Networks}}"
			   "{{$k}} {{end}}", out, sizeof(out)))
		return 0;                      /* no Podman container of that name either */
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
	return -1;
}

int read_full(SSL *ssl, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		int r = SSL_read(ssl, (char *)buf + got, (int)(len - got));

		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
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
	char *buf = malloc(PODMAN_FRAME_MAX);
	int fd = open(d->archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ret = fd >= 0 && buf ? 0 : -EIO;

	while (!ret) {
		uint32_t l;

		if ((ret = read_full(d->ssl, &l, 4)))
			break;
		l = ntohl(l);
		if (!l)
			break;
		if (l > PODMAN_FRAME_MAX) {
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

int podman_register(struct agent *a)
{
	(void)a;
	return peer_register("podman", podman_serve);
}
