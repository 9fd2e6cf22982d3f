/* Child processes (see proc.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "proc.h"
#include "util.h"

pid_t proc_spawn_ex(const char *path, char *const argv[], const int fds[3], int keep_fd,
		    bool setsid)
{
	return proc_spawn_env(path, argv, fds, keep_fd, setsid, NULL);
}

pid_t proc_spawn_env(const char *path, char *const argv[], const int fds[3], int keep_fd,
		     bool setsid, char *const extra_env[])
{
	size_t n_env = 0, n_extra = 0;
	char **env = environ;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	pid_t pid;
	int ret;

	if (extra_env && extra_env[0]) {
		while (environ[n_env])
			n_env++;
		while (extra_env[n_extra])
			n_extra++;
		if (!(env = calloc(n_env + n_extra + 1, sizeof(*env))))
			return -ENOMEM;
		memcpy(env, environ, n_env * sizeof(*env));
		memcpy(env + n_env, extra_env, n_extra * sizeof(*env));
	}
	sigemptyset(&none);
	sigfillset(&defaults);
	sigdelset(&defaults, SIGKILL);
	sigdelset(&defaults, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
		else
			posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i ? O_WRONLY : O_RDONLY, 0);
	}
	if (keep_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, keep_fd, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 (setsid ? POSIX_SPAWN_SETSID : 0));
	/* A bare name is looked up in PATH, as execvp would. */
	ret = strchr(path, '/') ? posix_spawn(&pid, path, &fa, &attr, argv, env)
				: posix_spawnp(&pid, path, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (env != environ)
		free(env);
	return ret ? -ret : pid;
}

pid_t proc_spawn(char *const argv[], const int fds[3], int keep_fd)
{
	return proc_spawn_ex(argv[0], argv, fds, keep_fd, true);
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int64_t ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* A pidfd turns readable the moment the child exits: a migration waits for several
 * children inside its freeze, and polling waitpid every few ms cost it up to that much
 * per child. Without pidfds (before Linux 5.3) it polls every millisecond. */
int proc_wait(pid_t pid, int timeout_ms)
{
	int fd = timeout_ms < 0 ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	bool exited = false;
	struct timespec start;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (fd >= 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left;
		int r;

		do {
			left = timeout_ms - ms_since(&start);
			r = left < 0 ? 0 : poll(&p, 1, (int)left);
		} while (r < 0 && errno == EINTR);
		close(fd);
		if (r == 0)
			goto timeout;
		exited = r > 0;
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, timeout_ms < 0 || exited ? 0 : WNOHANG);

		if (r == pid)
			return exit_code(status);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 && ms_since(&start) > timeout_ms)
			goto timeout;
		if (r == 0)
			usleep(1000);
	}
timeout:
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

int proc_output(char *const argv[], char **out, int timeout_ms)
{
	struct growbuf b = { 0 };
	int p[2], fds[3], status;
	char buf[4096];
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fds[0] = -1;
	fds[1] = fds[2] = p[1];
	pid = proc_spawn(argv, fds, -1);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return pid;
	}
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		growbuf_append(&b, buf, (size_t)n);
	close(p[0]);
	status = proc_wait(pid, timeout_ms);
	growbuf_append(&b, "", 1);
	*out = b.data ? b.data : strdup("");
	return status;
}

/* The socket inode of the IPv4 connection local -> remote, from /proc/net/tcp (this
 * network namespace's table; addresses as the kernel prints them: the raw 32-bit value
 * in hex, the port in host order). */
static unsigned long tcp4_inode(const struct sockaddr_in *local, const struct sockaddr_in *remote)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	char line[256];
	unsigned long inode = 0;

	if (!f)
		return 0;
	while (!inode && fgets(line, sizeof(line), f)) {
		unsigned int la, lp, ra, rp;
		unsigned long ino;

		if (sscanf(line, " %*d: %x:%x %x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu",
			   &la, &lp, &ra, &rp, &ino) == 5 &&
		    la == local->sin_addr.s_addr && lp == ntohs(local->sin_port) &&
		    ra == remote->sin_addr.s_addr && rp == ntohs(remote->sin_port))
			inode = ino;
	}
	fclose(f);
	return inode;
}

