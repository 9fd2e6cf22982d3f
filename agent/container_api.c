/* The containers' API routes (/v1/containers...), their JSON and their metrics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent.h"
#include "log.h"
#include "runc.h"
#include "util.h"

#define LOG_CHUNK_MAX (256 * 1024)

/* ---- API ------------------------------------------------------------------------------ */

/* Log bytes from offset (negative: the last -offset bytes), at most LOG_CHUNK_MAX. */
static int container_logs(struct agent *a, const char *name, json_int_t offset, json_t **resp,
			  struct api_error *e)
{
	char path[CONFIG_STR + 256];
	unsigned char *buf;
	struct container c;
	struct stat st;
	ssize_t r = 0;
	int fd;

	if (container_local(a, name, &c, "read its logs", e))
		return -1;
	container_bundle_file(a, name, "log", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	st.st_size = 0;
	if (fd >= 0 && fstat(fd, &st))
		st.st_size = 0;
	if (offset < 0)
		offset = st.st_size + offset > 0 ? st.st_size + offset : 0;
	if (offset > st.st_size)
		offset = st.st_size;
	size_t want = (size_t)(st.st_size - offset) < LOG_CHUNK_MAX ? (size_t)(st.st_size - offset) : LOG_CHUNK_MAX;
	buf = malloc(want + 1);
	if (fd >= 0 && buf && want)
		r = pread(fd, buf, want, offset);
	if (fd >= 0)
		close(fd);
	if (!buf || r < 0) {
		free(buf);
		return api_fail(e, 500, NULL, "cannot read %s: %s", path, strerror(errno));
	}
	*resp = json_pack("{s:s, s:s, s:o, s:I, s:I}", "name", name, "state", c.state,
			  "data", container_log_string(buf, (size_t)r), "offset", (json_int_t)(offset + r),
			  "size", (json_int_t)st.st_size);
	free(buf);
	return 0;
}

static json_t *container_json_for(struct agent *a, const struct container *c)
{
	json_t *j = container_to_json(c);
	char root[CONFIG_STR + 8], dir[CONFIG_STR + 128];

	if (j && !strcmp(c->node, a->cfg.node)) {
		container_runc_root(a, root, sizeof(root));
		container_bundle_dir(a, c->name, dir, sizeof(dir));
		json_object_set_new(j, "runc_root", json_string(root));
		json_object_set_new(j, "bundle", json_string(dir));
	}
	return j;
}

static int list(struct agent *a, json_t **resp, struct api_error *e)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	json_t *arr;
	int ret = store_list(a->store, KEY_CONTAINERS, &kvs, &n, NULL);

	if (ret)
		return api_fail(e, 503, NULL, "cannot read containers: %s", strerror(-ret));
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		struct container c;

		if (container_decode(kvs[i].value, &c)) {
			log_warn("skipping malformed record %s", kvs[i].key);
			continue;
		}
		container_refresh(a, &c);
		json_array_append_new(arr, container_json_for(a, &c));
	}
	store_kvs_free(kvs, n);
	*resp = json_pack("{s:o}", "containers", arr);
	return 200;
}

void container_metrics(struct agent *a, FILE *f)
{
	static const char *states[] = { CT_CREATING, CT_RUNNING, CT_STOPPED, CT_EXITED, CT_ERROR,
					CT_MIGRATING };
	int count[sizeof(states) / sizeof(states[0])] = { 0 };
	struct store_kv *kvs = NULL;
	size_t n = 0;

	if (store_list(a->store, KEY_CONTAINERS, &kvs, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		struct container c;

		if (container_decode(kvs[i].value, &c) || strcmp(c.node, a->cfg.node))
			continue;
		for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++)
			count[s] += !strcmp(c.state, states[s]);
	}
	store_kvs_free(kvs, n);
	fprintf(f, "# HELP petrel_containers Containers on this node, by state.\n");
	fprintf(f, "# TYPE petrel_containers gauge\n");
	for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++)
		fprintf(f, "petrel_containers{node=\"%s\",state=\"%s\"} %d\n", a->cfg.node, states[s], count[s]);
}

