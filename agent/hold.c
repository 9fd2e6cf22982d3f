/* Holding packets while a container is frozen: on the source node of a migration, the
 * datapath hands every packet for the container to the node's stack, where it is queued
 * (NFQUEUE) until the container runs again, then released in arrival order and routed
 * to wherever it runs by then: the destination, or here again after a rollback. TCP
 * then needs no retransmission timeout and UDP loses nothing, and nothing depends on the
 * destination surviving. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include "agent.h"
#include "log.h"
#include "proc.h"

#ifndef NF_ACCEPT
#define NF_ACCEPT 1          /* linux/netfilter.h clashes with netinet/in.h */
#endif
#define HOLD_QUEUE_BASE 4000   /* one queue per hold: several migrations may overlap */
#define HOLD_MAX   200000   /* packets queued at most; beyond, the kernel drops (TCP resends) */

enum hold_mode { HOLDING, RELEASING, PASSING, STOPPING };

struct hold {
	char what[EP_NAME_MAX];         /* the held endpoint, for messages */
	/* iptables matches, each for iptables (v4) or ip6tables */
	struct { bool v6; char text[160]; } match[2 + 2 * EP_MAX_PUBLISH];
	int n_match;
	int queue;
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum hold_mode mode;
	int wake;                       /* eventfd: a mode change for the thread to see now */
	bool acked;
	uint32_t last_id;      /* highest held packet id */
	uint64_t held, passed;
};

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *arg)
{
	struct hold *h = arg;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	uint32_t id = ph ? ntohl(ph->packet_id) : 0;

	(void)msg;
	if (h->mode == HOLDING) {
		h->last_id = id;
		h->held++;
		return 0;
	}
	h->passed++;
	return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

/* Make the queue thread look at its mode now. */
static void wake(struct hold *h)
{
	uint64_t one = 1;

	if (write(h->wake, &one, sizeof(one)) < 0)
		log_debug("hold %s: cannot wake the queue thread: %s", h->what, strerror(errno));
}

static void *hold_main(void *arg)
{
	struct hold *h = arg;
	int fd = nfq_fd(h->h);
	char buf[4096] __attribute__((aligned));

	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = h->wake, .events = POLLIN } };
		enum hold_mode mode;
		uint64_t ticks;

		pthread_mutex_lock(&h->mu);
		mode = h->mode;
		if (mode == RELEASING) {
			/* Ids are increasing: one batch verdict releases everything held, in order. */
			if (h->held)
				nfq_set_verdict_batch(h->qh, h->last_id, NF_ACCEPT);
			h->mode = PASSING;
			h->acked = true;
			pthread_cond_broadcast(&h->cv);
		}
		pthread_mutex_unlock(&h->mu);
		if (mode == STOPPING) {
			/* The rules are gone; whatever still sits in the queue passes too, since
			 * closing the queue would drop it. */
			ssize_t n;

			while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				nfq_handle_packet(h->h, buf, (int)n);
			break;
		}
		if (poll(p, 2, 20) > 0) {
			ssize_t n;

			/* A wake-up only asks for the mode to be looked at again: drain it. */
			if ((p[1].revents & POLLIN) && read(h->wake, &ticks, sizeof(ticks)) < 0)
				log_debug("hold %s: cannot read the wake-up: %s", h->what, strerror(errno));
			if (!p[0].revents)
				continue;
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n > 0)
				nfq_handle_packet(h->h, buf, (int)n);
			else if (n < 0 && errno == ENOBUFS)
				log_warn("hold %s: queue overflow, some packets dropped", h->what);
		}
	}
	return NULL;
}

/* The queue rules, in the raw table so they come before routing and conntrack. This
 * kernel has no nftables queue expression; the iptables NFQUEUE target (through
 * nft_compat) works. */
/* All rules of one family in one iptables-restore run: the hold starts the freeze, so
 * it must be quick. */
static int restore(struct hold *h, bool v6, char op)
{
	char path[] = "/tmp/petrel-hold-XXXXXX", cmd[128], *out = NULL;
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	int fd, ret, n = 0;
	FILE *f;

	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	fprintf(f, "*raw\n");
	for (int i = 0; i < h->n_match; i++)
		if (h->match[i].v6 == v6 && ++n)
			fprintf(f, "-%c PREROUTING %s -m comment --comment petrel-hold -j NFQUEUE "
				"--queue-num %d\n", op, h->match[i].text, h->queue);
	fprintf(f, "COMMIT\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -w --noflush %s 2>&1", v6 ? "ip6tables-restore" :
		 "iptables-restore", path);
	ret = n ? proc_output(argv, &out, 10000) : 0;
	if (ret)
		log_debug("hold: %s: %s", cmd, out ? out : "");
	free(out);
	unlink(path);
	return ret ? -EIO : 0;
}

static int del_rules(struct hold *h)
{
	restore(h, false, 'D');
	restore(h, true, 'D');
	return 0;
}

static int add_rules(struct hold *h)
{
	int ret = restore(h, false, 'I');

	return ret ? ret : restore(h, true, 'I');
}

