/* runc for petrel's containers: runc processes with captured stdio, the log pumps that
 * append a container's output to its bundle's log, and the stdio holders that keep those
 * pipes open while no petreld reads them (docs/containers.md). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "agent.h"
#include "log.h"
#include "proc.h"
#include "runc.h"
#include "util.h"

/* ---- bundle paths ---------------------------------------------------------------------------- */

int container_bundle_dir(struct agent *a, const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/containers/%s", a->cfg.state_dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

void container_runc_root(struct agent *a, char *buf, size_t len)
{
	snprintf(buf, len, "%s/runc", a->cfg.state_dir);
}

void container_bundle_file(struct agent *a, const char *name, const char *leaf, char *buf, size_t len)
{
	char dir[CONFIG_STR + 128];

	container_bundle_dir(a, name, dir, sizeof(dir));
	snprintf(buf, len, "%s/%s", dir, leaf);
}


#define RUNC_MAX_ARGS 64

/* ---- log pumps ------------------------------------------------------------------------ */

struct pump {
	struct pump *next;
	char name[EP_NAME_MAX];
	char path[CONFIG_STR + 256];
	char holder_file[CONFIG_STR + 256];
	int in_w, out_r;
	pid_t holder;           /* keeps the pipes open while no petreld reads them */
	bool stop;
};

static pthread_mutex_t pumps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pump *pumps;

static void pump_unlink(struct pump *p)
{
	for (struct pump **pp = &pumps; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

int thread_detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -ret;
}

/* The stdio holder: a `sleep infinity` outside the container, spawned with the pipes' far
 * ends as its stdin (the container's stdout+stderr read end) and stdout (the container's
 * stdin write end). It never touches them; it only keeps them open so that a container
 * writing while petreld restarts blocks on a full pipe instead of getting SIGPIPE, and
 * so that the next petreld can reopen them through /proc/<holder>/fd. It is killed when
 * the container's output ends. Its pid is in <bundle>/stdio.pid. */
#define HOLDER_ARGV0 "petrel-stdio"

static void holder_end(pid_t holder, const char *pidfile)
{
	if (holder <= 0)
		return;
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);       /* ECHILD at once when an earlier petreld spawned it */
	unlink(pidfile);
}

static pid_t holder_spawn(int out_r, int in_w, const char *pidfile)
{
	char *argv[] = { (char *)HOLDER_ARGV0, (char *)"infinity", NULL };
	char num[16];
	pid_t pid = proc_spawn_ex("/bin/sleep", argv, (int[3]){ out_r, in_w, -1 }, -1, true);

	if (pid < 0)
		return pid;
	snprintf(num, sizeof(num), "%d\n", pid);
	if (write_file_atomic(pidfile, num))
		log_warn("cannot write %s", pidfile);
	return pid;
}

/* Reopen the pipes a holder keeps (after a petreld restart). */
static int holder_adopt(const char *pidfile, pid_t *holder, int *out_r, int *in_w)
{
	char path[64], *text = NULL, *cmd = NULL;
	pid_t pid;

	if (read_file(pidfile, &text))
		return -ENOENT;
	pid = atoi(text);
	free(text);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	if (pid <= 0 || read_file(path, &cmd) || strcmp(cmd, HOLDER_ARGV0)) {
		free(cmd);
		return -ESRCH;          /* gone, or the pid was reused */
	}
	free(cmd);
	snprintf(path, sizeof(path), "/proc/%d/fd/0", pid);
	*out_r = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/fd/1", pid);
	*in_w = open(path, O_WRONLY | O_CLOEXEC);
	if (*out_r < 0 || *in_w < 0) {
		if (*out_r >= 0)
			close(*out_r);
		if (*in_w >= 0)
			close(*in_w);
		return -EIO;
	}
	*holder = pid;
	return 0;
}

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	char buf[16384];
	/* No link followed: a bundle that arrived by migration is another node's tar. */
	int fd = open(p->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	bool stop = false;

	if (fd < 0)
		log_warn("container %s: cannot open log %s: %s", p->name, p->path, strerror(errno));
	while (!stop) {
		struct pollfd pfd = { .fd = p->out_r, .events = POLLIN };
		int n = poll(&pfd, 1, 250);

		pthread_mutex_lock(&pumps_lock);
		stop = p->stop;
		pthread_mutex_unlock(&pumps_lock);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		ssize_t r = read(p->out_r, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;          /* every writer is gone: the container ended */
		if (fd >= 0 && write(fd, buf, (size_t)r) != r)
			log_warn("container %s: short write to its log", p->name);
	}
	pthread_mutex_lock(&pumps_lock);
	if (!p->stop)
		pump_unlink(p);
	pthread_mutex_unlock(&pumps_lock);
	if (fd >= 0)
		close(fd);
	close(p->out_r);
	close(p->in_w);
	holder_end(p->holder, p->holder_file);
	free(p);
	return NULL;
}

/* Stop NAME's pump (if any). Its thread closes the pipes and frees itself. */
void container_pump_stop(const char *name)
{
	pthread_mutex_lock(&pumps_lock);
	for (struct pump *p = pumps; p; p = p->next)
		if (!strcmp(p->name, name)) {
			p->stop = true;
			pump_unlink(p);
			break;
		}
	pthread_mutex_unlock(&pumps_lock);
}

static int pump_start(struct agent *a, const char *name, int in_w, int out_r, pid_t holder)
{
	struct pump *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name);
	container_bundle_file(a, name, "log", p->path, sizeof(p->path));
	container_bundle_file(a, name, "stdio.pid", p->holder_file, sizeof(p->holder_file));
	p->in_w = in_w;
	p->out_r = out_r;
	p->holder = holder;
	container_pump_stop(name);
	pthread_mutex_lock(&pumps_lock);
	p->next = pumps;
	pumps = p;
	pthread_mutex_unlock(&pumps_lock);
	if ((ret = thread_detached(pump_main, p))) {
		pthread_mutex_lock(&pumps_lock);
		pump_unlink(p);
		pthread_mutex_unlock(&pumps_lock);
		free(p);
		return -ret;
	}
	return 0;
}

/* ---- runc ----------------------------------------------------------------------------- */

static void become_subreaper(void)
{
	static bool done;

	if (!done && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
		done = true;
}

/* argv = runc --root R [extra...] args...; returns the count or -E2BIG. */
static int runc_argv(struct agent *a, char *root, size_t rootlen, const char *const *extra,
		     char *const args[], char **argv, size_t max)
{
	size_t n = 0;

	container_runc_root(a, root, rootlen);
	argv[n++] = (char *)RUNC_PATH;
	argv[n++] = (char *)"--root";
	argv[n++] = root;
	for (int i = 0; extra && extra[i]; i++)
		argv[n++] = (char *)extra[i];
	for (int i = 0; args[i]; i++) {
		if (n >= max - 1)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return (int)n;
}

int container_runc_argv(struct agent *a, char *const runc_args[], char *root, size_t rootlen,
			char **argv, size_t max)
{
	return runc_argv(a, root, rootlen, NULL, runc_args, argv, max);
}

void criu_args(const char *verb, const char *name, const struct criu_opts *o, char **out)
{
	const struct { bool on; const char *flag, *value; } opts[] = {
		{ true, "--tcp-established", NULL },
		{ o->leave_running, "--leave-running", NULL },
		{ o->lazy_pages, "--lazy-pages", NULL },
		{ o->page_server, "--page-server", o->page_server },
		{ o->status_fd, "--status-fd", "3" },
		/* The namespace's links, addresses, routes and rules need no image: petrel
		 * builds the namespace on the destination itself. */
		{ o->empty_netns, "--empty-ns", "network" },
		{ o->detach, "--detach", NULL },
		{ o->images, "--image-path", o->images },
		{ o->work, "--work-path", o->work },
		{ o->pid_file, "--pid-file", o->pid_file },
		{ o->bundle, "--bundle", o->bundle },
	};
	int n = 0;

	out[n++] = (char *)"--criu";          /* a global runc option */
	out[n++] = (char *)o->criu;
	out[n++] = (char *)verb;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (!opts[i].on)
			continue;
		out[n++] = (char *)opts[i].flag;
		if (opts[i].value)
			out[n++] = (char *)opts[i].value;
	}
	out[n++] = (char *)name;
	out[n] = NULL;
}

static int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

/* The error messages of a runc JSON log (--log-format json), joined. */
static void runc_log_errors(const char *path, char *out, size_t len)
{
	char *text = NULL, *line, *save = NULL;
	size_t off = 0;

	*out = 0;
	if (read_file(path, &text))
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *lvl = json_string_value(json_object_get(j, "level"));
		const char *msg = json_string_value(json_object_get(j, "msg"));

		if (lvl && msg && (!strcmp(lvl, "error") || !strcmp(lvl, "fatal")) && off < len)
			off += (size_t)snprintf(out + off, len - off, "%s%s", off ? "; " : "", msg);
		json_decref(j);
	}
	free(text);
}

/* s without its trailing newlines and spaces (runc's output ends with one). */
static char *chop(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
	return s;
}

static int runc_failed(struct api_error *e, char *const args[], int status, const char *msg)
{
	const char *hint = strstr(msg, "criu") ? "see the CRIU log in the image directory" : NULL;
	const char *verb = args[0][0] == '-' ? "call" : args[0];

	if (WIFSIGNALED(status))
		return api_fail(e, 500, hint, "runc %s: killed by signal %d%s%s", verb,
				WTERMSIG(status), *msg ? ": " : "", msg);
	if (!strncmp(msg, "runc ", 5))
		return api_fail(e, 500, hint, "%s", msg);
	return api_fail(e, 500, hint, "runc %s failed (exit %d)%s%s", verb, WEXITSTATUS(status),
			*msg ? ": " : "", *msg ? msg : "no message");
}

pid_t container_runc_spawn_attached(struct agent *a, const char *name, char *const runc_args[],
				     bool niced, int *in_w, int *out_r, struct api_error *e)
{
	char root[CONFIG_STR + 8], logf[CONFIG_STR + 256], dir[CONFIG_STR + 128];
	const char *extra[] = { "--log", logf, "--log-format", "json", NULL };
	char *niced_argv[RUNC_MAX_ARGS + 3] = { NICE_PATH, "-n", "19" }, **argv = niced_argv + 3;
	int in[2], out[2], ret;
	pid_t pid;

	if ((ret = container_bundle_dir(a, name, dir, sizeof(dir))) || (ret = mkdir_p(dir, 0755)))
		return api_fail(e, 500, NULL, "cannot create the bundle of '%s': %s", name, strerror(-ret));
	container_bundle_file(a, name, "runc.log", logf, sizeof(logf));
	unlink(logf);
	container_bundle_file(a, name, CT_PID_FILE, dir, sizeof(dir));
	unlink(dir);            /* a stale pid must not pass for the new process's */
	if (runc_argv(a, root, sizeof(root), extra, runc_args, argv, RUNC_MAX_ARGS) < 0)
		return api_fail(e, 500, NULL, "too many runc arguments");
	if (pipe2(in, O_CLOEXEC))
		return api_fail(e, 500, NULL, "pipe: %s", strerror(errno));
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return api_fail(e, 500, NULL, "pipe: %s", strerror(errno));
	}
	become_subreaper();
	pid = proc_spawn_ex(niced ? NICE_PATH : RUNC_PATH, niced ? niced_argv : argv,
			    (int[3]){ in[0], out[1], out[1] }, -1, false);
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return api_fail(e, 500, "is runc installed? (apt-get install runc)", "cannot run %s: %s",
				RUNC_PATH, strerror((int)-pid));
	}
	*in_w = in[1];
	*out_r = out[0];
	return pid;
}

