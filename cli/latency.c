/* `petrel latency enable|disable|show|list` and `petrel ping`: per-container network-stack
 * latency accounting and a ping whose RTTs are corrected by it (docs/latency.md). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "config.h"
#include "latency.h"
#include "print.h"
#include "util.h"

static int lat_name_arg(struct cli *c, const char *cmd, int argc, char **argv, const char **name)
{
	if (argc < 1)
		return cli_usage(c, cmd, "missing endpoint NAME");
	if (!name_valid(argv[0]))
		return cli_usage(c, cmd, "'%s' is not a valid endpoint name (a-z, 0-9 and '-', at most 63)", argv[0]);
	if (argc > 1)
		return cli_usage(c, cmd, "unexpected argument '%s'", argv[1]);
	*name = argv[0];
	return 0;
}

static void print_dir(json_t *d, const char *dir)
{
	json_t *h = json_object_get(d, "histogram");
	json_t *b;
	size_t i;
	long long max = 0;

	printf("  %s: %lld packets", dir, (long long)json_integer_value(json_object_get(h, "count")));
	if (!strcmp(dir, "egress"))
		printf(" (started %lld, matched %lld, unmatched %lld: expired %lld, stale %lld)\n",
		       (long long)json_integer_value(json_object_get(d, "started")),
		       (long long)json_integer_value(json_object_get(d, "matched")),
		       (long long)json_integer_value(json_object_get(d, "unmatched")),
		       (long long)json_integer_value(json_object_get(d, "expired")),
		       (long long)json_integer_value(json_object_get(d, "stale")));
	else
		printf(" (delivered %lld, matched %lld, unmatched %lld)\n",
		       (long long)json_integer_value(json_object_get(d, "delivered")),
		       (long long)json_integer_value(json_object_get(d, "matched")),
		       (long long)json_integer_value(json_object_get(d, "unmatched")));
	if (!json_integer_value(json_object_get(h, "count")))
		return;
	printf("    mean %.1f us  min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	       json_real_value(json_object_get(h, "mean_ns")) / 1e3,
	       (double)json_integer_value(json_object_get(h, "min_ns")) / 1e3,
	       (double)json_integer_value(json_object_get(h, "p50_ns")) / 1e3,
	       (double)json_integer_value(json_object_get(h, "p90_ns")) / 1e3,
	       (double)json_integer_value(json_object_get(h, "p99_ns")) / 1e3,
	       (double)json_integer_value(json_object_get(h, "p999_ns")) / 1e3,
	       (double)json_integer_value(json_object_get(h, "max_ns")) / 1e3);
	json_array_foreach(json_object_get(h, "buckets"), i, b)
		if (json_integer_value(json_array_get(b, 1)) > max)
			max = json_integer_value(json_array_get(b, 1));
	json_array_foreach(json_object_get(h, "buckets"), i, b) {
		long long n = json_integer_value(json_array_get(b, 1));
		int bar = max ? (int)(n * 40 / max) : 0;

		printf("    >= %9.1f us %8lld %.*s\n", (double)json_integer_value(json_array_get(b, 0)) / 1e3, n,
		       bar ? bar : 1, "########################################");
	}
}

static void print_lat(json_t *r)
{
	printf("latency accounting for %s\n  records  %s\n", json_str(r, "name"), json_str(r, "socket"));
	print_dir(json_object_get(r, "egress"), "egress");
	print_dir(json_object_get(r, "ingress"), "ingress");
	if (json_integer_value(json_object_get(r, "records_lost")) || json_integer_value(json_object_get(r, "stream_drops")))
		printf("  records lost in the kernel %lld, missed by slow readers %lld\n",
		       (long long)json_integer_value(json_object_get(r, "records_lost")),
		       (long long)json_integer_value(json_object_get(r, "stream_drops")));
}

static int lat_call(struct cli *c, const char *cmd, const char *method, int argc, char **argv,
		    json_t **resp)
{
	const char *name = NULL;
	char path[128];
	int ret;

	if ((ret = lat_name_arg(c, cmd, argc, argv, &name)))
		return ret;
	snprintf(path, sizeof(path), "/v1/latency/%s", name);
	return cli_api(c, method, path, NULL, resp);
}

int cmd_latency_enable(struct cli *c, int argc, char **argv)
{
	json_t *r;

	if (lat_call(c, "latency enable", "POST", argc, argv, &r))
		return 1;
	if (is_json_context())
		print_json(NULL, r);
	else
		printf("latency accounting enabled for %s; records on %s\n", json_str(r, "name"), json_str(r, "socket"));
	json_decref(r);
	return 0;
}

int cmd_latency_disable(struct cli *c, int argc, char **argv)
{
	json_t *r;

	if (lat_call(c, "latency disable", "DELETE", argc, argv, &r))
		return 1;
	if (is_json_context())
		print_json(NULL, r);
	else
		printf("latency accounting disabled for %s\n", json_str(r, "name"));
	json_decref(r);
	return 0;
}

int cmd_latency_show(struct cli *c, int argc, char **argv)
{
	json_t *r;

	if (lat_call(c, "latency show", "GET", argc, argv, &r))
		return 1;
	if (is_json_context())
		print_json(NULL, r);
	else
		print_lat(r);
	json_decref(r);
	return 0;
}

int cmd_latency_list(struct cli *c, int argc, char **argv)
{
	json_t *r, *e;
	size_t i;

	if (argc)
		return cli_usage(c, "latency list", "unexpected argument '%s'", argv[0]);
	if (cli_api(c, "GET", "/v1/latency", NULL, &r))
		return 1;
	if (is_json_context()) {
		print_json(NULL, r);
	} else {
		printf("%-16s %10s %10s %12s %12s\n", "NAME", "EGRESS", "INGRESS", "EGRESS_P50", "INGRESS_P50");
		json_array_foreach(json_object_get(r, "enabled"), i, e) {
			json_t *eh = json_object_get(json_object_get(e, "egress"), "histogram");
			json_t *ih = json_object_get(json_object_get(e, "ingress"), "histogram");

			printf("%-16s %10lld %10lld %9.1f us %9.1f us\n", json_str(e, "name"),
			       (long long)json_integer_value(json_object_get(eh, "count")),
			       (long long)json_integer_value(json_object_get(ih, "count")),
			       (double)json_integer_value(json_object_get(eh, "p50_ns")) / 1e3,
			       (double)json_integer_value(json_object_get(ih, "p50_ns")) / 1e3);
		}
	}
	json_decref(r);
	return 0;
}

/* ---- petrel ping ---- */

