/* CNI: environment and config parsing, endpoint naming, results and errors (pure). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "cni.h"

#define GW4 "169.254.1.1"
#define GW6 "fe80::1"

static const char *const supported[] = { "1.0.0", "1.1.0", NULL };

bool cni_version_supported(const char *v)
{
	for (int i = 0; supported[i]; i++)
		if (v && !strcmp(v, supported[i]))
			return true;
	return false;
}

int cni_fail(struct cni_error *e, int code, const char *msg, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	va_start(ap, fmt);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	va_end(ap);
	return -1;
}

static int copy_env(cni_getenv_fn get, const char *name, char *dst, size_t len, bool required,
		    struct cni_error *e)
{
	const char *v = get(name);

	if (!v || !*v) {
		if (required)
			return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment", "%s is not set", name);
		*dst = 0;
		return 0;
	}
	if (strlen(v) >= len)
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment", "%s is too long", name);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int cni_env_parse(cni_getenv_fn get, struct cni_env *env, struct cni_error *e)
{
	bool needs_container;

	memset(env, 0, sizeof(*env));
	if (copy_env(get, "CNI_COMMAND", env->command, sizeof(env->command), true, e))
		return -1;
	if (strcmp(env->command, "ADD") && strcmp(env->command, "DEL") && strcmp(env->command, "CHECK") &&
	    strcmp(env->command, "VERSION") && strcmp(env->command, "STATUS") && strcmp(env->command, "GC"))
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_COMMAND '%s' is not ADD, DEL, CHECK, VERSION, STATUS or GC", env->command);
	needs_container = !strcmp(env->command, "ADD") || !strcmp(env->command, "DEL") ||
			  !strcmp(env->command, "CHECK");
	if (!needs_container)
		return 0;
	if (copy_env(get, "CNI_CONTAINERID", env->container_id, sizeof(env->container_id), true, e) ||
	    copy_env(get, "CNI_IFNAME", env->ifname, sizeof(env->ifname), true, e) ||
	    /* DEL may come after the namespace is gone: CNI_NETNS is optional there. */
	    copy_env(get, "CNI_NETNS", env->netns, sizeof(env->netns), strcmp(env->command, "DEL") != 0, e))
		return -1;
	if (*env->netns && env->netns[0] != '/')
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_NETNS '%s' is not an absolute path", env->netns);
	if (strchr(env->ifname, '/') || strchr(env->ifname, ' '))
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_IFNAME '%s' is not an interface name", env->ifname);
	return 0;
}

static int add_label(struct cni_conf *c, const char *k, const char *v, struct cni_error *e)
{
	if (!ep_label_valid(k, v))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
				"label %s=%s: use A-Z a-z 0-9 . _ / - (under 64 characters)", k, v);
	for (int i = 0; i < c->n_labels; i++) {
		if (!strcmp(c->labels[i].key, k)) {
			snprintf(c->labels[i].value, EP_LABEL_MAX, "%s", v);
			return 0;
		}
	}
	if (c->n_labels >= EP_MAX_LABELS - 2)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", "too many labels");
	snprintf(c->labels[c->n_labels].key, EP_LABEL_MAX, "%s", k);
	snprintf(c->labels[c->n_labels].value, EP_LABEL_MAX, "%s", v);
	c->n_labels++;
	return 0;
}

static int parse_port_mappings(json_t *pm, struct cni_conf *c, struct cni_error *e)
{
	size_t i;
	json_t *m;

	if (!pm)
		return 0;
	if (!json_is_array(pm))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
				"runtimeConfig.portMappings must be an array");
	json_array_foreach(pm, i, m) {
		json_int_t hp = json_integer_value(json_object_get(m, "hostPort"));
		json_int_t cp = json_integer_value(json_object_get(m, "containerPort"));
		const char *proto = json_string_value(json_object_get(m, "protocol"));
		struct ep_publish *p;

		if (c->n_publish >= EP_MAX_PUBLISH)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
					"more than %d port mappings", EP_MAX_PUBLISH);
		if (hp < 1 || hp > 65535 || cp < 1 || cp > 65535)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
					"portMappings[%zu]: ports must be in 1-65535", i);
		p = &c->publish[c->n_publish++];
		p->host_port = (uint16_t)hp;
		p->port = (uint16_t)cp;
		p->proto = IPPROTO_TCP;
		if (proto && ep_proto_parse(proto, &p->proto))
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
					"portMappings[%zu].protocol '%s' is not tcp or udp", i, proto);
	}
	return 0;
}