static json_int_t body_int(const struct api_request *rq, const char *key, json_int_t def)
{
	json_t *v = rq->body ? json_object_get(rq->body, key) : NULL;

	return json_is_integer(v) ? json_integer_value(v) : def;
}

int container_route(struct agent *a, const struct api_request *rq, json_t **resp,
		    struct api_error *e)
{
	static const char prefix[] = "/v1/containers/";
	char name[EP_NAME_MAX];
	const char *rest, *slash;
	struct container c;
	int ret;

	if (!strcmp(rq->path, "/v1/containers")) {
		if (!strcmp(rq->method, "GET"))
			return list(a, resp, e);
		if (strcmp(rq->method, "POST"))
			return api_fail(e, 405, "use GET or POST", "method %s not allowed on %s",
					rq->method, rq->path);
		if (container_run(a, rq->body, &c, e))
			return -1;
		*resp = container_json_for(a, &c);
		return 201;
	}
	if (strncmp(rq->path, prefix, strlen(prefix)))
		return 0;
	rest = rq->path + strlen(prefix);
	slash = strchr(rest, '/');
	snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - rest) : (int)strlen(rest), rest);
	if (!name_valid(name) || (slash && strchr(slash + 1, '/')))
		return api_fail(e, 400, NULL, "'%s' is not a valid container path", rest);
	if (!slash) {
		if (!strcmp(rq->method, "GET")) {
			ret = container_get(a, name, &c);
			if (ret == -ENOENT && (*resp = podman_container_json(a, name)))
				return 200;
			if (ret == -ENOENT && podman_refusal(a, name, e))
				return -1;      /* Podman's, but not on a petrel network or not running */
			if (ret == -ENOENT)
				return api_fail(e, 404, "see `petrel ps`", "container '%s' does not exist", name);
			if (ret)
				return api_fail(e, 503, NULL, "cannot read container '%s': %s", name, strerror(-ret));
			container_refresh(a, &c);
			*resp = container_json_for(a, &c);
			return 200;
		}
		if (!strcmp(rq->method, "DELETE")) {
			bool force = rq->body && json_is_true(json_object_get(rq->body, "force"));

			if (container_remove(a, name, force, e))
				return -1;
			*resp = json_pack("{s:s}", "deleted", name);
			return 200;
		}
		return api_fail(e, 405, "use GET or DELETE", "method %s not allowed on containers", rq->method);
	}
	if (strcmp(rq->method, "POST") && strcmp(rq->method, "GET"))
		return api_fail(e, 405, "use POST", "method %s not allowed on %s", rq->method, rq->path);
	if (!strcmp(slash, "/logs")) {
		if (container_logs(a, name, body_int(rq, "offset", -(json_int_t)LOG_CHUNK_MAX), resp, e))
			return -1;
		return 200;
	}
	if (!strcmp(slash, "/stop")) {
		json_int_t t = body_int(rq, "timeout", 10);

		if (t < 0 || t > 3600)
			return api_fail(e, 400, NULL, "timeout: %lld is outside 0-3600 seconds", (long long)t);
		if (container_stop(a, name, (int)t, e))
			return -1;
		if ((ret = container_get(a, name, &c)))
			return api_fail(e, 503, NULL, "cannot read container '%s': %s", name, strerror(-ret));
		*resp = container_json_for(a, &c);
		return 200;
	}
	if (!strcmp(slash, "/checkpoint") || !strcmp(slash, "/restore")) {
		const char *dir = rq->body ? json_string_value(json_object_get(rq->body, "image_path")) : NULL;

		if (!dir)
			return api_fail(e, 400, NULL, "image_path: required (a directory for CRIU's images)");
		ret = slash[1] == 'c'
			? container_checkpoint(a, name, dir, json_is_true(json_object_get(rq->body, "leave_running")), e)
			: container_restore(a, name, dir, e);
		if (ret)
			return -1;
		if ((ret = container_get(a, name, &c)))
			return api_fail(e, 503, NULL, "cannot read container '%s': %s", name, strerror(-ret));
		*resp = container_json_for(a, &c);
		return 200;
	}
	return api_fail(e, 404, "see docs/api.md", "no such container action: %s", slash + 1);
}