struct ping_opts {
	const char *name, *target;
	long count;
	const char *size, *interval, *deadline_s;
};

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Spawn ping inside the netns with stdout on a pipe. */
static pid_t spawn_ping(const char *netns, const struct ping_opts *o, int *out)
{
	char path[300], count[32];
	char *argv[16];
	int p[2], n = 0;
	pid_t pid;

	if (netns[0] == '/')
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
	snprintf(count, sizeof(count), "%ld", o->count);
	argv[n++] = "ping";
	argv[n++] = "-n";
	/* User-to-user RTTs: the accounted latencies end at the socket, so the RTT must
	 * include the whole path through the stack, not stop at a kernel timestamp. */
	argv[n++] = "-U";
	argv[n++] = "-c";
	argv[n++] = count;
	if (o->size) {
		argv[n++] = "-s";
		argv[n++] = (char *)o->size;
	}
	if (o->interval) {
		argv[n++] = "-i";
		argv[n++] = (char *)o->interval;
	}
	if (o->deadline_s) {
		argv[n++] = "-w";
		argv[n++] = (char *)o->deadline_s;
	}
	argv[n++] = (char *)o->target;
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			fprintf(stderr, "petrel: cannot enter network namespace %s: %s\n", path, strerror(errno));
			_exit(127);
		}
		dup2(p[1], 1);
		execvp("ping", argv);
		fprintf(stderr, "petrel: cannot run ping: %s (install iputils-ping)\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	return pid;
}

struct pending {
	uint32_t seq;
	uint64_t since_ms;
};

