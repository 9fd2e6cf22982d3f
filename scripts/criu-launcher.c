/* The `criu` that petrel installs: it starts the real CRIU (with its own dynamic loader
 * and libraries when CRIU comes from a newer Debian suite than the system's) and answers
 * one question itself.
 *
 * runc asks CRIU for its version before every checkpoint and every restore, by starting
 * `criu swrk FD` for that one request: 4-5 ms of process start and library loading, twice
 * inside a migration's freeze. The answer never changes for an installed CRIU, so the
 * install records the real CRIU's reply (VERSION_REPLY) and this launcher replays it. Any
 * other request, and everything when no reply is recorded, goes to the real CRIU
 * untouched: the request is only peeked at, never taken off the socket.
 *
 * runc sends the version request the moment CRIU starts; a dump or restore request may
 * come 10 ms later (runc first moves CRIU into the container's cgroups), time the real
 * CRIU spends loading. So the launcher waits for a request only briefly, then starts CRIU:
 * a late version request is merely answered by CRIU itself.
 *
 * Built by scripts/install-criu.sh with CRIU_BIN, and CRIU_LD/CRIU_LIBS when CRIU runs
 * through its own loader. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#ifndef CRIU_BIN
#error "build with -DCRIU_BIN=\"/path/to/criu\""
#endif

#define REQUEST_WAIT_MS 2

/* A CriuReq (criu/images/rpc.proto) with only type = VERSION (10): what runc sends. */
static const unsigned char version_request[] = { 0x08, 0x0a };

static int answer_version(int sk)
{
	unsigned char req[sizeof(version_request) + 1], reply[4096];
	struct pollfd p = { .fd = sk, .events = POLLIN };
	ssize_t n;
	int fd;

	if (poll(&p, 1, REQUEST_WAIT_MS) != 1)
		return 0;
	n = recv(sk, req, sizeof(req), MSG_PEEK | MSG_DONTWAIT);
	if (n != sizeof(version_request) || memcmp(req, version_request, sizeof(version_request)))
		return 0;
	fd = open(VERSION_REPLY, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, reply, sizeof(reply));
	close(fd);
	if (n <= 0 || n == sizeof(reply))
		return 0;
	/* From here on the request is taken: answer it or fail, never pass it on. */
	if (recv(sk, req, sizeof(req), 0) != sizeof(version_request) ||
	    send(sk, reply, (size_t)n, MSG_NOSIGNAL) != n)
		exit(1);
	return 1;
}

int main(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 4, sizeof(*args));
	int n = 0;

	if (argc == 3 && !strcmp(argv[1], "swrk") && answer_version(atoi(argv[2])))
		return 0;
	if (!args)
		return 1;
#ifdef CRIU_LD
	args[n++] = CRIU_LD;
	args[n++] = "--library-path";
	args[n++] = CRIU_LIBS;
#endif
	args[n++] = CRIU_BIN;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	execv(args[0], args);
	fprintf(stderr, "criu: cannot run %s: %m\n", args[0]);
	return 127;
}
