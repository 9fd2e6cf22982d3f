/* A plain UDP echo server for migration tests and benchmarks: one dual-stack socket, one
 * process, recvfrom/sendto in a loop, the way most UDP services are written.
 * Usage: udp_echo PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in6 sin = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0;
	char buf[65536];

	if (argc != 2 || fd < 0) {
		fprintf(stderr, "usage: udp_echo PORT\n");
		return 2;
	}
	sin.sin6_port = htons((unsigned short)atoi(argv[1]));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("bind");
		return 1;
	}
	for (;;) {
		struct sockaddr_in6 peer;
		socklen_t len = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);

		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
	}
}