void container_stdio_adopt(struct agent *a, const char *name, int in_w, int out_r)
{
	char holderf[CONFIG_STR + 256];
	pid_t holder;
	int ret;

	/* The pump owns the container's ends from now on, whatever runc does. */
	container_bundle_file(a, name, "stdio.pid", holderf, sizeof(holderf));
	holder = holder_spawn(out_r, in_w, holderf);
	if (holder < 0)
		log_warn("container %s: no stdio holder: %s", name, strerror((int)-holder));
	if ((ret = pump_start(a, name, in_w, out_r, holder))) {
		log_warn("container %s: no log pump: %s", name, strerror(-ret));
		close(in_w);
		close(out_r);
		holder_end(holder, holderf);
	}
}

int container_runc_attached_wait(struct agent *a, const char *name, pid_t pid,
				 char *const runc_args[], struct api_error *e)
{
	char logf[CONFIG_STR + 256], msg[400];
	int status = wait_exit(pid);

	if (status == 0)
		return 0;
	container_bundle_file(a, name, "runc.log", logf, sizeof(logf));
	runc_log_errors(logf, msg, sizeof(msg));
	log_warn("container %s: runc %s failed: %s", name, runc_args[0], msg);
	return runc_failed(e, runc_args, status, msg);
}

int container_runc_attached(struct agent *a, const char *name, char *const runc_args[],
			    struct api_error *e)
{
	int in_w, out_r;
	pid_t pid = container_runc_spawn_attached(a, name, runc_args, false, &in_w, &out_r, e);