/* Which process holds socket inode, and as which descriptor (the agent itself excluded). */
static int socket_owner(unsigned long inode, pid_t *pid, int *fd)
{
	char want[64], path[64], link[64];
	DIR *procs = opendir("/proc");
	struct dirent *p;
	int ret = -ENOENT;

	if (!procs)
		return -errno;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (ret && (p = readdir(procs))) {
		struct dirent *d;
		DIR *fds;

		if (p->d_name[0] < '1' || p->d_name[0] > '9' || atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		if (!(fds = opendir(path)))
			continue;
		while (ret && (d = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%.16s", p->d_name, d->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0 && (link[n] = 0, !strcmp(link, want))) {
				*pid = atoi(p->d_name);
				*fd = atoi(d->d_name);
				ret = 0;
			}
		}
		closedir(fds);
	}
	closedir(procs);
	return ret;
}

int proc_tcp_peer(int fd, pid_t *pid, int *their_fd)
{
	struct sockaddr_in local, remote;
	socklen_t ll = sizeof(local), rl = sizeof(remote);
	unsigned long inode;

	if (getsockname(fd, (struct sockaddr *)&local, &ll) ||
	    getpeername(fd, (struct sockaddr *)&remote, &rl))
		return -errno;
	if (local.sin_family != AF_INET)
		return -EAFNOSUPPORT;
	/* Their end is the connection remote -> local. */
	if (!(inode = tcp4_inode(&remote, &local)))
		return -ENOENT;
	return socket_owner(inode, pid, their_fd ? their_fd : &(int){ 0 });
}

/* pid's state letter and parent, from /proc/PID/stat: 0, -ENOENT when pid is gone, or
 * -EINVAL on a line that does not parse. */
static int proc_stat(pid_t pid, char *state, int *ppid)
{
	char path[64], *text = NULL, *close_paren;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, &text))
		return -ENOENT;
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	close_paren = strrchr(text, ')');
	if (!close_paren || sscanf(close_paren + 1, " %c %d", state, ppid) != 2)
		ret = -EINVAL;
	free(text);
	return ret;
}

pid_t proc_parent(pid_t pid)
{
	char state;
	int ppid, ret = proc_stat(pid, &state, &ppid);

	return ret ? ret : ppid;
}

bool proc_descends_from(pid_t pid, pid_t ancestor)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		if (pid == ancestor)
			return true;
		if ((pid = proc_parent(pid)) < 0)
			return false;
	}
	return pid == ancestor;
}

pid_t proc_first_child(pid_t parent)
{
	struct dirent *de;
	pid_t found = 0;
	DIR *dh = opendir("/proc");

	if (!dh)
		return -errno;
	while (!found && (de = readdir(dh)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    proc_parent(atoi(de->d_name)) == parent)
			found = atoi(de->d_name);
	closedir(dh);
	return found;
}

/* Does the argument list (n bytes of NUL-ended strings) hold word as a whole argument?
 * Its next argument into val (vlen bytes) when val is not NULL. */
static bool args_have(const char *args, size_t n, const char *word, char *val, size_t vlen)
{
	for (size_t at = 0; at < n; at += strlen(args + at) + 1) {
		if (strcmp(args + at, word))
			continue;
		at += strlen(args + at) + 1;
		if (val)
			snprintf(val, vlen, "%s", at < n ? args + at : "");
		return true;
	}
	return false;
}

pid_t proc_find_args(const char *const words[], size_t n_words, const char *after, char *val,
		     size_t vlen)
{
	enum { ARGS_MAX = 8192 };   /* a runc command line is well under this */
	char *args = malloc(ARGS_MAX);
	struct dirent *de;
	pid_t found = 0;
	DIR *dh = args ? opendir("/proc") : NULL;

	if (!dh) {
		free(args);
		return args ? -errno : -ENOMEM;
	}
	while (!found && (de = readdir(dh))) {
		char path[64];
		ssize_t len;
		bool all = true;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, args, ARGS_MAX - 1);
		close(fd);
		if (len <= 0)
			continue;
		args[len] = 0;
		for (size_t i = 0; i < n_words && all; i++)
			all = args_have(args, (size_t)len, words[i], NULL, 0);
		if (all && (!after || args_have(args, (size_t)len, after, val, vlen)))
			found = atoi(de->d_name);
	}
	closedir(dh);
	free(args);
	return found;
}

