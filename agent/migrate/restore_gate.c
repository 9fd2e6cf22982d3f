/* The destination's runc restore, started before the container is even frozen and held
 * until its checkpoint has arrived.
 *
 * runc spends about 35 ms starting, building the container's cgroup and mounts, and
 * starting CRIU, and CRIU about 15 ms loading before it reads its request; none of it
 * needs the checkpoint. So the gate starts all of it while the destination prepares,
 * before the source freezes, and holds CRIU where it reads its configuration file: the
 * bundle's criu.conf is a FIFO. CRIU opens its log only after that read, so what CRIU does
 * once the gate opens is what its log times: the floor.
 *
 * The agent holds the FIFO open for reading and writing from the start, and writes one
 * comment line: once that is read, CRIU has opened the file and waits for the rest. Only
 * then may the gate open (words, then end of file): a FIFO that every writer closed
 * before CRIU opened it would lose the words and hold CRIU for good.
 *
 * What runc needs before CRIU starts comes early: the bundle's config (written from the
 * container's record, as ever) and the container's stdio list (descriptors.json, sent in
 * the migrate request). Its root is still an empty directory then: runc bind-mounts it to
 * criu-root in its state directory, where the gate puts the overlay over the writable
 * layer, landed meanwhile, in its place. runc's stdio pipes go to the log pump only once
 * the layer (with the container's log) has landed.
 *
 * runc is given an empty image directory; the real one comes with the words
 * (images-dir). A gate that closes without its words, because the migration failed or
 * this agent died, leaves CRIU with no images: it fails, and a half-arrived checkpoint is
 * never restored. An agent that died before CRIU opened the FIFO releases it at its next
 * start (restore_gates_release).
 *
 * A lazy restore is held the same way: its gate opens once CRIU's lazy-pages daemon,
 * which needs the images, listens (dest_restore starts it first). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "migration.h"
#include "log.h"
#include "proc.h"
#include "runc.h"
#include "util.h"

#define GATE_UNDO_MS   10000
#define GATE_READER_MS 30000           /* runc and CRIU starting, on a busy node */
#define GATE_HELLO     "# petrel: held until the checkpoint has arrived\n"

static void restore_argv(struct dest *d, const char *images, char *pidfile, size_t pidlen,
			 char *bundle, size_t bundlelen, char **argv)
{
	container_bundle_dir(d->a, d->c.name, bundle, bundlelen);
	container_bundle_file(d->a, d->c.name, CT_PID_FILE, pidfile, pidlen);
	/* With lazy pages, the process runs before its memory has arrived. */
	criu_args("restore", d->c.name, &(struct criu_opts){ .criu = d->v.criu_path,
		  .images = images, .work = d->in.work, .pid_file = pidfile, .bundle = bundle,
		  .detach = true, .lazy_pages = d->in.lazy }, argv);
}

/* runc's state of an earlier stay of this container here: runc restore refuses a name it
 * still knows. Agent lock held. */
static void forget_earlier_stay(struct dest *d)
{
	char *stale[] = { "delete", "--force", d->c.name, NULL };
	char state[CONFIG_STR + 128];
	struct api_error e = { 0 };

	container_runc_root(d->a, state, sizeof(state));
	snprintf(state + strlen(state), sizeof(state) - strlen(state), "/%s", d->c.name);
	if (access(state, F_OK) == 0)
		container_runc(d->a, stale, NULL, &e);
}

/* The bundle's criu.conf becomes a FIFO that only this agent writes; its first line goes
 * in at once. */
static int gate_fifo(struct dest *d)
{
	char conf[CONFIG_STR + 256];
	int fd;

	container_bundle_file(d->a, d->c.name, CT_CRIU_CONF, conf, sizeof(conf));
	if (unlink(conf) && errno != ENOENT)
		return -errno;
	if (mkfifo(conf, 0600))
		return -errno;
	/* Read-write: the open never waits for CRIU, and CRIU's read waits for our words. */
	fd = open(conf, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, GATE_HELLO, strlen(GATE_HELLO)) != (ssize_t)strlen(GATE_HELLO)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* Until CRIU has read the first line (it holds the FIFO open and waits for the rest),
 * runc has ended, or the gate closes; then CRIU's pid, looked up here rather than inside
 * the freeze. */
static void *gate_watch(void *arg)
{
	struct dest *d = arg;
	siginfo_t si;
	int queued = 1;

	for (int ms = 0; ms < GATE_READER_MS; ms += 2) {
		if (__atomic_load_n(&d->gate_closing, __ATOMIC_ACQUIRE) ||
		    ioctl(d->gate_fd, FIONREAD, &queued) || queued == 0)
			break;
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)d->gate_runc, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid)
			break;
		usleep(2000);
	}
	/* runc's only child while the gate holds */
	if (queued == 0)
		d->gate_criu = proc_first_child(d->gate_runc);
	d->gate_reader = queued == 0;
	return NULL;
}

