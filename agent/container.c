/* Containers run with runc on this node: OCI bundle with an overlay over a read-only
 * rootfs, a petrel endpoint as network, stdio on pipes pumped into the bundle's log
 * (agent/runc.c), and the record /petrel/containers/NAME. Exits are watched here: petreld
 * is a child subreaper, so a detached container's init becomes its child when runc exits.
 *
 * Locking: the API route runs under a->lock like every route; `stop` releases it while it
 * waits for the process to end. Log pumps and exit watchers have their own lock. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "agent.h"
#include "image.h"
#include "log.h"
#include "netns.h"
#include "oci.h"
#include "runc.h"
#include "proc.h"
#include "util.h"

/* ---- paths (the bundle's are in runc.c) ------------------------------------------- */

/* /petrel/<node>/<netns>: the netns name (prefix + container name) is unique on the
 * machine, the node name alone is not (every lab has a node1). Two containers sharing a
 * cgroup would share a freezer, and CRIU would dump both as one. */
void container_cgroup_path(struct agent *a, const struct container *c, char *buf, size_t len)
{
	snprintf(buf, len, "/petrel/%s/%s", a->cfg.node, *c->netns ? c->netns : c->name);
}

uint64_t container_memory(struct agent *a, const struct container *c)
{
	static const char *const roots[] = { "/sys/fs/cgroup/memory", "/sys/fs/cgroup" };
	char rel[400], path[600], *text = NULL;
	uint64_t bytes = 0;

	container_cgroup_path(a, c, rel, sizeof(rel));
	/* cgroup v1's memory hierarchy, else v2's unified one */
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && !text; i++) {
		snprintf(path, sizeof(path), "%s%s/memory.stat", roots[i], rel);
		if (read_file(path, &text))
			text = NULL;
	}
	if (text)
		bytes = memory_stat_dumpable(text);
	free(text);
	return bytes ? bytes : proc_tree_memory(c->pid);
}

/* ---- records -------------------------------------------------------------------------- */

static void record_key(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, KEY_CONTAINERS "%s", name);
}

int container_get(struct agent *a, const char *name, struct container *c)
{
	char key[128], *text = NULL;
	int ret;

	record_key(key, sizeof(key), name);
	ret = store_get(a->store, key, &text, NULL);
	if (ret)
		return ret;
	ret = container_decode(text, c);
	free(text);
	return ret;
}

int container_put(struct agent *a, const struct container *c)
{
	char key[128], *text = container_encode(c);
	int ret;

	if (!text)
		return -ENOMEM;
	record_key(key, sizeof(key), c->name);
	ret = store_put(a->store, key, text, 0);
	free(text);
	return ret;
}

/* ---- exit watchers -------------------------------------------------------------------- */

struct watch {
	struct watch *next;
	struct agent *a;
	char name[EP_NAME_MAX];
	pid_t pid;
	int pidfd;
	bool stopping;          /* `petrel stop` asked: the end is "stopped", not "exited" */
	bool done;
	bool thread_gone;       /* its thread ended: whoever unlinks it frees it */
	int exit_code;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watches;

static struct watch *watch_find(const char *name)
{
	for (struct watch *w = watches; w; w = w->next)
		if (!strcmp(w->name, name))
			return w;
	return NULL;
}

static void watch_drop(const char *name)
{
	pthread_mutex_lock(&watch_lock);
	for (struct watch **pp = &watches; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name)) {
			struct watch *w = *pp;
			*pp = w->next;
			/* a thread still waiting frees w itself when it finds it unlinked */
			if (w->thread_gone)
				free(w);
			break;
		}
	pthread_mutex_unlock(&watch_lock);
}

static bool watch_linked(struct watch *w)
{
	for (struct watch *x = watches; x; x = x->next)
		if (x == w)
			return true;
	return false;
}

/* Record the end of NAME's process: "stopped" after `petrel stop`, "exited" when it ended
 * on its own while "running". Other states (e.g. "migrating") and records that moved to
 * another node or to another pid are left alone. */
