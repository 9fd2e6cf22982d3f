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

static enum MHD_Result get_endpoints(struct agent *a, struct MHD_Connection *c)
{
	struct endpoint *eps = NULL;
	size_t n = 0;
	json_t *arr;
	int ret;

	ret = cluster_endpoints(a, &eps, &n);
	if (ret)
		return fail(c, 503, NULL, "cannot read endpoints: %s", strerror(-ret));
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, endpoint_json_with_counters(a, &eps[i]));
	free(eps);
	return send_json(c, 200, json_pack("{s:o}", "endpoints", arr));
}

static enum MHD_Result post_endpoint(struct agent *a, struct MHD_Connection *c,
				     const struct request *rq)
{
	struct ep_request req;
	struct endpoint ep;
	struct api_error e = { 0 };
	json_error_t jerr;
	char msg[512];
	json_t *body;
	int ret;

	body = json_loadb(rq->body ? rq->body : "", rq->len, 0, &jerr);
	if (!body) {
		snprintf(msg, sizeof(msg), "malformed JSON body: %s (line %d, column %d)",
			 jerr.text, jerr.line, jerr.column);
		return fail(c, 400, NULL, "%s", msg);
	}
	ret = ep_request_parse(body, &req, msg, sizeof(msg));
	json_decref(body);
	if (ret)
		return fail(c, 400, NULL, "invalid endpoint request: %s", msg);
	if (endpoint_create(a, &req, &ep, &e))
		return send_error(c, &e);
	return send_json(c, 201, endpoint_json_with_counters(a, &ep));
}

static enum MHD_Result route(struct agent *a, struct MHD_Connection *c, const char *method,
			     const char *url, const struct request *rq)
{
	static const char ep_prefix[] = "/v1/endpoints/";
	struct api_error e = { 0 };
	struct endpoint ep;
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	bool del = !strcmp(method, "DELETE");
	json_t *j;
	int ret;

	if (rq->too_large)
		return fail(c, 413, NULL, "request body larger than %s", "1 MiB");
	if (!strcmp(url, "/v1/node") && get) {
		if (node_status_json(a, &j))
			return fail(c, 500, NULL, "cannot build node status%s", "");
		return send_json(c, 200, j);
	}
	if (!strcmp(url, "/v1/endpoints")) {
		if (get)
			return get_endpoints(a, c);
		if (post)
			return post_endpoint(a, c, rq);
		return fail(c, 405, "use GET or POST", "method %s not allowed on /v1/endpoints", method);
	}
	if (!strncmp(url, ep_prefix, strlen(ep_prefix))) {
		const char *name = url + strlen(ep_prefix);

		if (!name_valid(name))
			return fail(c, 400, NULL, "'%s' is not a valid endpoint name", name);
		if (get) {
			ret = cluster_endpoint_get(a, name, &ep);
			if (ret == -ENOENT)
				return fail(c, 404, "see `petrel endpoint list`",
					    "endpoint '%s' does not exist", name);
			if (ret)
				return fail(c, 503, NULL, "cannot read endpoint: %s", strerror(-ret));
			return send_json(c, 200, endpoint_json_with_counters(a, &ep));
		}
		if (del) {
			if (endpoint_delete(a, name, &e))
				return send_error(c, &e);
			return send_json(c, 200, json_pack("{s:s}", "deleted", name));
		}
		return fail(c, 405, "use GET or DELETE", "method %s not allowed on endpoints", method);
	}
	if (!strcmp(url, "/metrics") && get) {
		char *text = metrics_prometheus(a);

		if (!text)
			return fail(c, 500, NULL, "cannot build metrics%s", "");
		return send_text(c, 200, text, "text/plain; version=0.0.4");
	}
	return fail(c, 404, "see docs/api.md", "no such API path: %s", url);
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
		if (rq->len + *size > MAX_BODY) {
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
	pthread_mutex_lock(&s->a->lock);
	ret = route(s->a, c, method, url, rq);
	pthread_mutex_unlock(&s->a->lock);
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
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
				handler, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
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