static void print_reply(struct lat_ping *lp, uint32_t seq, json_t *replies)
{
	struct lat_ping_entry *e = &lp->e[seq % LAT_PING_MAX];
	bool ok = lat_ping_complete(lp, seq);

	lat_ping_account(lp, seq);
	if (replies) {
		json_t *j = json_pack("{s:i, s:f}", "seq", (int)seq, "raw_us", (double)e->rtt_ns / 1e3);

		if (e->has_egress)
			json_object_set_new(j, "egress_us", json_real((double)e->egress_ns / 1e3));
		if (e->has_ingress)
			json_object_set_new(j, "ingress_us", json_real((double)e->ingress_ns / 1e3));
		if (e->has_egress)
			json_object_set_new(j, "egress_stack_us", json_real((double)e->stack_ns / 1e3));
		if (ok) {
			json_object_set_new(j, "corrected_us", json_real((double)lat_ping_corrected(lp, seq) / 1e3));
			json_object_set_new(j, "path_corrected_us",
					    json_real((double)lat_ping_path_corrected(lp, seq) / 1e3));
		}
		json_array_append_new(replies, j);
		return;
	}
	printf("seq=%-5u raw %9.1f us", seq, (double)e->rtt_ns / 1e3);
	if (e->has_egress)
		printf("  egress %8.1f us", (double)e->egress_ns / 1e3);
	else
		printf("  egress %8s   ", "-");
	if (e->has_ingress)
		printf("  ingress %8.1f us", (double)e->ingress_ns / 1e3);
	else
		printf("  ingress %8s   ", "-");
	if (ok)
		printf("  corrected %9.1f us\n", (double)lat_ping_corrected(lp, seq) / 1e3);
	else
		printf("  corrected -  (not every latency was accounted)\n");
	fflush(stdout);
}

/* Read newline-terminated pieces from fd into buf; call fn per line. -1 at EOF. */
static int read_lines(int fd, struct growbuf *b, void (*fn)(char *line, void *arg), void *arg)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	char *nl;

	if (n <= 0)
		return n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
	if (growbuf_append(b, tmp, (size_t)n))
		return -1;
	while (b->data && (nl = memchr(b->data, '\n', b->len))) {
		*nl = 0;
		fn(b->data, arg);
		growbuf_consume(b, (size_t)(nl - b->data) + 1);
	}
	return 0;
}

struct ping_state {
	struct lat_ping lp;
	char target_ip[64];
	struct pending *pend;
	size_t npend, cap;
	uint64_t transmitted;
	json_t *replies;            /* -j: collected instead of printed */
	struct lat_record_view early[512];
	size_t nearly;
	bool text;
};

static void use_record(struct ping_state *st, const struct lat_record_view *v)
{
	if (!strcmp(v->dir ? v->src : v->dst, st->target_ip))
		lat_ping_latency(&st->lp, v->seq, v->dir, v->latency_ns, v->stack_ns);
}

static void on_record(char *line, void *arg)
{
	struct ping_state *st = arg;
	struct lat_record_view v;
	json_t *j = json_loads(line, 0, NULL);

	if (j && !lat_record_parse(j, &v) && (v.proto == 1 || v.proto == 58)) {
		/* ping's output is block-buffered: records may come before it names the
		 * target's address. Keep them until it does. */
		if (*st->target_ip)
			use_record(st, &v);
		else if (st->nearly < sizeof(st->early) / sizeof(st->early[0]))
			st->early[st->nearly++] = v;
	}
	json_decref(j);
}

static void on_ping_line(char *line, void *arg)
{
	struct ping_state *st = arg;
	uint64_t rtt;
	uint32_t seq;
	unsigned long tx;
	const char *s;

	if (!*st->target_ip && !lat_ping_parse_header(line, st->target_ip, sizeof(st->target_ip))) {
		if (st->text)
			printf("%s\n", line);
		for (size_t i = 0; i < st->nearly; i++)
			use_record(st, &st->early[i]);
		st->nearly = 0;
		return;
	}
	if (!lat_ping_parse_reply(line, &seq, &rtt) && !strstr(line, "(DUP!)") && st->npend < st->cap) {
		lat_ping_reply(&st->lp, seq, rtt);
		st->pend[st->npend].seq = seq;
		st->pend[st->npend].since_ms = now_ms();
		st->npend++;
		return;
	}
	if ((s = strstr(line, " packets transmitted")) && sscanf(line, "%lu", &tx) == 1)
		st->transmitted = tx;
}

