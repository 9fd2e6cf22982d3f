/* The agent's HTTP+JSON API (libmicrohttpd) on a Unix socket. Requests are parsed into
 * plain structs, then applied under the agent lock; every failure becomes a JSON error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <microhttpd.h>
#include "agent.h"
#include "log.h"
#include "util.h"

#define MAX_BODY (1 << 20)
/* A policy file may hold ten thousand policies, applied in one request to stay atomic. */
#define MAX_POLICY_BODY (64 << 20)

static size_t body_limit(const char *url)
{
	return strcmp(url, "/v1/policies") ? MAX_BODY : MAX_POLICY_BODY;
}
/* The store time one API request may spend, in all of its calls together. */
#define API_STORE_BUDGET_MS 4000
/* Concurrent API connections (each has a thread; followed flow streams hold theirs). */
#define API_MAX_CONNECTIONS 128

struct api_server {
	struct MHD_Daemon *d;
	struct agent *a;
	int fd;
};

struct request {
	char *body;
	size_t len;
	bool too_large;
};

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text,
				 const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	size_t len;

	json_decref(j);
	if (!text)
		return MHD_NO;
	/* Newline-terminated, so `curl --unix-socket` output reads well too. */
	len = strlen(text);
	text = realloc(text, len + 2);
	text[len] = '\n';
	text[len + 1] = 0;
	return send_text(c, status, text, "application/json");
}

static enum MHD_Result send_error(struct MHD_Connection *c, const struct api_error *e)
{
	json_t *j = json_pack("{s:s}", "error", e->msg);

	if (*e->hint)
		json_object_set_new(j, "hint", json_string(e->hint));
	return send_json(c, e->status ? e->status : 500, j);
}

static enum MHD_Result fail(struct MHD_Connection *c, int status, const char *hint,
			    const char *fmt, const char *arg)
{
	struct api_error e;

	api_fail(&e, status, hint, fmt, arg);
	return send_error(c, &e);
}

/* Endpoint and node routes. Each route module answers with an HTTP status and a JSON body
 * (or fills *e), knowing nothing of HTTP plumbing; 0 means "not my path". */
static int endpoints_route(struct agent *a, const struct api_request *rq, json_t **resp,
			   struct api_error *e)
{
	static const char prefix[] = "/v1/endpoints/";
	struct ep_request req;
	struct endpoint ep, *eps = NULL;
	size_t n = 0;
	char msg[512];
	int ret;

	if (!strcmp(rq->path, "/v1/endpoints")) {
		if (!strcmp(rq->method, "GET")) {
			json_t *arr = json_array();

			/* ?node=NAME: one node's endpoints (a large cluster's whole list is long). */
			ret = rq->node ? cluster_node_endpoints(a, rq->node, &eps, &n) :
			      cluster_endpoints(a, &eps, &n);
			if (ret) {
				json_decref(arr);
				return api_fail(e, 503, NULL, "cannot read endpoints: %s", strerror(-ret));
			}
			for (size_t i = 0; i < n; i++)
				json_array_append_new(arr, endpoint_json_with_counters(a, &eps[i]));
			free(eps);
			*resp = json_pack("{s:o}", "endpoints", arr);
			return 200;
		}
		if (strcmp(rq->method, "POST"))
			return api_fail(e, 405, "use GET or POST", "method %s not allowed on %s",
					rq->method, rq->path);
		if (!rq->body)
			return api_fail(e, 400, NULL, "%s", rq->body_error);
		if (ep_request_parse(rq->body, &req, msg, sizeof(msg)))
			return api_fail(e, 400, NULL, "invalid endpoint request: %s", msg);
		if (endpoint_create(a, &req, &ep, e))
			return -1;
		*resp = endpoint_json_with_counters(a, &ep);
		return 201;
	}
	if (strncmp(rq->path, prefix, strlen(prefix)))
		return 0;
	const char *name = rq->path + strlen(prefix);
	if (!name_valid(name))
		return api_fail(e, 400, NULL, "'%s' is not a valid endpoint name", name);
	if (!strcmp(rq->method, "GET")) {
		ret = cluster_endpoint_get(a, name, &ep);
		if (ret == -ENOENT)
			return api_fail(e, 404, "see `petrel endpoint list`",
					"endpoint '%s' does not exist", name);
		if (ret)
			return api_fail(e, 503, NULL, "cannot read endpoint: %s", strerror(-ret));
		*resp = endpoint_json_with_counters(a, &ep);
		return 200;
	}
	if (!strcmp(rq->method, "DELETE")) {
		if (endpoint_delete(a, name, e))
			return -1;
		*resp = json_pack("{s:s}", "deleted", name);
		return 200;
	}
	return api_fail(e, 405, "use GET or DELETE", "method %s not allowed on endpoints", rq->method);
}