/* Every thread of pid at nice 0. */
static void unnice_threads(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dh;

	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(dh = opendir(path)))
		return;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			setpriority(PRIO_PROCESS, (id_t)atoi(de->d_name), 0);
	closedir(dh);
}

/* The watcher stopped, the FIFO closed (CRIU reads to its end), and criu.conf a plain
 * file again, as dest_write_bundle left it. */
static void gate_shut(struct dest *d)
{
	if (d->gate_watching) {
		pthread_join(d->gate_watcher, NULL);
		d->gate_watching = false;
	}
	if (d->gate_fd >= 0)
		close(d->gate_fd);
	d->gate_fd = -1;
	if (container_criu_options(d->a, d->c.name, true, NULL))
		log_warn("migration %s: cannot rewrite CRIU's options", d->in.id);
}

void restore_gate_start(struct dest *d)
{
	char gate[MIGRATION_DIR_MAX + 8], path[MIGRATION_DIR_MAX + 32];
	char bundle[CONFIG_STR + 64], pidfile[CONFIG_STR + 256], *argv[CRIU_ARGS_MAX];
	struct api_error e = { 0 };
	pid_t pid;

	if (!d->descriptors || d->gate_runc > 0)
		return;
	/* <state>/no-early-restore: restore after the images, as before (comparisons) */
	if (state_flag(d->a, "no-early-restore"))
		return;
	snprintf(gate, sizeof(gate), "%s/gate", d->in.dir);
	snprintf(path, sizeof(path), "%s/descriptors.json", gate);
	if (container_write_config(d->a, &d->c, &e) || mkdir_p(gate, 0700) ||
	    write_file_atomic(path, d->descriptors)) {
		log_warn("migration %s: no early restore: %s", d->in.id, e.status ? e.msg : "no gate");
		return;
	}
	forget_earlier_stay(d);
	if ((d->gate_fd = gate_fifo(d)) < 0) {
		log_warn("migration %s: no restore gate: %s", d->in.id, strerror(-d->gate_fd));
		d->gate_fd = -1;
		return;
	}
	/* At nice 19 until the gate opens: where source and destination share CPUs (a lab),
	 * starting runc must not slow the source's dump. */
	restore_argv(d, gate, pidfile, sizeof(pidfile), bundle, sizeof(bundle), argv);
	pid = container_runc_spawn_attached(d->a, d->c.name, argv, true, &d->gate_in_w,
					    &d->gate_out_r, &e);
	if (pid < 0) {
		log_warn("migration %s: no early restore: %s", d->in.id, e.msg);
		gate_shut(d);
		return;
	}
	d->gate_runc = pid;
	d->gate_closing = false;
	d->gate_watching = pthread_create(&d->gate_watcher, NULL, gate_watch, d) == 0;
	if (!d->gate_watching)
		gate_watch(d);
	log_debug("migration %s: runc restore started early (pid %d), held at the gate",
		  d->in.id, (int)pid);
}

bool restore_gated(const struct dest *d)
{
	return d->gate_runc > 0;
}

void restore_gate_landed(struct dest *d)
{
	if (d->gate_runc <= 0 || d->gate_in_w < 0)
		return;
	cgroup_warm_start(d->a, &d->warm);
	container_stdio_adopt(d->a, d->c.name, d->gate_in_w, d->gate_out_r);
	d->gate_in_w = d->gate_out_r = -1;
}

/* runc bound the rootfs, still empty, to criu-root: the overlay (mounted on the rootfs
 * since) goes there in its place. runc detaches criu-root when CRIU is done. */
