/* Child processes (see proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "proc.h"
#include "util.h"

pid_t proc_spawn_ex(const char *path, char *const argv[], const int fds[3], int keep_fd,
		    bool setsid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	pid_t pid;
	int ret;

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
	ret = posix_spawn(&pid, path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return ret ? -ret : pid;
}

pid_t proc_spawn(char *const argv[], const int fds[3], int keep_fd)
{
	return proc_spawn_ex(argv[0], argv, fds, keep_fd, true);
}

int proc_wait(pid_t pid, int timeout_ms)
{
	struct timespec start, now;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t r = waitpid(pid, &status, timeout_ms < 0 ? 0 : WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
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