int cni_conf_parse(const char *text, size_t len, struct cni_conf *c, struct cni_error *e)
{
	json_error_t jerr;
	json_t *j, *v, *labels, *args;
	const char *k;
	size_t i;

	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), CNI_DEFAULT_SOCKET);
	j = json_loadb(text, len, 0, &jerr);
	if (!j)
		return cni_fail(e, CNI_ERR_DECODE, "failed to decode network config",
				"line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return cni_fail(e, CNI_ERR_DECODE, "failed to decode network config", "not a JSON object");
	}
#define BAD(...) do { json_decref(j); cni_conf_free(c); \
	return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", __VA_ARGS__); } while (0)
	v = json_object_get(j, "cniVersion");
	if (!json_is_string(v))
		BAD("cniVersion is missing");
	snprintf(c->version, sizeof(c->version), "%s", json_string_value(v));
	v = json_object_get(j, "name");
	if (!json_is_string(v) || !*json_string_value(v))
		BAD("name is missing");
	snprintf(c->name, sizeof(c->name), "%s", json_string_value(v));
	v = json_object_get(j, "socket");
	if (v) {
		if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
		    strlen(json_string_value(v)) >= 108)
			BAD("socket must be an absolute path to petreld's API socket");
		snprintf(c->socket, sizeof(c->socket), "%s", json_string_value(v));
	}
	labels = json_object_get(j, "labels");
	if (labels && !json_is_object(labels))
		BAD("labels must be an object of strings");
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v))
			BAD("labels.%s must be a string", k);
		if (add_label(c, k, json_string_value(v), e)) {
			json_decref(j);
			return -1;
		}
	}
	/* CNI conventions: args.cni.labels = [{"key": ..., "value": ...}] from the runtime. */
	args = json_object_get(json_object_get(j, "args"), "cni");
	json_array_foreach(json_object_get(args, "labels"), i, v) {
		const char *lk = json_string_value(json_object_get(v, "key"));
		const char *lv = json_string_value(json_object_get(v, "value"));
		if (!lk || !lv)
			BAD("args.cni.labels[%zu] needs key and value strings", i);
		if (add_label(c, lk, lv, e)) {
			json_decref(j);
			return -1;
		}
	}
	if (parse_port_mappings(json_object_get(json_object_get(j, "runtimeConfig"), "portMappings"), c, e)) {
		json_decref(j);
		cni_conf_free(c);
		return -1;
	}
	v = json_object_get(j, "prevResult");
	if (v) {
		if (!json_is_object(v))
			BAD("prevResult must be an object");
		c->prev_result = json_incref(v);
	}
	v = json_object_get(j, "dns");
	c->dns = v && json_is_object(v) ? json_incref(v) : json_object();
	v = json_object_get(j, "cni.dev/valid-attachments");
	if (v) {
		json_t *a;
		if (!json_is_array(v))
			BAD("cni.dev/valid-attachments must be an array");
		c->valid = calloc(json_array_size(v) + 1, sizeof(*c->valid));
		json_array_foreach(v, i, a) {
			const char *id = json_string_value(json_object_get(a, "containerID"));
			const char *ifn = json_string_value(json_object_get(a, "ifname"));
			if (!id || !ifn)
				BAD("cni.dev/valid-attachments[%zu] needs containerID and ifname", i);
			snprintf(c->valid[c->n_valid].container_id, sizeof(c->valid[0].container_id), "%s", id);
			snprintf(c->valid[c->n_valid].ifname, sizeof(c->valid[0].ifname), "%s", ifn);
			c->n_valid++;
		}
	}