int proc_cgroup_procs(const char *line, const char *v2_mount, char *buf, size_t len)
{
	const char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	const char *ctl = c1 ? c1 + 1 : "", *path = c2 ? c2 + 1 : "";
	size_t n = strcspn(ctl, ",:"), plen = strcspn(path, "\n");
	int w;

	/* "/.." paths name a cgroup outside our cgroup namespace: not ours to write */
	if (!c2 || path[0] != '/' || strstr(path, "/.."))
		return -EINVAL;
	if (plen == 1)          /* the root: no path of its own */
		plen = 0;
	if (n == 0 && !strncmp(line, "0::", 3))
		w = snprintf(buf, len, "%s%.*s/cgroup.procs", v2_mount, (int)plen, path);
	else if (n == 0)
		return -EINVAL;
	else {
		if (!strncmp(ctl, "name=", 5) && n > 5) {
			ctl += 5;
			n -= 5;
		}
		w = snprintf(buf, len, "/sys/fs/cgroup/%.*s%.*s/cgroup.procs", (int)n, ctl,
			     (int)plen, path);
	}
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

bool proc_running(pid_t pid)
{
	char state;
	int ppid;

	return proc_stat(pid, &state, &ppid) == 0 && state != 'Z' && state != 'X';
}

/* RssAnon + RssShmem of one process, in bytes (0 when it is gone). */
static uint64_t proc_memory(const char *pid)
{
	char path[64], line[128];
	unsigned long long kib, sum = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kib) == 1 ||
		    sscanf(line, "RssShmem: %llu kB", &kib) == 1)
			sum += kib;
	fclose(f);
	return (uint64_t)sum << 10;
}

uint64_t proc_tree_memory(pid_t root)
{
	struct dirent *de;
	uint64_t sum = 0;
	DIR *dh = opendir("/proc");

	if (!dh)
		return 0;
	while ((de = readdir(dh)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    proc_descends_from(atoi(de->d_name), root))
			sum += proc_memory(de->d_name);
	closedir(dh);
	return sum;
}

/* The value of "key N" at the start of a line of a memory.stat text, or -1. */
static long long stat_field(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		if ((p = strchr(p, '\n')))
			p++;
	}
	return -1;
}

uint64_t memory_stat_dumpable(const char *text)
{
	long long v1_anon = stat_field(text, "total_rss"), v1_shmem = stat_field(text, "total_shmem");
	long long v2_anon = stat_field(text, "anon"), v2_shmem = stat_field(text, "shmem");

	if (v1_anon >= 0 && v1_shmem >= 0)
		return (uint64_t)(v1_anon + v1_shmem);
	if (v2_anon >= 0 && v2_shmem >= 0)
		return (uint64_t)(v2_anon + v2_shmem);
	return 0;
}

int proc_uncork_tcp_peer(int fd)
{
	int pidfd, theirs, ret, zero = 0, one = 1, their_fd = -1;
	pid_t pid = 0;

	if ((ret = proc_tcp_peer(fd, &pid, &their_fd)))
		return ret;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	theirs = (int)syscall(SYS_pidfd_getfd, pidfd, their_fd, 0);
	ret = theirs < 0 ? -errno : 0;
	close(pidfd);
	if (ret)
		return ret;
	/* The same socket, so the same options: NODELAY first, then uncork pushes. */
	if (setsockopt(theirs, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(theirs, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero)))
		ret = -errno;
	close(theirs);
	return ret;
}