static int node_route(struct agent *a, const struct api_request *rq, json_t **resp,
		      struct api_error *e)
{
	if (strcmp(rq->path, "/v1/node"))
		return 0;
	if (strcmp(rq->method, "GET"))
		return api_fail(e, 405, "use GET", "method %s not allowed on /v1/node", rq->method);
	if (node_status_json(a, resp))
		return api_fail(e, 500, NULL, "cannot build node status");
	return 200;
}

/* GET /v1/flows[?follow=1&endpoint=NAME&verdict=allowed|denied]: JSON lines of flow events,
 * streamed for as long as the client listens when following. */
struct flow_stream {
	struct agent *a;
	uint64_t cursor;
	char *(*next)(uint64_t *cursor, const char *a, const char *b, int wait_ms);
	bool follow;
	char endpoint[EP_NAME_MAX], verdict[16];
	char *line;
	size_t off, len;
};

static ssize_t flow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct flow_stream *st = cls;
	size_t n;

	while (!st->line) {
		char *l = st->next(&st->cursor, *st->endpoint ? st->endpoint : NULL,
				     *st->verdict ? st->verdict : NULL, st->follow ? 1000 : 0);
		if (l) {
			st->len = strlen(l);
			st->line = realloc(l, st->len + 2);
			st->line[st->len++] = '\n';
			st->line[st->len] = 0;
			st->off = 0;
		} else if (!st->follow || st->a->stopping) {
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
	}
	n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(buf, st->line + st->off, n);
	st->off += n;
	if (st->off == st->len) {
		free(st->line);
		st->line = NULL;
	}
	return (ssize_t)n;
}

static void flow_free(void *cls)
{
	struct flow_stream *st = cls;

	free(st->line);
	free(st);
}

static enum MHD_Result flows_response(struct agent *a, struct MHD_Connection *c, bool ioam)
{
	const char *follow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow");
	const char *ep = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "endpoint");
	const char *verdict = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "verdict");
	struct flow_stream *st;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (verdict && strcmp(verdict, "allowed") && strcmp(verdict, "denied"))
		return fail(c, 400, NULL, "verdict '%s' is not allowed or denied", verdict);
	if (ep && !name_valid(ep))
		return fail(c, 400, NULL, "'%s' is not a valid endpoint name", ep);
	st = calloc(1, sizeof(*st));
	if (!st)
		return MHD_NO;
	st->a = a;
	st->follow = follow && strcmp(follow, "0") && strcmp(follow, "false");
	/* Following starts at "now"; a plain listing replays what is buffered. */
	st->cursor = st->follow ? flows_now() : flows_oldest();
	st->next = flows_next;
	if (ioam) {       /* GET /v1/ioam/traces[?follow=1]: decapsulated IOAM traces */
		st->cursor = ioam_traces_cursor(st->follow);
		st->next = ioam_traces_next;
	}
	snprintf(st->endpoint, sizeof(st->endpoint), "%s", ep ? ep : "");
	snprintf(st->verdict, sizeof(st->verdict), "%s", verdict ? verdict : "");
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, flow_reader, st, flow_free);
	MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* POST /v1/containers/NAME/migrate: a long stream of progress lines, run without the
 * agent lock (the migration takes it for each short step). */
static bool migrate_path(const char *method, const char *url, char *name, size_t len)
{
	const char *p = url + strlen("/v1/containers/"), *slash;

	if (strcmp(method, "POST") || strncmp(url, "/v1/containers/", 15) ||
	    !(slash = strchr(p, '/')) || strcmp(slash, "/migrate") || (size_t)(slash - p) >= len)
		return false;
	snprintf(name, len, "%.*s", (int)(slash - p), p);
	return true;
}

