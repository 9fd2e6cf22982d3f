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
#include "args.h"
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

/* The histogram's bars, scaled to the fullest bucket of the direction being printed. */
static long long bucket_max;

static void fmt_bucket(json_t *b, const char *key, char *buf, size_t len)
{
	long long n = json_integer_value(json_array_get(b, 1));
	int bar = bucket_max ? (int)(n * 40 / bucket_max) : 0;

	snprintf(buf, len, ">= %9.1f us %8lld %.*s", (double)json_integer_value(json_array_get(b, 0)) / 1e3,
		 n, bar ? bar : 1, "########################################");
}

static const struct print_field egress_counts[] = {
	PF("histogram.count", "  egress: %s packets "), PF("started", "(started %s, "),
	PF("matched", "matched %s, "), PF("unmatched", "unmatched %s: "), PF("expired", "expired %s, "),
	PF("stale", "stale %s)\n"),
	PF_END
};
static const struct print_field ingress_counts[] = {
	PF("histogram.count", "  ingress: %s packets "), PF("delivered", "(delivered %s, "),
	PF("matched", "matched %s, "), PF("unmatched", "unmatched %s)\n"),
	PF_END
};
static const struct print_field percentiles[] = {
	PF_FN("mean_ns", "    mean %s us  ", print_fmt_us), PF_FN("min_ns", "min %s  ", print_fmt_us),
	PF_FN("p50_ns", "p50 %s  ", print_fmt_us), PF_FN("p90_ns", "p90 %s  ", print_fmt_us),
	PF_FN("p99_ns", "p99 %s  ", print_fmt_us), PF_FN("p999_ns", "p99.9 %s  ", print_fmt_us),
	PF_FN("max_ns", "max %s\n", print_fmt_us),
	PF_END
};

/* One direction's counters and histogram, in text (the record's JSON is out already). */
static void print_dir(json_t *d, const struct print_field *counts)
{
	json_t *h = json_object_get(d, "histogram"), *b;
	size_t i;

	print_record(PRINT_FP, d, counts);
	if (!json_integer_value(json_object_get(h, "count")))
		return;
	print_record(PRINT_FP, h, percentiles);
	bucket_max = 0;
	json_array_foreach(json_object_get(h, "buckets"), i, b)
		if (json_integer_value(json_array_get(b, 1)) > bucket_max)
			bucket_max = json_integer_value(json_array_get(b, 1));
	print_table(PRINT_FP, json_object_get(h, "buckets"), NULL,
		    (const struct print_field[]){ PF_FN("", "    %s\n", fmt_bucket), PF_END });
}

static void print_lat(json_t *r)
{
	print_record(PRINT_ANY, r, (const struct print_field[]){
		PF("name", "latency accounting for %s\n"), PF("socket", "  records  %s\n"), PF_END });
	print_dir(json_object_get(r, "egress"), egress_counts);
	print_dir(json_object_get(r, "ingress"), ingress_counts);
	if (json_integer_value(json_object_get(r, "records_lost")) || json_integer_value(json_object_get(r, "stream_drops")))
		print_record(PRINT_FP, r, (const struct print_field[]){
			PF("records_lost", "  records lost in the kernel %s, "),
			PF("stream_drops", "missed by slow readers %s\n"), PF_END });
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
	print_record(PRINT_ANY, r, (const struct print_field[]){
		PF("name", "latency accounting enabled for %s; "), PF("socket", "records on %s\n"), PF_END });
	json_decref(r);
	return 0;
}

int cmd_latency_disable(struct cli *c, int argc, char **argv)
{
	json_t *r;

	if (lat_call(c, "latency disable", "DELETE", argc, argv, &r))
		return 1;
	print_record(PRINT_ANY, r, (const struct print_field[]){
		PF("name", "latency accounting disabled for %s\n"), PF_END });
	json_decref(r);
	return 0;
}

int cmd_latency_show(struct cli *c, int argc, char **argv)
{
	json_t *r;

	if (lat_call(c, "latency show", "GET", argc, argv, &r))
		return 1;
	print_lat(r);
	json_decref(r);
	return 0;
}

int cmd_latency_list(struct cli *c, int argc, char **argv)
{
	json_t *r;
	int ret;

	if ((ret = cli_get(c, "latency list", argc, argv, "/v1/latency", &r)))
		return ret;
	print_record(PRINT_JSON, r, NULL);
	print_table(PRINT_FP, json_object_get(r, "enabled"),
		    "NAME                 EGRESS    INGRESS   EGRESS_P50  INGRESS_P50\n",
		    (const struct print_field[]){
			PF("name", "%-16s "), PF("egress.histogram.count", "%10s "),
			PF("ingress.histogram.count", "%10s "),
			PF_FN("egress.histogram.p50_ns", "%9s us ", print_fmt_us),
			PF_FN("ingress.histogram.p50_ns", "%9s us\n", print_fmt_us), PF_END });
	json_decref(r);
	return 0;
}

/* ---- petrel ping ---- */

struct ping_opts {
	const char *name, *target;
	long count;
	const char *size, *interval, *deadline_s;
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	interrupted = 1;
}

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