#undef BAD
	json_decref(j);
	return 0;
}

void cni_conf_free(struct cni_conf *c)
{
	json_decref(c->prev_result);
	json_decref(c->dns);
	free(c->valid);
	c->prev_result = c->dns = NULL;
	c->valid = NULL;
}

void cni_endpoint_name(const char *container_id, const char *ifname, char out[EP_NAME_MAX])
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a 64 over "id/ifname" */
	const char *parts[3] = { container_id, "/", ifname };

	for (int p = 0; p < 3; p++)
		for (const char *s = parts[p]; *s; s++) {
			h ^= (uint8_t)*s;
			h *= 1099511628211ull;
		}
	snprintf(out, EP_NAME_MAX, "cni-%016llx", (unsigned long long)h);
}

json_t *cni_add_request(const struct cni_conf *c, const struct cni_env *env)
{
	char name[EP_NAME_MAX], cid[33];
	json_t *labels = json_object(), *publish = json_array();
	size_t n = 0;

	cni_endpoint_name(env->container_id, env->ifname, name);
	for (int i = 0; i < c->n_labels; i++)
		json_object_set_new(labels, c->labels[i].key, json_string(c->labels[i].value));
	/* Mark CNI endpoints (for GC) and keep a readable part of the container id. */
	json_object_set_new(labels, "petrel.io/cni", json_string("true"));
	for (const char *s = env->container_id; *s && n < 32; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '.' || *s == '_' || *s == '-')
			cid[n++] = *s;
	cid[n] = 0;
	json_object_set_new(labels, "petrel.io/container", json_string(cid));
	for (int i = 0; i < c->n_publish; i++)
		json_array_append_new(publish, json_pack("{s:i, s:i, s:s}", "host_port", c->publish[i].host_port,
							 "port", c->publish[i].port,
							 "proto", ep_proto_str(c->publish[i].proto)));
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", name, "netns", env->netns,
			 "ifname", env->ifname, "labels", labels, "publish", publish);
}

json_t *cni_result(const struct cni_conf *c, const struct cni_env *env, json_t *ep)
{
	const char *ip4 = json_string_value(json_object_get(ep, "ipv4"));
	const char *ip6 = json_string_value(json_object_get(ep, "ipv6"));
	const char *mac = json_string_value(json_object_get(ep, "mac"));
	json_t *ips = json_array(), *routes = json_array();
	char buf[64];

	if (ip4 && *ip4) {
		snprintf(buf, sizeof(buf), "%s/32", ip4);
		json_array_append_new(ips, json_pack("{s:s, s:s, s:i}", "address", buf, "gateway", GW4,
						     "interface", 0));
		json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", "0.0.0.0/0", "gw", GW4));
	}
	if (ip6 && *ip6) {
		snprintf(buf, sizeof(buf), "%s/128", ip6);
		json_array_append_new(ips, json_pack("{s:s, s:s, s:i}", "address", buf, "gateway", GW6,
						     "interface", 0));
		json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", "::/0", "gw", GW6));
	}
	return json_pack("{s:s, s:[{s:s, s:s, s:s}], s:o, s:o, s:O}", "cniVersion", c->version,
			 "interfaces", "name", env->ifname, "mac", mac ? mac : "", "sandbox", env->netns,
			 "ips", ips, "routes", routes, "dns", c->dns ? c->dns : json_object());
}

json_t *cni_error_json(const char *version, const struct cni_error *e)
{
	json_t *j = json_pack("{s:s, s:i, s:s}", "cniVersion", version && *version ? version : "1.1.0",
			      "code", e->code, "msg", e->msg);

	if (*e->details)
		json_object_set_new(j, "details", json_string(e->details));
	return j;
}
