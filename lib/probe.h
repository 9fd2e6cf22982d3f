/* Connectivity probes from inside a network namespace, and the echo responder they talk
 * to: what `petrel check` sends through the datapath. Each runs on a thread of its own
 * that enters the namespace, so the caller's thread never changes namespace. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "cidr.h"

/* TCP and UDP echo on [::]:port (both families) inside netns, until probe_responder_stop. */
struct probe_responder {
	char netns[256];
	int port;
	atomic_bool stop, ready;
	pthread_t thread;
	bool running;
	int error;                          /* set when it could not start */
};
int probe_responder_start(struct probe_responder *r, const char *netns, int port);
void probe_responder_stop(struct probe_responder *r);

enum probe_mode {
	PROBE_ECHO,                         /* send a payload, expect it back */
	PROBE_CONNECT,                      /* TCP handshake only */
};

struct probe {
	char netns[256];
	struct ip_addr dst;
	int port;
	bool udp;
	enum probe_mode mode;
	int size;                           /* payload bytes; -1: the path MTU of eth0, DF set */
	int timeout_ms;
	/* results */
	bool ok;
	long rtt_us;
	int sent;                           /* payload bytes sent */
	char error[160];
};
/* Run p to completion (bounded by p->timeout_ms); p->ok and p->error say how it went. */
void probe_run(struct probe *p);
