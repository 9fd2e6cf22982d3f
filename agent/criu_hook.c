/* petrel-criu-hook: CRIU's action script for a migration's dump.
 *
 * The client's stall starts when petreld holds the container's packets and freezes it. If
 * that happened before `runc checkpoint` started, the stall also paid for runc's start,
 * its CRIU version probe and CRIU's own start: about 10 ms. CRIU runs its pre-dump action
 * scripts before it touches the container, so petreld starts runc with the container still
 * running, and this hook asks petreld (on the socket named by PETREL_FREEZE_SOCKET) to
 * hold and freeze it right then. CRIU goes on only once petreld answers "ok"; anything
 * else, or petreld going away, fails the dump before anything is frozen by CRIU.
 *
 * Its post-dump action tells petreld ("dumped") that every image is written: the images
 * can go to the destination while CRIU and runc wind down (another 5-7 ms).
 *
 * Every other action, and a CRIU run without the variable, passes at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#define ANSWER_WAIT_S 60       /* petreld waits for UDP queues to drain, at most seconds */

int main(void)
{
	const char *action = getenv("CRTOOLS_SCRIPT_ACTION"), *path = getenv("PETREL_FREEZE_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ANSWER_WAIT_S };
	char answer[8] = { 0 };
	const char *req;
	int sk;

	if (!action || !path || !*path)
		return 0;
	if (!strcmp(action, "pre-dump"))
		req = "freeze\n";
	else if (!strcmp(action, "post-dump"))
		req = "dumped\n";
	else
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "petrel-criu-hook: socket path too long\n");
		return 1;
	}
	strcpy(sun.sun_path, path);
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || connect(sk, (struct sockaddr *)&sun, sizeof(sun)) ||
	    setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    write(sk, req, strlen(req)) != (ssize_t)strlen(req) ||
	    read(sk, answer, sizeof(answer) - 1) <= 0) {
		perror("petrel-criu-hook");
		return 1;
	}
	if (strncmp(answer, "ok", 2)) {
		fprintf(stderr, "petrel-criu-hook: petreld answered %s to %s", answer, req);
		return 1;
	}
	return 0;
}
