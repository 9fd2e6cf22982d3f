/* Container model: JSON codec and `run` request validation (pure; agent, CLI, migration). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "container.h"
#include "config.h"
#include "util.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

bool container_env_valid(const char *s)
{
	const char *eq = s ? strchr(s, '=') : NULL;

	if (!eq || eq == s || strlen(s) >= CT_ARG_MAX)
		return false;
	for (const char *p = s; p < eq; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(p > s && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

bool container_path_valid(const char *s)
{
	if (!s || s[0] != '/' || strlen(s) >= CT_PATH_MAX)
		return false;
	if (strpbrk(s, ",:\\ \t\n\r"))
		return false;
	for (const char *p = s; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == 0))
			return false;
	return true;
}

bool container_image_ref_valid(const char *s)
{
	if (!s || !*s || strlen(s) >= CT_PATH_MAX || *s == '-')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ',' || *p == 0x7f)
			return false;
	return true;
}

bool container_rootfs_valid(const char *s)
{
	static const char *host[] = { "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib",
				      "/lib32", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin",
				      "/srv", "/sys", "/tmp", "/usr", "/var", NULL };
	char trimmed[CT_PATH_MAX];
	size_t n;

	if (!container_path_valid(s))
		return false;
	snprintf(trimmed, sizeof(trimmed), "%s", s);
	while ((n = strlen(trimmed)) > 1 && trimmed[n - 1] == '/')
		trimmed[n - 1] = 0;
	for (int i = 0; host[i]; i++)
		if (!strcmp(trimmed, host[i]) || strstr(trimmed, "//"))
			return false;
	return true;
}

bool container_state_valid(const char *s)
{
	static const char *states[] = { CT_CREATING, CT_RUNNING, CT_STOPPED, CT_EXITED, CT_ERROR,
					CT_MIGRATING, NULL };

	for (int i = 0; s && states[i]; i++)
		if (!strcmp(s, states[i]))
			return true;
	return false;
}

/* An array of strings into fixed slots; `what` names the field in errors. */
static int parse_strings(json_t *arr, char out[][CT_ARG_MAX], int *n, const char *what,
			 bool env, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		FAIL("%s: must be an array of strings", what);
	if (json_array_size(arr) > CT_MAX_ARGS)
		FAIL("%s: more than %d entries", what, CT_MAX_ARGS);
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (!s)
			FAIL("%s[%zu]: must be a string", what, i);
		if (strlen(s) >= CT_ARG_MAX)
			FAIL("%s[%zu]: longer than %d bytes", what, i, CT_ARG_MAX - 1);
		if (env && !container_env_valid(s))
			FAIL("%s[%zu]: '%s' is not KEY=VALUE with KEY of letters, digits and '_'", what, i, s);
		if (!env && i == 0 && !*s)
			FAIL("%s[0]: the program must not be empty", what);
		memcpy(out[i], s, strlen(s) + 1);
	}
	*n = (int)json_array_size(arr);
	return 0;
}

/* Labels and publish go through the endpoint request validator: one set of rules. */
static int parse_network(json_t *obj, struct container *c, char *err, size_t errlen)
{
	struct ep_request req;
	char msg[256];
	json_t *sub = json_pack("{s:s}", "name", c->name);
	int ret;

	if (!sub)
		FAIL("out of memory");
	if (json_object_get(obj, "labels"))
		json_object_set(sub, "labels", json_object_get(obj, "labels"));
	if (json_object_get(obj, "publish"))
		json_object_set(sub, "publish", json_object_get(obj, "publish"));
	ret = ep_request_parse(sub, &req, msg, sizeof(msg));
	json_decref(sub);
	if (ret)
		FAIL("%s", msg);
	c->n_labels = req.n_labels;
	memcpy(c->labels, req.labels, sizeof(req.labels));
	c->n_publish = req.n_publish;
	memcpy(c->publish, req.publish, sizeof(req.publish));
	return 0;
}