static enum MHD_Result migrate_response(struct agent *a, struct MHD_Connection *c,
					const char *name, const struct request *raw)
{
	struct api_error e = { 0 };
	json_t *body = raw->len ? json_loadb(raw->body, raw->len, 0, NULL) : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;
	int fd;

	if (migrate_start(a, name, body, &fd, &e)) {
		json_decref(body);
		return send_error(c, &e);
	}
	json_decref(body);
	r = MHD_create_response_from_pipe(fd);
	MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* Every JSON route module of the agent; the first that claims a path answers it. */
static api_route_fn routes[] = { node_route, endpoints_route, policy_route, container_route,
				 latency_route, ioam_route, check_route, relays_route };

static enum MHD_Result dispatch(struct agent *a, struct MHD_Connection *c, const char *method,
				const char *url, const struct request *raw)
{
	struct api_request rq = { .method = method, .path = url,
				  .node = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "node") };
	struct api_error e = { 0 };
	json_error_t jerr;
	json_t *resp = NULL;
	int status = 0;

	if (raw->too_large)
		return fail(c, 413, NULL, "request body larger than %s",
			    body_limit(url) == MAX_BODY ? "1 MiB" : "64 MiB");
	if (!strcmp(url, "/v1/flows") && !strcmp(method, "GET"))
		return flows_response(a, c, false);
	if (!strcmp(url, "/v1/ioam/traces") && !strcmp(method, "GET"))
		return flows_response(a, c, true);
	if (!strcmp(url, "/metrics") && !strcmp(method, "GET")) {
		char *text = metrics_prometheus(a);

		if (!text)
			return fail(c, 500, NULL, "cannot build metrics%s", "");
		return send_text(c, 200, text, "text/plain; version=0.0.4");
	}
	if (raw->len) {
		rq.body = json_loadb(raw->body, raw->len, 0, &jerr);
		if (!rq.body)
			snprintf(rq.body_error, sizeof(rq.body_error),
				 "malformed JSON body: %s (line %d, column %d)", jerr.text, jerr.line,
				 jerr.column);
	} else {
		snprintf(rq.body_error, sizeof(rq.body_error), "this request needs a JSON body");
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !status; i++)
		status = routes[i](a, &rq, &resp, &e);
	json_decref(rq.body);
	if (status == 0)
		return fail(c, 404, "see docs/api.md", "no such API path: %s", url);
	if (status < 0 || !resp) {
		json_decref(resp);
		return send_error(c, &e);
	}
	return send_json(c, status, resp);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **con_cls)
{
	struct api_server *s = cls;
	struct request *rq = *con_cls;
	enum MHD_Result ret;

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*size) {
		if (rq->len + *size > body_limit(url)) {
			rq->too_large = true;
		} else {
			char *nb = realloc(rq->body, rq->len + *size + 1);
			if (!nb)
				return MHD_NO;
			memcpy(nb + rq->len, data, *size);
			rq->body = nb;
			rq->len += *size;
			rq->body[rq->len] = 0;
		}
		*size = 0;
		return MHD_YES;
	}
	log_debug("api: %s %s", method, url);
	{
		char name[128];

		if (migrate_path(method, url, name, sizeof(name)))
			return migrate_response(s->a, c, name, rq);
	}
	/* The flow stream only reads the flow log (its own lock); it may run for long. Node
	 * and endpoint reads answer from the cluster cache, whatever holds the agent lock. */
	if (!strcmp(url, "/v1/flows") || !strcmp(url, "/v1/ioam/traces") || !strcmp(url, "/v1/relays") ||
	    (!strcmp(method, "GET") && (!strcmp(url, "/v1/node") || !strncmp(url, "/v1/endpoints", 13))))
		return dispatch(s->a, c, method, url, rq);
	/* A write that needs a store that does not answer fails within this bound. */
	store_deadline_set(API_STORE_BUDGET_MS);
	pthread_mutex_lock(&s->a->lock);
	ret = dispatch(s->a, c, method, url, rq);
	pthread_mutex_unlock(&s->a->lock);
	store_deadline_clear();
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	if (rq) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

int api_start(struct agent *a, struct api_server **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct api_server *s;
	char dir[CONFIG_STR];
	char *slash;
	int ret;

	if (strlen(a->cfg.socket) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", a->cfg.socket);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if ((ret = mkdir_p(dir, 0755)))
			return ret;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->a = a;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto err;
	strcpy(sun.sun_path, a->cfg.socket);
	unlink(a->cfg.socket);
	if (bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(a->cfg.socket, 0660) ||
	    listen(s->fd, 64))
		goto err;
	/* A thread per connection: a followed flow stream must not block other requests. */
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				0, NULL, NULL,
				handler, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				/* a thread per connection: bounded, so a flood of clients cannot
				 * exhaust the agent's threads */
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)API_MAX_CONNECTIONS,
				MHD_OPTION_END);
	if (!s->d) {
		errno = EIO;
		goto err;
	}
	*out = s;
	return 0;
err:
	ret = -errno;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return ret;
}

void api_stop(struct api_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	close(s->fd);
	unlink(s->a->cfg.socket);
	free(s);
}