static void record_exit(struct agent *a, const char *name, pid_t pid, bool stopping, int code)
{
	struct container c;

	if (container_get(a, name, &c) || strcmp(c.node, a->cfg.node) || (pid && c.pid != pid))
		return;
	if (stopping && (!strcmp(c.state, CT_RUNNING) || !strcmp(c.state, CT_STOPPED)))
		snprintf(c.state, sizeof(c.state), CT_STOPPED);
	else if (!strcmp(c.state, CT_RUNNING))
		snprintf(c.state, sizeof(c.state), CT_EXITED);
	else
		return;
	c.exit_code = code;
	c.pid = 0;
	if (container_put(a, &c))
		log_warn("container %s: cannot record its exit", name);
	else
		log_info("container %s %s (exit code %d)", name, c.state, code);
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct pollfd pfd = { .fd = w->pidfd, .events = POLLIN };
	siginfo_t si = { 0 };
	int code = -1;

	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
	/* Our child when runc left it to us (subreaper): its status is ours to collect. This
	 * blocks while a tracer (CRIU) still holds the zombie; ECHILD when not our child. */
	while (waitid(P_PID, (id_t)w->pid, &si, WEXITED) < 0 && errno == EINTR)
		;
	if (si.si_pid == w->pid)
		code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	close(w->pidfd);
	pthread_mutex_lock(&watch_lock);
	w->exit_code = code;
	w->done = true;
	bool linked = watch_linked(w), stopping = w->stopping;
	struct agent *a = w->a;
	pid_t pid = w->pid;
	char name[EP_NAME_MAX];
	snprintf(name, sizeof(name), "%s", w->name);
	if (linked)
		w->thread_gone = true;     /* kept for container_stop to read the exit code */
	else
		free(w);
	pthread_mutex_unlock(&watch_lock);
	if (linked && !a->stopping) {
		/* Bounded like an API request: a hung store must not hold the agent lock. A
		 * record that fails here is set right by the next refresh (the watch keeps the
		 * exit code). */
		pthread_mutex_lock(&a->lock);
		store_deadline_set(4000);
		record_exit(a, name, pid, stopping, code);
		store_deadline_clear();
		pthread_mutex_unlock(&a->lock);
	}
	return NULL;
}

/* Watch pid as NAME's process; replaces an earlier watch of NAME. */
static int watch_start(struct agent *a, const char *name, pid_t pid)
{
	struct watch *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (w->pidfd < 0) {
		ret = -errno;
		free(w);
		return ret;
	}
	w->a = a;
	w->pid = pid;
	w->exit_code = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	watch_drop(name);
	pthread_mutex_lock(&watch_lock);
	w->next = watches;
	watches = w;
	pthread_mutex_unlock(&watch_lock);
	if ((ret = thread_detached(watch_main, w))) {
		watch_drop(name);
		close(w->pidfd);
		free(w);
		return -ret;
	}
	return 0;
}

int container_read_pid(struct agent *a, struct container *c, struct api_error *e)
{
	char status[32], pidfile[CONFIG_STR + 256], *text = NULL;
	int pid = 0;

	/* The pid file is there even when the process already ended (and is then a zombie
	 * of ours until its watcher reaps it); runc state is the fallback. */
	container_bundle_file(a, c->name, CT_PID_FILE, pidfile, sizeof(pidfile));
	if (read_file(pidfile, &text) == 0)
		pid = atoi(text);
	free(text);
	if (pid <= 0 && (container_runc_state(a, c->name, &pid, status, sizeof(status)) || pid <= 0))
		return api_fail(e, 500, NULL, "runc does not know container '%s' after starting it", c->name);
	snprintf(c->node, sizeof(c->node), "%s", a->cfg.node);
	snprintf(c->state, sizeof(c->state), CT_RUNNING);
	c->pid = pid;
	c->exit_code = -1;
	return 0;
}