static int gate_root(struct dest *d)
{
	char root[CONFIG_STR + 128], rootfs[CONFIG_STR + 256];

	container_runc_root(d->a, root, sizeof(root));
	snprintf(root + strlen(root), sizeof(root) - strlen(root), "/%s/criu-root", d->c.name);
	container_bundle_file(d->a, d->c.name, "rootfs", rootfs, sizeof(rootfs));
	if (!container_mounted(d->a, d->c.name))
		return -ENOENT;
	if (umount2(root, MNT_DETACH) || mount(rootfs, root, NULL, MS_BIND | MS_REC, NULL))
		return -errno;
	return 0;
}

/* Open the gate (the images are complete) and wait for runc; 0 or -1 with e set. Agent
 * lock held. */
static int gate_open(struct dest *d, struct api_error *e)
{
	char *opts = NULL, *words = NULL, *verb[] = { "restore", NULL };
	pid_t pid = d->gate_runc;
	int ret = 0;

	if (d->gate_watching) {
		pthread_join(d->gate_watcher, NULL);
		d->gate_watching = false;
	}
	/* The restore itself runs at the node's normal priority. (CRIU gives each restored
	 * task the nice value it was dumped with.) */
	unnice_threads(pid);
	unnice_threads(d->gate_criu);
	restore_gate_landed(d);
	if (!d->gate_reader)
		ret = -ETIMEDOUT;
	else if ((ret = gate_root(d)))
		;
	else if (!(opts = container_criu_options_text(d->a, NULL)) ||
		 asprintf(&words, "%simages-dir %s\n", opts, d->in.images) < 0)
		ret = -ENOMEM;
	/* A few hundred bytes into a pipe CRIU has emptied: written whole or not at all. */
	else if (write(d->gate_fd, words, strlen(words)) != (ssize_t)strlen(words))
		ret = -errno;
	free(opts);
	free(words);
	d->gate_runc = 0;
	gate_shut(d);
	if (ret) {              /* CRIU then finds no images where runc pointed it */
		proc_wait(pid, GATE_UNDO_MS);
		if (ret == -ETIMEDOUT)
			return api_fail(e, 500, "see runc.log in the container's bundle",
					"runc restore ended, or its CRIU did not start, before the "
					"checkpoint arrived");
		return api_fail(e, 500, NULL, "cannot open the restore gate: %s", strerror(-ret));
	}
	return container_runc_attached_wait(d->a, d->c.name, pid, verb, e);
}

int restore_run(struct dest *d, struct api_error *e)
{
	char bundle[CONFIG_STR + 64], pidfile[CONFIG_STR + 256], *argv[CRIU_ARGS_MAX];

	if (d->gate_runc > 0)
		return gate_open(d, e);
	forget_earlier_stay(d);
	memset(e, 0, sizeof(*e));
	restore_argv(d, d->in.images, pidfile, sizeof(pidfile), bundle, sizeof(bundle), argv);
	return container_runc_attached(d->a, d->c.name, argv, e);
}

void restore_gate_close(struct dest *d)
{
	pid_t pid = d->gate_runc;

	if (pid <= 0)
		return;
	d->gate_runc = 0;
	__atomic_store_n(&d->gate_closing, true, __ATOMIC_RELEASE);
	/* No words: CRIU finds no images in runc's directory and fails. */
	gate_shut(d);
	if (proc_wait(pid, GATE_UNDO_MS) == -ETIMEDOUT)
		log_warn("migration %s: the held restore did not end; runc killed", d->in.id);
	if (d->gate_in_w >= 0) {
		close(d->gate_in_w);
		close(d->gate_out_r);
		d->gate_in_w = d->gate_out_r = -1;
	}
}

/* Held restores of an agent that died: a CRIU still waiting to open its FIFO gets an end
 * of file, fails on runc's empty image directory, and runc with it. */
void restore_gates_release(struct agent *a)
{
	char dir[CONFIG_STR + 64], conf[CONFIG_STR + 600];
	struct dirent *de;
	struct stat st;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/containers", a->cfg.state_dir);
	if (!(dh = opendir(dir)))
		return;
	while ((de = readdir(dh))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(conf, sizeof(conf), "%s/%s/%s", dir, de->d_name, CT_CRIU_CONF);
		if (lstat(conf, &st) || !S_ISFIFO(st.st_mode))
			continue;
		if ((fd = open(conf, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0) {
			log_warn("container %s: releasing a restore held by the previous agent",
				 de->d_name);
			close(fd);
		}
		unlink(conf);
	}
	closedir(dh);
}