/* Print pending replies in order, once complete or after a grace period. */
static void flush_pending(struct ping_state *st, bool all)
{
	size_t k = 0;

	while (k < st->npend) {
		struct pending *p = &st->pend[k];

		if (!all && !lat_ping_complete(&st->lp, p->seq) && now_ms() - p->since_ms < 1000)
			break;
		print_reply(&st->lp, p->seq, st->replies);
		k++;
	}
	memmove(st->pend, st->pend + k, (st->npend - k) * sizeof(*st->pend));
	st->npend -= k;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	interrupted = 1;
}

int cmd_ping(struct cli *c, int argc, char **argv)
{
	struct ping_opts o = { .count = 10 };
	static struct ping_state st;
	struct growbuf pb = { 0 }, rb = { 0 };
	json_t *ep = NULL, *r = NULL, *sum;
	char path[128], netns[256], sock[512];
	bool enabled_here = false;
	int ret = 1, pfd = -1, sfd = -1, status = 0;
	pid_t pid = -1;
	char *end;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-c") && i + 1 < argc) {
			o.count = strtol(argv[++i], &end, 10);
			if (*end || o.count < 1 || o.count > 60000)
				return cli_usage(c, "ping", "-c wants a count of 1 to 60000, not '%s'", argv[i]);
		} else if (!strcmp(a, "-s") && i + 1 < argc) {
			long s = strtol(argv[++i], &end, 10);
			if (*end || s < 0 || s > 65507)
				return cli_usage(c, "ping", "-s wants a payload size of 0 to 65507 bytes, not '%s'", argv[i]);
			o.size = argv[i];
		} else if (!strcmp(a, "-i") && i + 1 < argc) {
			double v = strtod(argv[++i], &end);
			if (*end || v < 0.002)
				return cli_usage(c, "ping", "-i wants an interval of at least 0.002 s, not '%s'", argv[i]);
			o.interval = argv[i];
		} else if (a[0] == '-') {
			return cli_usage(c, "ping", "unknown option '%s'", a);
		} else if (!o.name) {
			o.name = a;
		} else if (!o.target) {
			o.target = a;
		} else {
			return cli_usage(c, "ping", "unexpected argument '%s'", a);
		}
	}
	if (!o.name || !o.target)
		return cli_usage(c, "ping", "expected NAME TARGET");
	if (!name_valid(o.name))
		return cli_usage(c, "ping", "'%s' is not a valid endpoint name", o.name);
	if (o.target[0] == '-' || strlen(o.target) > 253)
		return cli_usage(c, "ping", "'%s' is not a valid target", o.target);
	if ((ret = cli_require_root(c, "ping")))
		return ret;
	snprintf(path, sizeof(path), "/v1/endpoints/%s", o.name);
	if (cli_api(c, "GET", path, NULL, &ep))
		return 1;
	snprintf(netns, sizeof(netns), "%s", json_str(ep, "netns"));
	/* In a lab, follow the endpoint to the node hosting it. */
	if (c->node && strcmp(c->node, json_str(ep, "node")) && *json_str(ep, "node")) {
		static char node[64];
		snprintf(node, sizeof(node), "%s", json_str(ep, "node"));
		c->node = node;
		c->socket[0] = 0;
	}
	json_decref(ep);
	snprintf(path, sizeof(path), "/v1/latency/%s", o.name);
	/* Use accounting that is already on; otherwise turn it on for this run only. */
	{
		json_t *cur = NULL;
		int quiet = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (devnull >= 0)
			dup2(devnull, 2);
		ret = cli_api(c, "GET", path, NULL, &cur);
		dup2(quiet, 2);
		close(quiet);
		if (devnull >= 0)
			close(devnull);
		if (ret) {
			if (cli_api(c, "POST", path, NULL, &r))
				return 1;
			enabled_here = true;
		} else {
			r = cur;
		}
	}
	snprintf(sock, sizeof(sock), "%s", json_str(r, "socket"));
	json_decref(r);
	r = NULL;
	ret = 1;
	sfd = connect_unix(sock);
	if (sfd < 0) {
		cli_error(c, "cannot read latency records on %s: %s", sock, strerror(-sfd));
		goto out;
	}
	if (lat_ping_init(&st.lp) || !(st.pend = calloc((size_t)o.count + 1, sizeof(*st.pend)))) {
		cli_error(c, "out of memory");
		goto out;
	}
	st.cap = (size_t)o.count + 1;
	st.text = !is_json_context();
	if (!st.text)
		st.replies = json_array();
	/* Wait for the agent's first line: from then on, every record reaches us. */
	{
		struct pollfd fd = { .fd = sfd, .events = POLLIN };
		char ch;

		do {
			if (poll(&fd, 1, 3000) <= 0 || read(sfd, &ch, 1) != 1) {
				cli_error(c, "the agent did not start the record stream on %s", sock);
				goto out;
			}
		} while (ch != '\n');
	}
	pid = spawn_ping(netns, &o, &pfd);
	if (pid < 0) {
		cli_error(c, "cannot start ping: %s", strerror((int)-pid));
		goto out;
	}
	signal(SIGINT, on_sigint);
	while (pfd >= 0 && !interrupted) {
		struct pollfd fds[2] = { { .fd = pfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

		if (poll(fds, 2, 200) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & (POLLIN | POLLHUP) && read_lines(sfd, &rb, on_record, &st) < 0) {
			close(sfd);
			sfd = -1;
			cli_error(c, "the agent closed the record stream (was accounting disabled?)");
			break;
		}
		if (fds[0].revents & (POLLIN | POLLHUP) && read_lines(pfd, &pb, on_ping_line, &st) < 0) {
			close(pfd);
			pfd = -1;
		}
		flush_pending(&st, false);
	}
	if (interrupted)
		kill(pid, SIGINT);
	/* Records of the last replies may still be on their way. */
	for (uint64_t t0 = now_ms(); sfd >= 0 && st.npend && now_ms() - t0 < 1000;) {
		struct pollfd fd = { .fd = sfd, .events = POLLIN };

		if (poll(&fd, 1, 100) > 0 && read_lines(sfd, &rb, on_record, &st) < 0)
			break;
		flush_pending(&st, false);
	}
	flush_pending(&st, true);
	waitpid(pid, &status, 0);
	if (!st.transmitted)
		st.transmitted = st.lp.replies;
	sum = lat_ping_summary(&st.lp, st.transmitted);
	json_object_set_new(sum, "endpoint", json_string(o.name));
	json_object_set_new(sum, "target", json_string(*st.target_ip ? st.target_ip : o.target));
	if (st.text) {
		printf("--- %s -> %s: %llu transmitted, %llu replies, %llu with both latencies (matched_ratio %.3f)\n",
		       o.name, json_str(sum, "target"), (unsigned long long)st.transmitted,
		       (unsigned long long)st.lp.replies, (unsigned long long)st.lp.matched,
		       json_real_value(json_object_get(sum, "matched_ratio")));
		printf("raw_avg_us %.1f  corrected_avg_us %.1f  egress_avg_us %.1f  ingress_avg_us %.1f  "
		       "path_corrected_avg_us %.1f\n",
		       json_real_value(json_object_get(sum, "raw_avg_us")),
		       json_real_value(json_object_get(sum, "corrected_avg_us")),
		       json_real_value(json_object_get(sum, "egress_avg_us")),
		       json_real_value(json_object_get(sum, "ingress_avg_us")),
		       json_real_value(json_object_get(sum, "path_corrected_avg_us")));
	} else {
		json_object_set_new(sum, "replies_detail", st.replies);
		st.replies = NULL;
		print_json(NULL, sum);
	}
	json_decref(sum);
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 1 : (st.lp.replies ? 0 : 1);
	if (!st.lp.replies && !WIFEXITED(status))
		ret = 1;
out:
	if (pfd >= 0)
		close(pfd);
	if (sfd >= 0)
		close(sfd);
	free(pb.data);
	free(rb.data);
	free(st.pend);
	json_decref(st.replies);
	lat_ping_free(&st.lp);
	if (enabled_here && cli_api(c, "DELETE", path, NULL, &r) == 0)
		json_decref(r);
	return ret;
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command latency_commands[] = {
	{ "latency", "enable", cmd_latency_enable, "account an endpoint's network-stack latency per packet",
	  "petrel [-j] [--node NAME] latency enable NAME\n\n"
	  "Starts per-packet latency accounting for endpoint NAME on the node hosting it: egress\n"
	  "from the sending system call in the endpoint's namespace to transmission on the node's\n"
	  "underlay device, ingress from reception on the underlay device to delivery to the\n"
	  "endpoint's socket; ICMP, UDP and TCP, by tracepoint eBPF programs that are attached only\n"
	  "while some endpoint of the node is enabled. Records stream as JSON lines on the Unix\n"
	  "socket STATE-DIR/latency/NAME.sock (world-readable; a runtime bind-mounts it into the\n"
	  "container at /run/petrel/latency.sock). Enabling twice is an error; deleting the endpoint\n"
	  "or losing its namespace disables it.\n\n"
	  "Example:\n  petrel --node node1 latency enable web && socat - UNIX:/var/lib/petrel/latency/web.sock\n" },
	{ "latency", "disable", cmd_latency_disable, "stop accounting an endpoint's latency",
	  "petrel [-j] [--node NAME] latency disable NAME\n\n"
	  "Stops accounting for NAME: its map entries go, its record socket is closed and removed,\n"
	  "and the probes are detached when no endpoint of the node is left enabled. Prints the\n"
	  "final statistics with -j.\n\n"
	  "Example:\n  petrel --node node1 latency disable web\n" },
	{ "latency", "show", cmd_latency_show, "histograms, percentiles and match counters of an endpoint",
	  "petrel [-j] [--node NAME] latency show NAME\n\n"
	  "Shows, per direction, the number of accounted packets, mean, min, p50, p90, p99, p99.9 and\n"
	  "max latency with a histogram (16 sub-buckets per power of two, so within 1/32), and the\n"
	  "packets whose other end was not found: egress packets that never reached the underlay\n"
	  "within a second (dropped, or to a peer on the same node) and ingress packets delivered\n"
	  "without an underlay reception (e.g. from the node itself).\n\n"
	  "Example:\n  petrel -j --node node1 latency show web | jq .egress.histogram.p99_ns\n" },
	{ "latency", "list", cmd_latency_list, "list the endpoints whose latency is accounted",
	  "petrel [-j] [--node NAME] latency list\n\n"
	  "Lists the node's accounted endpoints with their packet counts and median latencies.\n\n"
	  "Example:\n  petrel --node node1 latency list\n" },
	{ "ping", "run", cmd_ping, "ping from an endpoint, with RTTs corrected by its stack latency",
	  "petrel [-j] [--node NAME] ping NAME TARGET [-c COUNT] [-s SIZE] [-i INTERVAL]\n\n"
	  "Runs iputils ping (user-to-user RTTs, -U) inside endpoint NAME's namespace and, for each\n"
	  "reply, prints the raw RTT, the accounted egress latency of the request and ingress\n"
	  "latency of the reply, and the corrected RTT = raw - egress - ingress: the RTT without\n"
	  "the container's network stack and virtual path. Accounting is enabled for the run if it\n"
	  "is not already (and disabled afterwards). The summary gives raw_avg_us,\n"
	  "corrected_avg_us, egress_avg_us, ingress_avg_us and matched_ratio (replies with both\n"
	  "latencies / replies); with -j it is one JSON object, with every reply in replies_detail.\n\n"
	  "Options:\n"
	  "  -c COUNT      echo requests to send (default 10)\n"
	  "  -s SIZE       ICMP payload bytes (default 56)\n"
	  "  -i INTERVAL   seconds between requests (default 1; below 0.2 needs root, as here)\n\n"
	  "Example:\n  petrel --node node1 ping web 198.18.0.254 -c 20 -i 0.05\n" },
	{ 0 }
};