	if (pid < 0)
		return -1;
	container_stdio_adopt(a, name, in_w, out_r);
	return container_runc_attached_wait(a, name, pid, runc_args, e);
}

/* Read two pipes to EOF into two buffers. */
static void drain2(int fd1, struct growbuf *b1, int fd2, struct growbuf *b2)
{
	struct pollfd p[2] = { { .fd = fd1, .events = POLLIN }, { .fd = fd2, .events = POLLIN } };
	struct growbuf *bufs[2] = { b1, b2 };
	char buf[4096];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t r;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r > 0)
				growbuf_append(bufs[i], buf, (size_t)r);
			else if (r == 0 || errno != EINTR)
				p[i].fd = -1;
		}
	}
}

int container_runc(struct agent *a, char *const runc_args[], char **out, struct api_error *e)
{
	char root[CONFIG_STR + 8], *argv[RUNC_MAX_ARGS];
	struct growbuf ob = { 0 }, eb = { 0 };
	int o[2], er[2], status;
	pid_t pid;

	if (out)
		*out = NULL;
	if (runc_argv(a, root, sizeof(root), NULL, runc_args, argv, RUNC_MAX_ARGS) < 0)
		return api_fail(e, 500, NULL, "too many runc arguments");
	if (pipe2(o, O_CLOEXEC))
		return api_fail(e, 500, NULL, "pipe: %s", strerror(errno));
	if (pipe2(er, O_CLOEXEC)) {
		close(o[0]);
		close(o[1]);
		return api_fail(e, 500, NULL, "pipe: %s", strerror(errno));
	}
	become_subreaper();
	pid = proc_spawn_ex(RUNC_PATH, argv, (int[3]){ -1, o[1], er[1] }, -1, false);
	close(o[1]);
	close(er[1]);
	if (pid >= 0)
		drain2(o[0], &ob, er[0], &eb);
	close(o[0]);
	close(er[0]);
	if (pid < 0) {
		free(ob.data);
		free(eb.data);
		return api_fail(e, 500, NULL, "cannot run %s: %s", RUNC_PATH, strerror((int)-pid));
	}
	status = wait_exit(pid);
	if (status == 0) {
		if (out)
			*out = ob.data ? ob.data : strdup("");
		else
			free(ob.data);
		free(eb.data);
		return 0;
	}
	free(ob.data);
	runc_failed(e, runc_args, status, eb.data ? chop(eb.data) : "");
	free(eb.data);
	return -1;
}

