/* The checks a migration's loopback relays rely on: which process holds the other end of a
 * loopback TCP connection, and whether it descends from the process we started; and the
 * parent and child links the restore gate follows. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "proc.h"

int main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;
	pid_t child, peer = 0;

	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(lfd, 1) == 0 &&
	      getsockname(lfd, (struct sockaddr *)&sin, &sl) == 0);
	child = fork();
	if (child == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			pause();
		_exit(1);
	}
	fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0);
	CHECK(proc_tcp_peer(fd, &peer, NULL) == 0 && peer == child);
	CHECK(proc_descends_from(peer, getpid()));        /* our child: ours */
	CHECK(proc_descends_from(peer, peer));
	CHECK(!proc_descends_from(getpid(), peer));        /* the other way round: not */
	CHECK(!proc_descends_from(getppid(), getpid()));
	CHECK(proc_parent(child) == getpid());
	CHECK(proc_first_child(getpid()) == child);        /* our only child */
	CHECK(proc_first_child(child) == 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(proc_parent(child) == -ENOENT);
	close(fd);
	close(lfd);
	return harness_done("test_proc");
}