static void add_match(struct hold *h, bool v6, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_match(struct hold *h, bool v6, const char *fmt, ...)
{
	va_list ap;

	if (h->n_match >= (int)(sizeof(h->match) / sizeof(h->match[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(h->match[h->n_match].text, sizeof(h->match[0].text), fmt, ap);
	va_end(ap);
	h->match[h->n_match++].v6 = v6;
}

static int open_queue(struct hold *h)
{
	h->h = nfq_open();
	if (!h->h)
		return -errno ? -errno : -EIO;
	h->qh = nfq_create_queue(h->h, (uint16_t)h->queue, on_packet, h);
	if (!h->qh)
		return -EBUSY;
	if (nfq_set_mode(h->qh, NFQNL_COPY_META, 0) < 0)
		return -EIO;
	nfq_set_queue_maxlen(h->qh, HOLD_MAX);
	nfnl_rcvbufsiz(nfq_nfnlh(h->h), 8 << 20);
	return add_rules(h);
}

static void close_queue(struct hold *h)
{
	if (h->qh)
		nfq_destroy_queue(h->qh);
	if (h->h)
		nfq_close(h->h);
	h->qh = NULL;
	h->h = NULL;
}

/* Rules left by an agent that died while holding: with nobody reading their queue, they
 * would drop every packet they match. */
void hold_cleanup_stale(void)
{
	static const char *tools[][2] = { { "iptables-save", "iptables-restore" },
					  { "ip6tables-save", "ip6tables-restore" } };
	char cmd[512], *out = NULL;
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "rules=$(%s -t raw | sed -n 's/^-A \\(.*petrel-hold.*\\)/-D \\1/p'); "
			 "[ -z \"$rules\" ] || printf '*raw\\n%%s\\nCOMMIT\\n' \"$rules\" | %s -w --noflush",
			 tools[i][0], tools[i][1]);
		if (proc_output(argv, &out, 10000))
			log_warn("hold: cannot remove stale rules: %s", out ? out : "");
		free(out);
		out = NULL;
	}
}

int hold_start(const struct endpoint *ep, const struct ip_addr *node4,
	       const struct ip_addr *node6, struct hold **out)
{
	static int next;
	struct hold *h = calloc(1, sizeof(*h));
	char b[IP_STRLEN];
	int ret;

	if (!h)
		return -ENOMEM;
	h->queue = HOLD_QUEUE_BASE + __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % 1000;
	char b2[IP_STRLEN];

	if (ep->ip4.family)
		add_match(h, false, "-d %s/32", ip_str(&ep->ip4, b));
	if (ep->ip6.family)
		add_match(h, true, "-d %s/128", ip_str(&ep->ip6, b));
	/* Flows through this node's published ports still have the node's address here:
	 * DNAT comes after the raw table. */
	for (int i = 0; i < ep->n_publish; i++) {
		const char *proto = ep_proto_str(ep->publish[i].proto);

		if (node4 && node4->family)
			add_match(h, false, "-d %s/32 -p %s --dport %u", ip_str(node4, b2), proto,
				  ep->publish[i].host_port);
		if (node6 && node6->family)
			add_match(h, true, "-d %s/128 -p %s --dport %u", ip_str(node6, b2), proto,
				  ep->publish[i].host_port);
	}
	snprintf(h->what, sizeof(h->what), "%s", ep->name);
	h->mode = PASSING;
	h->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	ret = h->wake < 0 ? -errno : open_queue(h);
	if (!ret && pthread_create(&h->thread, NULL, hold_main, h))
		ret = -errno;
	if (ret) {
		del_rules(h);
		close_queue(h);
		if (h->wake >= 0)
			close(h->wake);
		free(h);
		return ret;
	}
	*out = h;
	return 0;
}

static void finish(struct hold *h, uint64_t *held)
{
	pthread_mutex_lock(&h->mu);
	h->mode = STOPPING;
	pthread_mutex_unlock(&h->mu);
	wake(h);
	pthread_join(h->thread, NULL);
	close_queue(h);     /* the kernel accepts nothing left: drops any stragglers' queue */
	close(h->wake);
	if (held)
		*held = h->held;
	log_info("hold %s: %llu packets held, %llu passed", h->what,
		 (unsigned long long)h->held, (unsigned long long)h->passed);
	free(h);
}

void hold_begin(struct hold *h)
{
	pthread_mutex_lock(&h->mu);
	h->mode = HOLDING;
	pthread_mutex_unlock(&h->mu);
}

/* After the release: new packets pass straight through the queue until the rules are
 * gone (two iptables-restore runs, tens of ms nobody needs to wait for). */
static void *retire_main(void *arg)
{
	struct hold *h = arg;

	del_rules(h);
	usleep(20 * 1000);
	finish(h, NULL);
	return NULL;
}

int hold_release(struct hold *h, uint64_t *held)
{
	pthread_t t;
	pthread_attr_t attr;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->mu);
	h->mode = RELEASING;
	wake(h);             /* now, not at the thread's next poll timeout (20 ms) */
	while (!h->acked)
		pthread_cond_wait(&h->cv, &h->mu);
	if (held)
		*held = h->held;      /* final: nothing is held once releasing */
	pthread_mutex_unlock(&h->mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, retire_main, h))
		retire_main(h);
	pthread_attr_destroy(&attr);
	return 0;
}

void hold_abort(struct hold *h)
{
	if (!h)
		return;
	del_rules(h);
	finish(h, NULL);    /* closing the queue drops what it held */
}