void container_watch(struct agent *a, const struct container *c)
{
	int ret = watch_start(a, c->name, c->pid);

	if (ret)
		log_warn("container %s: cannot watch pid %d: %s", c->name, c->pid, strerror(-ret));
}

int container_started(struct agent *a, struct container *c, struct api_error *e)
{
	int ret;

	if (container_read_pid(a, c, e))
		return -1;
	if ((ret = container_put(a, c)))
		return api_fail(e, 503, NULL, "cannot record container '%s': %s", c->name, strerror(-ret));
	container_watch(a, c);
	return 0;
}

static int teardown(struct agent *a, const char *name, bool endpoint, struct api_error *e);

/* Reconnect the log pump of a running container to its holder's pipes. */
int containers_restore(struct agent *a)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int ret = store_list(a->store, KEY_CONTAINERS, &kvs, &n, NULL);

	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct container c;

		if (container_decode(kvs[i].value, &c) || strcmp(c.node, a->cfg.node))
			continue;
		if (!strcmp(c.state, CT_CREATING)) {
			/* petreld stopped in the middle of `run`: finish the undo it did not do */
			log_warn("container %s was half-created when the agent stopped; removing it", c.name);
			if (teardown(a, c.name, true, &(struct api_error){ 0 }) == 0)
				store_delete(a->store, kvs[i].key);
			continue;
		}
		container_refresh(a, &c);
	}
	store_kvs_free(kvs, n);
	return 0;
}

/* A local record says "running" but nothing watches it (petreld restarted): ask runc,
 * and either adopt the process again or record that it ended (exit code unknown). A
 * watcher that has just reaped the process but not yet recorded it (it waits for the
 * agent's lock, which the caller holds) knows the exit code: that one is recorded. */