/* One reply: raw RTT, the accounted latencies and the corrected RTT, in microseconds. */
static json_t *reply_json(struct lat_ping *lp, uint32_t seq)
{
	struct lat_ping_entry *e = &lp->e[seq % LAT_PING_MAX];
	json_t *j = json_pack("{s:i, s:f}", "seq", (int)seq, "raw_us", (double)e->rtt_ns / 1e3);

	if (e->has_egress) {
		json_object_set_new(j, "egress_us", json_real((double)e->egress_ns / 1e3));
		json_object_set_new(j, "egress_stack_us", json_real((double)e->stack_ns / 1e3));
	}
	if (e->has_ingress)
		json_object_set_new(j, "ingress_us", json_real((double)e->ingress_ns / 1e3));
	if (lat_ping_complete(lp, seq)) {
		json_object_set_new(j, "corrected_us", json_real((double)lat_ping_corrected(lp, seq) / 1e3));
		json_object_set_new(j, "path_corrected_us",
				    json_real((double)lat_ping_path_corrected(lp, seq) / 1e3));
	}
	return j;
}

/* A value in microseconds with one decimal, "-" when absent. */
static void fmt_us1(json_t *r, const char *key, char *buf, size_t len)
{
	json_t *v = print_lookup(r, key);

	if (json_is_number(v))
		snprintf(buf, len, "%.1f us", json_number_value(v));
	else
		snprintf(buf, len, "-");
}

static void fmt_corrected(json_t *r, const char *key, char *buf, size_t len)
{
	fmt_us1(r, key, buf, len);
	if (!strcmp(buf, "-"))
		snprintf(buf, len, "-  (not every latency was accounted)");
}

static const struct print_field reply_line[] = {
	PF("seq", "seq=%-5s "), PF_FN("raw_us", "raw %12s", fmt_us1),
	PF_FN("egress_us", "  egress %11s", fmt_us1), PF_FN("ingress_us", "  ingress %11s", fmt_us1),
	PF_FN("corrected_us", "  corrected %s\n", fmt_corrected),
	PF_END
};

/* Text: a line now; -j: kept for the summary's replies_detail. */
static void print_reply(struct lat_ping *lp, uint32_t seq, json_t *replies)
{
	json_t *j = reply_json(lp, seq);

	lat_ping_account(lp, seq);
	print_record(PRINT_FP, j, reply_line);
	fflush(stdout);
	if (replies)
		json_array_append(replies, j);
	json_decref(j);
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
	json_t *replies;            /* -j: collected for the summary */
	struct lat_record_view early[512];
	size_t nearly;
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
		print_string(PRINT_FP, NULL, "%s\n", line);
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

static bool size_valid(const char *v)
{
	long n;

	return args_uint(v, 0, 65507, &n) == 0;
}

static bool interval_valid(const char *v)
{
	char *end;
	double d = strtod(v, &end);

	return !*end && end != v && d >= 0.002;
}

static const struct args_opt ping_options[] = {
	ARGS_OPT_LONG("-c", NULL, struct ping_opts, count, 1, 60000, "a count of 1 to 60000"),
	ARGS_OPT_STRING("-s", NULL, struct ping_opts, size, size_valid, "a payload size of 0 to 65507 bytes"),
	ARGS_OPT_STRING("-i", NULL, struct ping_opts, interval, interval_valid, "an interval of at least 0.002 s"),
	ARGS_OPT_END
};

/* The endpoint's namespace (into netns); in a lab, the agent of the node hosting it. */
static int ping_endpoint(struct cli *c, const char *name, char *netns, size_t len)
{
	static char node[64];
	char path[128];
	json_t *ep;

	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	if (cli_api(c, "GET", path, NULL, &ep))
		return 1;
	snprintf(netns, len, "%s", json_str(ep, "netns"));
	if (c->node && strcmp(c->node, json_str(ep, "node")) && *json_str(ep, "node")) {
		snprintf(node, sizeof(node), "%s", json_str(ep, "node"));
		c->node = node;
		c->socket[0] = 0;
	}
	json_decref(ep);
	return 0;
}

/* Use accounting that is already on; otherwise turn it on for this run (*enabled_here).
 * The record socket's path into sock. */
static int ping_accounting(struct cli *c, const char *path, bool *enabled_here, char *sock, size_t len)
{
	int quiet = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), ret;
	json_t *r = NULL;

	if (devnull >= 0)
		dup2(devnull, 2);
	ret = cli_api(c, "GET", path, NULL, &r);
	dup2(quiet, 2);
	close(quiet);
	if (devnull >= 0)
		close(devnull);
	if (ret) {
		if (cli_api(c, "POST", path, NULL, &r))
			return 1;
		*enabled_here = true;
	}
	snprintf(sock, len, "%s", json_str(r, "socket"));
	json_decref(r);
	return 0;
}

