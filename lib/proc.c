/* Child processes (see proc.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "proc.h"
#include "util.h"

pid_t proc_spawn(char *const argv[], const int fds[3], int keep_fd)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (keep_fd >= 0 && keep_fd != 3) {
			dup2(keep_fd, 3);
			keep_fd = 3;
		}
		for (int i = 0; i < 3; i++)
			dup2(fds[i] >= 0 ? fds[i] : null, i);
		for (int fd = keep_fd >= 0 ? 4 : 3; fd < 1024; fd++)
			close(fd);
		setsid();
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
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