static int parse_memory(json_t *v, uint64_t *out, char *err, size_t errlen)
{
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		FAIL("memory: must be a number of bytes (0: no limit)");
	if (json_integer_value(v) && json_integer_value(v) < 4 << 20)
		FAIL("memory: %lld bytes is below the 4 MiB minimum", (long long)json_integer_value(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int container_request_parse(json_t *body, struct container *c, char *err, size_t errlen)
{
	static const char *known[] = { "name", "rootfs", "image", "cmd", "env", "labels", "publish",
				       "memory", NULL };
	const char *k, *s;
	json_t *v;
	int ret;

	memset(c, 0, sizeof(*c));
	c->exit_code = -1;
	snprintf(c->state, sizeof(c->state), CT_CREATING);
	if (!json_is_object(body))
		FAIL("request body must be a JSON object");
	json_object_foreach(body, k, v) {
		bool ok = false;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok)
			FAIL("%s: unknown field", k);
	}
	s = json_string_value(json_object_get(body, "name"));
	if (!s)
		FAIL("name: required string");
	if (!name_valid(s))
		FAIL("name: '%s' is invalid (use a-z, 0-9 and '-', start with a letter or digit, at most 63 chars)", s);
	snprintf(c->name, sizeof(c->name), "%s", s);
	s = json_string_value(json_object_get(body, "image"));
	if (s && json_object_get(body, "rootfs"))
		FAIL("image: give an image or a rootfs, not both");
	if (s && !container_image_ref_valid(s))
		FAIL("image: '%s' is not an image reference (oci:DIR[:TAG], or a name in containers-storage)", s);
	if (s)
		snprintf(c->image, sizeof(c->image), "%s", s);
	s = json_string_value(json_object_get(body, "rootfs"));
	if (!s && !*c->image)
		FAIL("rootfs: required string (a directory), unless an image is given");
	if (s && !container_rootfs_valid(s))
		FAIL("rootfs: '%s' must be an absolute path without '..', ',', ':' or spaces, and not / "
		     "or a top-level directory of the host", s);
	if (s)
		snprintf(c->rootfs, sizeof(c->rootfs), "%s", s);
	if (!json_object_get(body, "cmd") && !*c->image)
		FAIL("cmd: required (the program and its arguments)");
	if ((ret = parse_strings(json_object_get(body, "cmd"), c->cmd, &c->n_cmd, "cmd", false, err, errlen)))
		return ret;
	if (!c->n_cmd && !*c->image)
		FAIL("cmd: must name a program");
	if ((ret = parse_strings(json_object_get(body, "env"), c->env, &c->n_env, "env", true, err, errlen)))
		return ret;
	if ((ret = parse_memory(json_object_get(body, "memory"), &c->memory, err, errlen)))
		return ret;
	return parse_network(body, c, err, errlen);
}

static json_t *strings_json(const char (*arr)[CT_ARG_MAX], int n)
{
	json_t *j = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(j, json_string(arr[i]));
	return j;
}

json_t *container_to_json(const struct container *c)
{
	char b4[IP_STRLEN], b6[IP_STRLEN];
	json_t *labels = ep_labels_json(c->labels, c->n_labels);
	json_t *publish = ep_publish_json(c->publish, c->n_publish);

	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:I, s:s, s:s, s:I, s:i}",
			 "name", c->name, "node", c->node, "state", c->state, "pid", c->pid,
			 "rootfs", c->rootfs, "image", c->image, "image_id", c->image_id, "cwd", c->cwd,
			 "uid", (json_int_t)c->uid, "gid", (json_int_t)c->gid, "netns", c->netns,
			 "cmd", strings_json(c->cmd, c->n_cmd),
			 "env", strings_json(c->env, c->n_env),
			 "labels", labels, "publish", publish,
			 "memory", (json_int_t)c->memory,
			 "ipv4", c->ip4.family ? ip_str(&c->ip4, b4) : "",
			 "ipv6", c->ip6.family ? ip_str(&c->ip6, b6) : "",
			 "created", (json_int_t)c->created, "exit_code", c->exit_code);
}

static int copy_str(json_t *obj, const char *key, char *dst, size_t len, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return required ? -EINVAL : 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= len)
		return -EINVAL;
	memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
	return 0;
}