/* Run ping and pair its replies with the records from sfd until it ends; its wait status. */
static int ping_loop(struct cli *c, struct ping_state *st, int sfd, const char *netns,
		     const struct ping_opts *o, int *status)
{
	struct growbuf pb = { 0 }, rb = { 0 };
	int pfd = -1;
	pid_t pid;

	pid = spawn_ping(netns, o, &pfd);
	if (pid < 0)
		return cli_error(c, "cannot start ping: %s", strerror((int)-pid));
	signal(SIGINT, on_sigint);
	while (pfd >= 0 && !interrupted) {
		struct pollfd fds[2] = { { .fd = pfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

		if (poll(fds, 2, 200) < 0 && errno != EINTR)
			break;
		if (sfd >= 0 && fds[1].revents & (POLLIN | POLLHUP) && read_lines(sfd, &rb, on_record, st) < 0) {
			sfd = -1;
			cli_error(c, "the agent closed the record stream (was accounting disabled?)");
			break;
		}
		if (fds[0].revents & (POLLIN | POLLHUP) && read_lines(pfd, &pb, on_ping_line, st) < 0) {
			close(pfd);
			pfd = -1;
		}
		flush_pending(st, false);
	}
	if (interrupted)
		kill(pid, SIGINT);
	/* Records of the last replies may still be on their way. */
	for (uint64_t t0 = now_ms(); sfd >= 0 && st->npend && now_ms() - t0 < 1000;) {
		struct pollfd fd = { .fd = sfd, .events = POLLIN };

		if (poll(&fd, 1, 100) > 0 && read_lines(sfd, &rb, on_record, st) < 0)
			break;
		flush_pending(st, false);
	}
	flush_pending(st, true);
	if (pfd >= 0)
		close(pfd);
	waitpid(pid, status, 0);
	free(pb.data);
	free(rb.data);
	return 0;
}

static const struct print_field summary_lines[] = {
	PF("endpoint", "--- %s -> "), PF("target", "%s: "), PF("transmitted", "%s transmitted, "),
	PF("replies", "%s replies, "), PF("matched", "%s with both latencies "),
	PF("matched_ratio", "(matched_ratio %s)\n"),
	PF_FN("raw_avg_us", "raw_avg %s  ", fmt_us1), PF_FN("corrected_avg_us", "corrected_avg %s  ", fmt_us1),
	PF_FN("egress_avg_us", "egress_avg %s  ", fmt_us1), PF_FN("ingress_avg_us", "ingress_avg %s  ", fmt_us1),
	PF_FN("path_corrected_avg_us", "path_corrected_avg %s\n", fmt_us1),
	PF_END
};

static void ping_report(struct ping_state *st, const struct ping_opts *o)
{
	json_t *sum;

	if (!st->transmitted)
		st->transmitted = st->lp.replies;
	sum = lat_ping_summary(&st->lp, st->transmitted);
	json_object_set_new(sum, "endpoint", json_string(o->name));
	json_object_set_new(sum, "target", json_string(*st->target_ip ? st->target_ip : o->target));
	if (st->replies)
		json_object_set(sum, "replies_detail", st->replies);
	print_record(PRINT_ANY, sum, summary_lines);
	json_decref(sum);
}

int cmd_ping(struct cli *c, int argc, char **argv)
{
	struct ping_opts o = { .count = 10 };
	const char *pos[2] = { NULL, NULL };
	static struct ping_state st;
	char path[128], netns[256], sock[512];
	bool enabled_here = false;
	int ret, sfd = -1, status = 0;
	json_t *r;

	if ((ret = cli_args(c, "ping", ping_options, &o, argc, argv, pos, 2, NULL)))
		return ret;
	o.name = pos[0];
	o.target = pos[1];
	if (!o.name || !o.target)
		return cli_usage(c, "ping", "expected NAME TARGET");
	if (!name_valid(o.name))
		return cli_usage(c, "ping", "'%s' is not a valid endpoint name", o.name);
	if (o.target[0] == '-' || strlen(o.target) > 253)
		return cli_usage(c, "ping", "'%s' is not a valid target", o.target);
	if ((ret = cli_require_root(c, "ping")) || (ret = ping_endpoint(c, o.name, netns, sizeof(netns))))
		return ret;
	snprintf(path, sizeof(path), "/v1/latency/%s", o.name);
	if (ping_accounting(c, path, &enabled_here, sock, sizeof(sock)))
		return 1;
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
	if (is_json_context())
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
	if (ping_loop(c, &st, sfd, netns, &o, &status))
		goto out;
	ping_report(&st, &o);
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 1 : (st.lp.replies ? 0 : 1);
	if (!st.lp.replies && !WIFEXITED(status))
		ret = 1;
out:
	if (sfd >= 0)
		close(sfd);
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
	  "socket STATE-DIR/latency/NAME/latency.sock (any process may connect; only the endpoint's\n"
	  "own network namespace and the host's are served; a runtime bind-mounts that directory,\n"
	  "alone, at the container's /run/petrel). Enabling twice is an error; deleting the\n"
	  "endpoint or losing its namespace disables it.\n\n"
	  "Example:\n  petrel --node node1 latency enable web && socat - UNIX:/var/lib/petrel/latency/web/latency.sock\n" },
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
