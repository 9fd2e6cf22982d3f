/* Probes and their echo responder, each on its own thread inside a network namespace. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "netns.h"
#include "probe.h"

#define PROBE_MAX 65536

static long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

/* --- responder ---------------------------------------------------------------------- */

static int listen_on(int type, int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), off = 0, on = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || (type == SOCK_STREAM && listen(fd, 16))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One TCP client: echo what it sends until it closes (bounded: a probe is small). */
static void echo_tcp(int lfd)
{
	struct timeval tv = { .tv_sec = 2 };
	char buf[4096];
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	close(fd);
}

static void *responder_main(void *arg)
{
	struct probe_responder *r = arg;
	char *buf = malloc(PROBE_MAX);
	struct pollfd pf[2];
	int ret = buf ? netns_enter(r->netns) : -ENOMEM;

	pf[0].fd = pf[1].fd = -1;
	if (!ret && (pf[0].fd = listen_on(SOCK_STREAM, r->port)) < 0)
		ret = pf[0].fd;
	if (!ret && (pf[1].fd = listen_on(SOCK_DGRAM, r->port)) < 0)
		ret = pf[1].fd;
	r->error = ret;
	atomic_store(&r->ready, true);
	pf[0].events = pf[1].events = POLLIN;
	while (!ret && !atomic_load(&r->stop)) {
		if (poll(pf, 2, 200) <= 0)
			continue;
		if (pf[0].revents & POLLIN)
			echo_tcp(pf[0].fd);
		if (pf[1].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(pf[1].fd, buf, PROBE_MAX, 0, (struct sockaddr *)&from, &fl);

			if (n > 0)
				sendto(pf[1].fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	free(buf);
	return NULL;
}

int probe_responder_start(struct probe_responder *r, const char *netns, int port)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->netns, sizeof(r->netns), "%s", netns);
	r->port = port;
	if (pthread_create(&r->thread, NULL, responder_main, r))
		return -EAGAIN;
	r->running = true;
	for (int i = 0; i < 200 && !atomic_load(&r->ready); i++)
		usleep(5000);                /* bound before the first probe arrives */
	return r->error;
}

void probe_responder_stop(struct probe_responder *r)
{
	if (!r->running)
		return;
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	r->running = false;
}

/* --- probes ------------------------------------------------------------------------- */

static int fail(struct probe *p, const char *what, int err)
{
	snprintf(p->error, sizeof(p->error), "%s: %s", what, strerror(err));
	return -err;
}

static int wait_fd(int fd, short events, long deadline)
{
	struct pollfd pf = { .fd = fd, .events = events };
	long left = (deadline - now_us()) / 1000;
	int n = left > 0 ? poll(&pf, 1, (int)left) : 0;

	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

static socklen_t to_sockaddr(const struct probe *p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p->dst.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p->port);
		memcpy(&s4->sin_addr, p->dst.bytes, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)p->port);
	memcpy(&s6->sin6_addr, p->dst.bytes, 16);
	return sizeof(*s6);
}

/* The payload for a path-MTU probe: eth0's MTU less the IP and UDP (or TCP) headers. */
static int mtu_payload(struct probe *p, int fd)
{
	struct ifreq ifr = { 0 };
	int hdr = (p->dst.family == AF_INET ? 20 : 40) + (p->udp ? 8 : 20), pmtu = IP_PMTUDISC_DO;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (ioctl(fd, SIOCGIFMTU, &ifr))
		return fail(p, "reading eth0's MTU", errno);
	if (p->dst.family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	return ifr.ifr_mtu - hdr;
}

static int probe_once(struct probe *p)
{
	static __thread char out[PROBE_MAX], in[PROBE_MAX];
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(p, &ss);
	long start = now_us(), deadline = start + p->timeout_ms * 1000L;
	int fd = socket(p->dst.family, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int size = p->size, got = 0, ret = 0;

	if (fd < 0)
		return fail(p, "socket", errno);
	if (size < 0 && (size = mtu_payload(p, fd)) < 0) {
		close(fd);
		return size;
	}
	if (size > PROBE_MAX)
		size = PROBE_MAX;
	for (int i = 0; i < size; i++)
		out[i] = (char)('a' + (i + (int)(start & 15)) % 26);
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		ret = fail(p, "connect", errno);
	if (!ret && !p->udp) {
		int err = 0;
		socklen_t el = sizeof(err);

		ret = wait_fd(fd, POLLOUT, deadline);
		if (!ret && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) && err)
			ret = -err;
		if (ret)
			ret = fail(p, "connect", -ret);
	}
	if (!ret && p->mode == PROBE_CONNECT) {
		close(fd);
		p->rtt_us = now_us() - start;
		return 0;
	}
	if (!ret && send(fd, out, (size_t)size, 0) != size)
		ret = fail(p, "send", errno);
	p->sent = size;
	while (!ret && got < size) {
		ssize_t n;

		if ((ret = wait_fd(fd, POLLIN, deadline))) {
			ret = fail(p, got ? "partial echo" : "no echo", -ret);
			break;
		}
		n = recv(fd, in + got, (size_t)(size - got), 0);
		if (n <= 0) {
			ret = fail(p, "receive", n ? errno : ECONNRESET);
			break;
		}
		got += (int)n;
	}
	if (!ret && memcmp(in, out, (size_t)size))
		ret = fail(p, "echo", EBADMSG);
	close(fd);
	p->rtt_us = now_us() - start;
	return ret;
}

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	int ret = netns_enter(p->netns);

	if (ret) {
		fail(p, "entering the endpoint's namespace", -ret);
		return NULL;
	}
	/* UDP may lose one datagram to a neighbour lookup: one retry, same deadline split. */
	p->timeout_ms = p->udp ? p->timeout_ms / 2 : p->timeout_ms;
	p->ok = probe_once(p) == 0 || (p->udp && probe_once(p) == 0);
	if (p->ok)
		p->error[0] = 0;
	return NULL;
}

void probe_run(struct probe *p)
{
	pthread_t t;

	p->ok = false;
	p->error[0] = 0;
	if (pthread_create(&t, NULL, probe_main, p)) {
		snprintf(p->error, sizeof(p->error), "cannot start a probe thread");
		return;
	}
	pthread_join(t, NULL);
}