static int get_int(json_t *obj, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -EINVAL;
	*out = json_integer_value(v);
	return 0;
}

int container_from_json(json_t *obj, struct container *c)
{
	char tmp[IP_STRLEN] = "", err[256];
	json_int_t pid = 0, created = 0, code = -1, memory = 0, uid = 0, gid = 0;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(obj))
		return -EINVAL;
	if (copy_str(obj, "name", c->name, sizeof(c->name), true) || !name_valid(c->name) ||
	    copy_str(obj, "node", c->node, sizeof(c->node), true) ||
	    copy_str(obj, "state", c->state, sizeof(c->state), true) ||
	    !container_state_valid(c->state) ||
	    copy_str(obj, "rootfs", c->rootfs, sizeof(c->rootfs), false) ||
	    copy_str(obj, "image", c->image, sizeof(c->image), false) ||
	    copy_str(obj, "image_id", c->image_id, sizeof(c->image_id), false) ||
	    copy_str(obj, "cwd", c->cwd, sizeof(c->cwd), false) ||
	    copy_str(obj, "netns", c->netns, sizeof(c->netns), false))
		return -EINVAL;
	if ((*c->image && !container_image_ref_valid(c->image)) || (*c->cwd && !container_path_valid(c->cwd)) ||
	    get_int(obj, "uid", 0, UINT32_MAX, &uid) || get_int(obj, "gid", 0, UINT32_MAX, &gid))
		return -EINVAL;
	c->uid = (uint32_t)uid;
	c->gid = (uint32_t)gid;
	if (get_int(obj, "pid", 0, INT32_MAX, &pid) || get_int(obj, "created", 0, INT64_MAX, &created) ||
	    get_int(obj, "exit_code", -1, 255 + 128, &code) || get_int(obj, "memory", 0, INT64_MAX, &memory))
		return -EINVAL;
	c->pid = (int)pid;
	c->created = created;
	c->exit_code = (int)code;
	c->memory = (uint64_t)memory;
	if (!copy_str(obj, "ipv4", tmp, sizeof(tmp), false) && *tmp &&
	    (ip_parse(tmp, &c->ip4) || c->ip4.family != AF_INET))
		return -EINVAL;
	*tmp = 0;
	if (!copy_str(obj, "ipv6", tmp, sizeof(tmp), false) && *tmp &&
	    (ip_parse(tmp, &c->ip6) || c->ip6.family != AF_INET6))
		return -EINVAL;
	if (parse_strings(json_object_get(obj, "cmd"), c->cmd, &c->n_cmd, "cmd", false, err, sizeof(err)) ||
	    parse_strings(json_object_get(obj, "env"), c->env, &c->n_env, "env", true, err, sizeof(err)) ||
	    parse_network(obj, c, err, sizeof(err)))
		return -EINVAL;
	return 0;
}

char *container_encode(const struct container *c)
{
	json_t *j = container_to_json(c);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	return s;
}

int container_decode(const char *text, struct container *c)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	if (!j)
		return -EINVAL;
	ret = container_from_json(j, c);
	json_decref(j);
	return ret;
}

/* Log bytes as a JSON string: invalid UTF-8 becomes U+FFFD. */
json_t *container_log_string(const void *data, size_t n)
{
	const unsigned char *s = data;
	struct growbuf b = { 0 };
	json_t *j;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool ok = len && i + len <= n && c != 0;

		for (size_t k = 1; ok && k < len; k++)
			ok = (s[i + k] & 0xc0) == 0x80;
		if (ok && len == 2)
			ok = c >= 0xc2;
		if (ok && len == 3)
			ok = !(c == 0xe0 && s[i + 1] < 0xa0) && !(c == 0xed && s[i + 1] >= 0xa0);
		if (ok && len == 4)
			ok = c <= 0xf4 && !(c == 0xf0 && s[i + 1] < 0x90) && !(c == 0xf4 && s[i + 1] >= 0x90);
		if (ok) {
			growbuf_append(&b, s + i, len);
			i += len;
		} else {
			growbuf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	j = json_stringn(b.data ? b.data : "", b.len);
	free(b.data);
	return j;
}