pid_t container_runc_start(struct agent *a, char *const runc_args[], char *const extra_env[],
			   int keep_fd, const char *out_path)
{
	char root[CONFIG_STR + 8], *argv[RUNC_MAX_ARGS];
	int fd;
	pid_t pid;

	if (runc_argv(a, root, sizeof(root), NULL, runc_args, argv, RUNC_MAX_ARGS) < 0)
		return -E2BIG;
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	become_subreaper();
	pid = proc_spawn_env(RUNC_PATH, argv, (int[3]){ -1, fd, fd }, keep_fd, false, extra_env);
	close(fd);
	return pid;
}

int container_runc_finish(pid_t pid, char *const runc_args[], const char *out_path,
			  int timeout_ms, struct api_error *e)
{
	char *text = NULL;
	int ret = proc_wait(pid, timeout_ms);

	if (ret == 0)
		return 0;
	if (ret < 0)
		return api_fail(e, 500, NULL, "runc %s: %s", runc_args[0][0] == '-' ? "call" : runc_args[0],
				strerror(-ret));
	read_file(out_path, &text);
	runc_failed(e, runc_args, ret >= 128 ? W_EXITCODE(0, ret - 128) : W_EXITCODE(ret, 0),
		    text ? chop(text) : "");
	free(text);
	return -1;
}

json_t *container_runc_descriptors(struct agent *a, const char *name)
{
	char path[CONFIG_STR + 256];
	json_t *state, *fds;

	container_runc_root(a, path, sizeof(path));
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s/state.json", name);
	state = json_load_file(path, 0, NULL);
	fds = json_incref(json_object_get(state, "external_descriptors"));
	json_decref(state);
	if (json_is_array(fds))
		return fds;
	json_decref(fds);
	return NULL;
}

/* `runc state NAME`: pid and status ("created", "running", "paused", "stopped"). */
int container_runc_state(struct agent *a, const char *name, int *pid, char *status, size_t len)
{
	char *args[] = { (char *)"state", (char *)name, NULL }, *out = NULL;
	struct api_error e;
	json_t *j;

	if (container_runc(a, args, &out, &e))
		return -ENOENT;
	j = json_loads(out, 0, NULL);
	free(out);
	if (!j)
		return -EPROTO;
	*pid = (int)json_integer_value(json_object_get(j, "pid"));
	snprintf(status, len, "%s", json_string_value(json_object_get(j, "status")) ?: "");
	json_decref(j);
	return 0;
}

void container_pump_adopt(struct agent *a, const char *name)
{
	char pidfile[CONFIG_STR + 256];
	int out_r, in_w, ret;
	pid_t holder;
	bool pumped = false;

	pthread_mutex_lock(&pumps_lock);
	for (struct pump *p = pumps; p && !pumped; p = p->next)
		pumped = !strcmp(p->name, name);
	pthread_mutex_unlock(&pumps_lock);
	if (pumped)
		return;
	container_bundle_file(a, name, "stdio.pid", pidfile, sizeof(pidfile));
	if ((ret = holder_adopt(pidfile, &holder, &out_r, &in_w))) {
		log_warn("container %s: its output is no longer captured (stdio holder: %s)", name,
			 strerror(-ret));
		return;
	}
	if (pump_start(a, name, in_w, out_r, holder)) {
		close(out_r);
		close(in_w);
		return;
	}
	log_info("container %s: log capture resumed", name);
}