void container_refresh(struct agent *a, struct container *c)
{
	char status[32];
	int pid = 0, code = -1;
	bool watched, reaped, stopping = false;

	if (strcmp(c->node, a->cfg.node) || strcmp(c->state, CT_RUNNING))
		return;
	pthread_mutex_lock(&watch_lock);
	struct watch *w = watch_find(c->name);
	watched = w && w->pid == c->pid && !w->done;
	reaped = w && w->pid == c->pid && w->done;
	if (reaped) {
		code = w->exit_code;
		stopping = w->stopping;
	}
	pthread_mutex_unlock(&watch_lock);
	if (watched)
		return;
	if (!reaped &&
	    container_runc_state(a, c->name, &pid, status, sizeof(status)) == 0 && pid == c->pid &&
	    (!strcmp(status, "running") || !strcmp(status, "paused")) &&
	    watch_start(a, c->name, pid) == 0) {
		container_pump_adopt(a, c->name);
		return;
	}
	record_exit(a, c->name, 0, stopping, code);
	container_get(a, c->name, c);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

/* A runc call whose failure only matters to the log (cleanup paths). */
static void runc_quiet(struct agent *a, const char *a0, const char *a1, const char *a2)
{
	char *args[] = { (char *)a0, (char *)a1, (char *)a2, NULL };
	struct api_error e;

	if (container_runc(a, args, NULL, &e))
		log_debug("runc %s %s: %s", a0, a1, e.msg);
}

/* Undo everything a container has on this node except its record; best effort. */
static int teardown(struct agent *a, const char *name, bool endpoint, struct api_error *e)
{
	struct api_error ee;
	int ret;

	runc_quiet(a, "delete", "--force", name);
	container_pump_stop(name);
	watch_drop(name);
	if ((ret = container_unmount(a, name)))
		return api_fail(e, 500, "something still uses the rootfs; see fuser -m",
				"cannot unmount the rootfs of '%s': %s", name, strerror(-ret));
	if ((ret = container_remove_bundle(a, name)))
		return api_fail(e, 500, NULL, "cannot remove the bundle of '%s': %s", name, strerror(-ret));
	if (endpoint && endpoint_delete(a, name, &ee) && ee.status != 404)
		return api_fail(e, ee.status, *ee.hint ? ee.hint : NULL, "%s", ee.msg);
	return 0;
}

int container_run(struct agent *a, json_t *body, struct container *c, struct api_error *e)
{
	char key[128], msg[512], bundle[CONFIG_STR + 128], *text;
	char pidfile[CONFIG_STR + 256], lower[IMAGE_LOWER_MAX];
	char *run[] = { (char *)"run", (char *)"--detach", (char *)"--pid-file", pidfile,
			(char *)"--bundle", bundle, c->name, NULL };
	struct ep_request req = { 0 };
	struct endpoint ep;
	struct container other;
	struct stat st;
	int ret;

	if (!body)
		return api_fail(e, 400, NULL, "this request needs a JSON body");
	if (container_request_parse(body, c, msg, sizeof(msg)))
		return api_fail(e, 400, NULL, "invalid container request: %s", msg);
	if (*c->image && image_prepare(a, c, lower, sizeof(lower), msg, sizeof(msg)))
		return api_fail(e, 400, "podman images (with this node's containers-storage), or an OCI "
				"image layout as oci:DIR[:TAG]", "image %s: %s", c->image, msg);
	if (!*c->image && stat(c->rootfs, &st))
		return api_fail(e, 400, "build one with scripts/mkrootfs.sh DIR", "rootfs %s: %s",
				c->rootfs, strerror(errno));
	if (!*c->image && !S_ISDIR(st.st_mode))
		return api_fail(e, 400, NULL, "rootfs %s is not a directory", c->rootfs);
	snprintf(c->node, sizeof(c->node), "%s", a->cfg.node);
	c->created = time(NULL);

	/* The record reserves the name cluster-wide. */
	record_key(key, sizeof(key), c->name);
	if (!(text = container_encode(c)))
		return api_fail(e, 500, NULL, "out of memory");
	ret = store_create(a->store, key, text, 0);
	free(text);
	if (ret == -EEXIST) {
		if (container_get(a, c->name, &other) == 0)
			return api_fail(e, 409, "pick another name, or `petrel rm` the existing one",
					"container '%s' already exists on node %s", c->name, other.node);
		return api_fail(e, 409, NULL, "container '%s' already exists", c->name);
	}
	if (ret)
		return api_fail(e, 503, NULL, "cannot record container '%s': %s", c->name, strerror(-ret));

	snprintf(req.name, sizeof(req.name), "%s", c->name);
	req.n_labels = c->n_labels;
	memcpy(req.labels, c->labels, sizeof(req.labels));
	req.n_publish = c->n_publish;
	memcpy(req.publish, c->publish, sizeof(req.publish));
	if (endpoint_create(a, &req, &ep, e))
		goto undo_record;
	c->ip4 = ep.ip4;
	c->ip6 = ep.ip6;
	snprintf(c->netns, sizeof(c->netns), "%s", ep.netns);
	container_bundle_dir(a, c->name, bundle, sizeof(bundle));
	container_bundle_file(a, c->name, CT_PID_FILE, pidfile, sizeof(pidfile));
	if (container_write_bundle(a, c, *c->image ? lower : NULL, e) ||
	    container_runc_attached(a, c->name, run, e) ||
	    container_started(a, c, e))
		goto undo_all;
	log_info("container %s running (pid %d, %s)", c->name, c->pid, *c->image ? c->image : c->rootfs);
	return 0;

undo_all:
	teardown(a, c->name, true, &(struct api_error){ 0 });
undo_record:
	store_delete(a->store, key);
	return -1;
}

/* Wait (without the agent lock) until NAME's watched process ended; false on timeout. */
static bool wait_ended(struct agent *a, const char *name, pid_t pid, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	bool ended = false;

	pthread_mutex_unlock(&a->lock);
	for (;;) {
		pthread_mutex_lock(&watch_lock);
		struct watch *w = watch_find(name);
		ended = w ? (w->pid != pid || w->done) : kill(pid, 0) != 0;
		pthread_mutex_unlock(&watch_lock);
		if (ended || now_ms() >= end)
			break;
		usleep(20000);
	}
	pthread_mutex_lock(&a->lock);
	return ended;
}

int container_local(struct agent *a, const char *name, struct container *c,
		    const char *verb, struct api_error *e)
{
	int ret = container_get(a, name, c);

	if (ret == -ENOENT)
		return api_fail(e, 404, "see `petrel ps`", "container '%s' does not exist", name);
	if (ret)
		return api_fail(e, 503, NULL, "cannot read container '%s': %s", name, strerror(-ret));
	if (strcmp(c->node, a->cfg.node))
		return api_fail(e, 409, "ask that node's agent (petrel --node NODE ...)",
				"container '%s' runs on node %s, not %s; %s it there", name, c->node,
				a->cfg.node, verb);
	container_refresh(a, c);
	return 0;
}

int container_stop(struct agent *a, const char *name, int timeout_s, struct api_error *e)
{
	struct container c;
	pid_t pid;

	if (container_local(a, name, &c, "stop", e))
		return -1;
	if (strcmp(c.state, CT_RUNNING))
		return 0;           /* already ended: nothing to do */
	pid = c.pid;
	pthread_mutex_lock(&watch_lock);
	struct watch *w = watch_find(name);
	if (w)
		w->stopping = true;
	pthread_mutex_unlock(&watch_lock);
	runc_quiet(a, "kill", name, "TERM");
	if (!wait_ended(a, name, pid, timeout_s * 1000)) {
		log_info("container %s: no exit %d s after SIGTERM; sending SIGKILL", name, timeout_s);
		runc_quiet(a, "kill", name, "KILL");
		if (!wait_ended(a, name, pid, 5000))
			return api_fail(e, 500, NULL, "container '%s' (pid %d) survived SIGKILL", name, pid);
	}
	/* The watcher records the exit code; without one (agent restarted) record it here. */
	pthread_mutex_lock(&watch_lock);
	w = watch_find(name);
	bool recorded = w && w->pid == pid && w->done;
	int code = w ? w->exit_code : -1;
	pthread_mutex_unlock(&watch_lock);
	record_exit(a, name, pid, true, recorded ? code : -1);
	return 0;
}

int container_remove(struct agent *a, const char *name, bool force, struct api_error *e)
{
	struct container c;
	char key[128];

	if (container_local(a, name, &c, "remove", e))
		return -1;
	if (!strcmp(c.state, CT_RUNNING)) {
		if (!force)
			return api_fail(e, 409, "stop it first, or use --force",
					"container '%s' is running", name);
		if (container_stop(a, name, 0, e))
			return -1;
	}
	if (!strcmp(c.state, CT_MIGRATING))
		return api_fail(e, 409, "wait for the migration to end", "container '%s' is migrating", name);
	if (teardown(a, name, true, e))
		return -1;
	record_key(key, sizeof(key), name);
	store_delete(a->store, key);
	log_info("container %s removed", name);
	return 0;
}

/* CRIU for runc's global --criu option: petrel's own install, else `criu` from PATH. */
const char *container_criu_path(void)
{
	return access(CRIU_PATH, X_OK) == 0 ? CRIU_PATH : "criu";
}

/* Write value into an existing cgroup control file (no tmp file: cgroupfs has none). */
static int cgroup_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Freeze or thaw a container through its cgroup's freezer, as `runc pause`/`resume` do,
 * without starting runc (about 15 ms each time, inside a migration's freeze): the v1
 * freezer's freezer.state, or cgroup v2's cgroup.freeze, then wait until the kernel says
 * every task is frozen. Falls back to runc where neither file exists. */
int container_freeze(struct agent *a, const struct container *c, bool freeze, struct api_error *e)
{
	char rel[400], path[600], *state = NULL;
	const char *name = c->name;
	char *argv[] = { freeze ? "pause" : "resume", (char *)name, NULL };
	bool v1;
	int ret;

	container_cgroup_path(a, c, rel, sizeof(rel));
	snprintf(path, sizeof(path), "/sys/fs/cgroup/freezer%s/freezer.state", rel);
	v1 = access(path, W_OK) == 0;
	if (!v1)
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.freeze", rel);
	if (access(path, W_OK))
		return container_runc(a, argv, NULL, e);
	if ((ret = cgroup_write(path, v1 ? (freeze ? "FROZEN" : "THAWED") : (freeze ? "1" : "0"))))
		return api_fail(e, 500, NULL, "cannot %s '%s' (%s): %s", freeze ? "freeze" : "thaw",
				name, path, strerror(-ret));
	if (!v1)
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.events", rel);
	/* v1 says FREEZING until every task is; v2's cgroup.events says "frozen 1". */
	for (int i = 0; i < 2000; i++) {
		bool done;

		if (read_file(path, &state))
			break;
		done = v1 ? !strncmp(state, freeze ? "FROZEN" : "THAWED", 6)
			  : (strstr(state, freeze ? "frozen 1" : "frozen 0") != NULL);
		free(state);
		state = NULL;
		if (done)
			return 0;
		usleep(1000);
	}
	return api_fail(e, 500, NULL, "'%s' did not %s within 2 s", name, freeze ? "freeze" : "thaw");
}

#define CGROUP_ROOT "/sys/fs/cgroup"

/* A cgroup v1 or hybrid host mounts one hierarchy per directory of /sys/fs/cgroup, named
 * as CRIU names its yard's (cpu, memory, "cpu,cpuacct", systemd, unified). Without a yard
 * CRIU mounts and unmounts every hierarchy itself on each dump: 8-20 ms, frozen, for the
 * ten of a hybrid host. Where /sys/fs/cgroup is itself the cgroup2 file system there is
 * one hierarchy, and CRIU's own mount is cheap. */
static bool cgroup_yard(void)
{
	struct statfs st;

	return !statfs(CGROUP_ROOT, &st) && st.f_type == TMPFS_MAGIC &&
	       !statfs(CGROUP_ROOT "/unified", &st) && st.f_type == CGROUP2_SUPER_MAGIC;
}

/* The CRIU options of a container's next checkpoint or restore (runc hands CRIU this file).
 *
 * CRIU locks a container's network namespace while it dumps or restores it, with
 * iptables-restore run inside it for each address family on lock and again on unlock:
 * about 70 ms on each side of a migration, all of it inside the freeze. A migration needs
 * none of it: petrel already holds the container's packets on the source node and drops
 * what the frozen namespace sends, and the destination gets no traffic until the commit.
 * A local checkpoint keeps CRIU's lock: there nothing else stops the namespace from
 * resetting connections whose sockets are gone.
 *
 * A migration also passes the masked directories as external mounts: CRIU would otherwise
 * dump each empty tmpfs with a tar and a gzip and restore it with a tar (3-4 ms apiece,
 * frozen). The destination hides them under a read-only bind of an empty directory. */
char *container_criu_options_text(struct agent *a, const char *hook)
{
	char empty[CONFIG_STR + 16], *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(empty, sizeof(empty), "%s/empty", a->cfg.state_dir);
	if (mkdir_p(empty, 0555) || !(f = open_memstream(&text, &len)))
		return NULL;
	fprintf(f, "# a migration: petrel holds this container's packets\nnetwork-lock skip\n");
	for (int i = 0; oci_masked_dirs[i]; i++)
		fprintf(f, "external mnt[%s]:petrel-masked\n", oci_masked_dirs[i]);
	fprintf(f, "external mnt[petrel-masked]:%s\n", empty);
	if (cgroup_yard())
		fprintf(f, "cgroup-yard %s\n", CGROUP_ROOT);
	if (hook)
		fprintf(f, "action-script %s\n", hook);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

int container_criu_options(struct agent *a, const char *name, bool migrating, const char *hook)
{
	char path[CONFIG_STR + 256], *text;
	int ret;

	container_bundle_file(a, name, CT_CRIU_CONF, path, sizeof(path));
	if (!migrating)
		return unlink(path) && errno != ENOENT ? -errno : 0;
	if (!(text = container_criu_options_text(a, hook)))
		return -ENOMEM;
	ret = write_file_atomic(path, text);
	free(text);
	return ret;
}

int container_checkpoint(struct agent *a, const char *name, const char *image_dir,
			 bool leave_running, struct api_error *e)
{
	char *args[CRIU_ARGS_MAX];
	struct container c;
	int ret;

	if (container_local(a, name, &c, "checkpoint", e))
		return -1;
	if (strcmp(c.state, CT_RUNNING))
		return api_fail(e, 409, NULL, "container '%s' is %s, not running", name, c.state);
	if (!container_path_valid(image_dir))
		return api_fail(e, 400, NULL, "image directory '%s' must be an absolute path", image_dir);
	if ((ret = mkdir_p(image_dir, 0700)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", image_dir, strerror(-ret));
	if ((ret = container_criu_options(a, name, false, NULL)))
		return api_fail(e, 500, NULL, "cannot reset CRIU's options: %s", strerror(-ret));
	criu_args("checkpoint", name, &(struct criu_opts){ .criu = container_criu_path(),
		  .images = image_dir, .leave_running = leave_running }, args);
	/* Without --leave-running CRIU kills the process: that end is a "stopped". */
	pthread_mutex_lock(&watch_lock);
	struct watch *w = watch_find(name);
	if (w && !leave_running)
		w->stopping = true;
	pthread_mutex_unlock(&watch_lock);
	ret = container_runc(a, args, NULL, e);
	if (ret) {
		pthread_mutex_lock(&watch_lock);
		if ((w = watch_find(name)))
			w->stopping = false;
		pthread_mutex_unlock(&watch_lock);
		return -1;
	}
	if (!leave_running && wait_ended(a, name, c.pid, 5000))
		record_exit(a, name, c.pid, true, -1);
	log_info("container %s checkpointed into %s%s", name, image_dir,
		 leave_running ? " (left running)" : "");
	return 0;
}

int container_restore(struct agent *a, const char *name, const char *image_dir, struct api_error *e)
{
	char bundle[CONFIG_STR + 128], pidfile[CONFIG_STR + 256];
	char *args[CRIU_ARGS_MAX];
	struct container c;

	if (container_local(a, name, &c, "restore", e))
		return -1;
	if (!strcmp(c.state, CT_RUNNING))
		return api_fail(e, 409, "checkpoint it first", "container '%s' is running", name);
	if (!container_path_valid(image_dir) || access(image_dir, R_OK))
		return api_fail(e, 400, NULL, "no checkpoint images in '%s'", image_dir);
	container_bundle_dir(a, name, bundle, sizeof(bundle));
	container_bundle_file(a, name, CT_PID_FILE, pidfile, sizeof(pidfile));
	criu_args("restore", name, &(struct criu_opts){ .criu = container_criu_path(),
		  .images = image_dir, .pid_file = pidfile, .bundle = bundle, .detach = true }, args);
	runc_quiet(a, "delete", "--force", name);   /* a stopped container's leftover state */
	if (container_criu_options(a, name, false, NULL))
		return api_fail(e, 500, NULL, "cannot reset CRIU's options for '%s'", name);
	if (container_write_bundle(a, &c, NULL, e) || container_runc_attached(a, name, args, e) ||
	    container_started(a, &c, e))
		return -1;
	log_info("container %s restored from %s (pid %d)", name, image_dir, c.pid);
	return 0;
}
