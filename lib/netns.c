/* Named network namespaces, compatible with iproute2's `ip netns` (bind mounts under
 * /run/netns), without ever moving the caller's own thread. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "netns.h"

static int ns_path(const char *name, char *buf, size_t len)
{
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, NETNS_RUN_DIR "/%s", name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* /run/netns must be a shared mount point so bind mounts propagate, as iproute2 does. */
static int prepare_run_dir(void)
{
	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST)
		return -errno;
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL))
		return -errno;
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL))
		return -errno;
	return 0;
}

int netns_create(const char *name)
{
	char path[256];
	int fd, ret, status;
	pid_t pid;

	if ((ret = ns_path(name, path, sizeof(path))) || (ret = prepare_run_dir()))
		return ret;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	/* A child unshares and is bind-mounted onto the file: the caller never moves. */
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		unlink(path);
		return ret;
	}
	if (pid == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(1);
		if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL))
			_exit(2);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		unlink(path);
		return -EPERM;
	}
	return 0;
}

int netns_exists(const char *name)
{
	char path[256];
	struct stat st;

	return ns_path(name, path, sizeof(path)) == 0 && stat(path, &st) == 0;
}

int netns_open(const char *name)
{
	char path[256];
	int fd, ret;

	if ((ret = ns_path(name, path, sizeof(path))))
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int netns_enter_fd(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

int netns_enter(const char *name)
{
	int fd = netns_open(name), ret;

	if (fd < 0)
		return fd;
	ret = netns_enter_fd(fd);
	close(fd);
	return ret;
}

int netns_open_self(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int netns_pids(const char *name, pid_t **pids, size_t *n)
{
	char path[256], link[64];
	struct stat target, st;
	struct dirent *de;
	size_t cap = 16;
	DIR *proc;
	int ret;

	*n = 0;
	*pids = NULL;
	if ((ret = ns_path(name, path, sizeof(path))))
		return ret;
	if (stat(path, &target))
		return -errno;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	*pids = malloc(cap * sizeof(pid_t));
	while (*pids && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/ns/net", pid);
		if (stat(link, &st) || st.st_dev != target.st_dev || st.st_ino != target.st_ino)
			continue;
		if (*n == cap) {
			pid_t *np = realloc(*pids, (cap *= 2) * sizeof(pid_t));
			if (!np)
				break;
			*pids = np;
		}
		(*pids)[(*n)++] = pid;
	}
	closedir(proc);
	return *pids ? 0 : -ENOMEM;
}

int netns_delete(const char *name)
{
	char path[256];
	pid_t *pids;
	size_t n;
	int ret;

	if ((ret = ns_path(name, path, sizeof(path))))
		return ret;
	if (access(path, F_OK))
		return 0;
	/* Processes left inside keep the namespace alive: stop them first (bounded wait). */
	for (int round = 0; round < 40; round++) {
		if (netns_pids(name, &pids, &n))
			break;
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		free(pids);
		if (n == 0)
			break;
		usleep(50 * 1000);
	}
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int netns_list(const char *prefix, char ***names, size_t *n)
{
	DIR *d = opendir(NETNS_RUN_DIR);
	struct dirent *de;
	size_t cap = 16;

	*n = 0;
	*names = NULL;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	*names = malloc(cap * sizeof(char *));
	while (*names && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		if (*n == cap) {
			char **nn = realloc(*names, (cap *= 2) * sizeof(char *));
			if (!nn)
				break;
			*names = nn;
		}
		(*names)[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	return *names ? 0 : -ENOMEM;
}

pid_t netns_spawn(const char *name, char *const argv[], int out_fd)
{
	int fd = netns_open(name);
	pid_t pid;

	if (fd < 0)
		return fd;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0) {
		if (setns(fd, CLONE_NEWNET))
			_exit(126);
		if (out_fd >= 0) {
			dup2(out_fd, STDOUT_FILENO);
			dup2(out_fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fd);
	return pid;
}
