/* CNI: environment and config parsing, endpoint naming, results, CHECK's verdict and GC's
 * selection. Pure code: the plugin (cni/) does the I/O around it. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include "cni.h"

static const char *const supported[] = { "1.0.0", "1.1.0", NULL };

bool cni_version_supported(const char *v)
{
	for (int i = 0; supported[i]; i++)
		if (v && !strcmp(v, supported[i]))
			return true;
	return false;
}

int cni_version_cmp(const char *a, const char *b)
{
	for (int i = 0; i < 3; i++) {
		unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);

		if (x != y)
			return x < y ? -1 : 1;
		a += *a == '.';
		b += *b == '.';
	}
	return 0;
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

/* The reference libraries' rule for network names and container ids. */
static bool id_valid(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (p == s || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

static bool ifname_valid(const char *s)
{
	if (!*s || strlen(s) > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ' || *p == '\t' || *p == '\n')
			return false;
	return true;
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
	static const char *const commands[] = { "ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC", NULL };
	bool known = false, needs_container;

	memset(env, 0, sizeof(*env));
	if (copy_env(get, "CNI_COMMAND", env->command, sizeof(env->command), true, e))
		return -1;
	for (int i = 0; commands[i]; i++)
		known |= !strcmp(env->command, commands[i]);
	if (!known)
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_COMMAND '%s' is not ADD, DEL, CHECK, VERSION, STATUS or GC", env->command);
	needs_container = !strcmp(env->command, "ADD") || !strcmp(env->command, "DEL") ||
			  !strcmp(env->command, "CHECK");
	if (!needs_container)
		return 0;
	if (copy_env(get, "CNI_CONTAINERID", env->container_id, sizeof(env->container_id), true, e) ||
	    copy_env(get, "CNI_IFNAME", env->ifname, sizeof(env->ifname), true, e) ||
	    /* DEL may come after the namespace is gone: CNI_NETNS is optional there. */
	    copy_env(get, "CNI_NETNS", env->netns, sizeof(env->netns), strcmp(env->command, "DEL") != 0, e) ||
	    copy_env(get, "CNI_ARGS", env->args, sizeof(env->args), false, e))
		return -1;
	if (!id_valid(env->container_id))
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_CONTAINERID '%s': use letters, digits, '_', '.' and '-', starting with a letter or digit",
				env->container_id);
	if (*env->netns && env->netns[0] != '/')
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_NETNS '%s' is not an absolute path", env->netns);
	if (!ifname_valid(env->ifname))
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
				"CNI_IFNAME '%s' is not an interface name", env->ifname);
	return 0;
}

/* Room is kept for the three labels every CNI endpoint gets (cni_add_request). */
static int add_label(struct cni_conf *c, const char *k, const char *v, int code, struct cni_error *e)
{
	if (!ep_label_valid(k, v))
		return cni_fail(e, code, code == CNI_ERR_INVALID_ENV ? "invalid environment" : "invalid network config",
				"label %s=%s: use A-Z a-z 0-9 . _ / - (under 64 characters)", k, v);
	for (int i = 0; i < c->n_labels; i++) {
		if (!strcmp(c->labels[i].key, k)) {
			snprintf(c->labels[i].value, EP_LABEL_MAX, "%s", v);
			return 0;
		}
	}
	if (c->n_labels >= EP_MAX_LABELS - 3)
		return cni_fail(e, code, "invalid network config", "more than %d labels", EP_MAX_LABELS - 3);
	snprintf(c->labels[c->n_labels].key, EP_LABEL_MAX, "%s", k);
	snprintf(c->labels[c->n_labels].value, EP_LABEL_MAX, "%s", v);
	c->n_labels++;
	return 0;
}

/* Labels as an object {"k": "v"} or, per the CNI conventions, [{"key": k, "value": v}]. */
static int parse_labels(json_t *l, const char *where, struct cni_conf *c, struct cni_error *e)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!l)
		return 0;
	if (json_is_object(l)) {
		json_object_foreach(l, k, v) {
			if (!json_is_string(v))
				return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
						"%s.%s must be a string", where, k);
			if (add_label(c, k, json_string_value(v), CNI_ERR_INVALID_CONFIG, e))
				return -1;
		}
		return 0;
	}
	if (!json_is_array(l))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
				"%s must be an object of strings or a list of {key, value}", where);
	json_array_foreach(l, i, v) {
		const char *lk = json_string_value(json_object_get(v, "key"));
		const char *lv = json_string_value(json_object_get(v, "value"));

		if (!lk || !lv)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
					"%s[%zu] needs key and value strings", where, i);
		if (add_label(c, lk, lv, CNI_ERR_INVALID_CONFIG, e))
			return -1;
	}
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

static int parse_valid_attachments(json_t *v, struct cni_conf *c, struct cni_error *e)
{
	json_t *a;
	size_t i;

	if (!v)
		return 0;
	if (!json_is_array(v))
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
				"cni.dev/valid-attachments must be an array");
	c->has_valid = true;
	c->valid = calloc(json_array_size(v) + 1, sizeof(*c->valid));
	if (!c->valid)
		return cni_fail(e, CNI_ERR_IO, "out of memory", "%zu valid attachments", json_array_size(v));
	json_array_foreach(v, i, a) {
		const char *id = json_string_value(json_object_get(a, "containerID"));
		const char *ifn = json_string_value(json_object_get(a, "ifname"));

		if (!id || !ifn)
			return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
					"cni.dev/valid-attachments[%zu] needs containerID and ifname", i);
		snprintf(c->valid[c->n_valid].container_id, sizeof(c->valid[0].container_id), "%s", id);
		snprintf(c->valid[c->n_valid].ifname, sizeof(c->valid[0].ifname), "%s", ifn);
		c->n_valid++;
	}
	return 0;
}

/* One address the runtime asks for ("10.244.0.2" or "10.244.0.2/32"), by its family. */
static int want_ip(struct cni_conf *c, const char *s, int code, struct cni_error *e)
{
	char buf[IP_STRLEN + 8];
	struct ip_addr ip;

	snprintf(buf, sizeof(buf), "%s", s);
	buf[strcspn(buf, "/")] = 0;
	if (ip_parse(buf, &ip))
		return cni_fail(e, code, "invalid address", "'%s' is not an IP address", s);
	if (ip.family == AF_INET)
		c->want4 = ip;
	else
		c->want6 = ip;
	return 0;
}

static int parse_ips(json_t *ips, struct cni_conf *c, struct cni_error *e)
{
	size_t i;
	json_t *v;

	if (!ips)
		return 0;
	if (!json_is_array(ips) || json_array_size(ips) > 2)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
				"runtimeConfig.ips must be an array of at most two addresses");
	json_array_foreach(ips, i, v)
		if (!json_is_string(v) || want_ip(c, json_string_value(v), CNI_ERR_INVALID_CONFIG, e))
			return -1;
	return 0;
}

static int parse_conf(json_t *j, struct cni_conf *c, struct cni_error *e)
{
	json_t *v, *args = json_object_get(j, "args"), *rc = json_object_get(j, "runtimeConfig");

#define BAD(...) return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", __VA_ARGS__)
	v = json_object_get(j, "cniVersion");
	if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(c->version))
		BAD("cniVersion is missing");
	snprintf(c->version, sizeof(c->version), "%s", json_string_value(v));
	v = json_object_get(j, "name");
	if (!json_is_string(v) || !*json_string_value(v))
		BAD("name is missing");
	if (strlen(json_string_value(v)) >= sizeof(c->name) || !id_valid(json_string_value(v)))
		BAD("name '%.64s': use letters, digits, '_', '.' and '-', starting with a letter or digit",
		    json_string_value(v));
	snprintf(c->name, sizeof(c->name), "%s", json_string_value(v));
	v = json_object_get(j, "socket");
	if (v) {
		if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
		    strlen(json_string_value(v)) >= 108)
			BAD("socket must be an absolute path to petreld's API socket");
		snprintf(c->socket, sizeof(c->socket), "%s", json_string_value(v));
	}
	if (args && !json_is_object(args))
		args = NULL;                /* the spec lets plugins ignore args they do not understand */
	if (rc && !json_is_object(rc))
		BAD("runtimeConfig must be an object");
	/* Later sources override earlier ones: network config, then runtime args. */
	if (parse_labels(json_object_get(j, "labels"), "labels", c, e) ||
	    parse_labels(json_object_get(args, "labels"), "args.labels", c, e) ||
	    parse_labels(json_object_get(json_object_get(args, "cni"), "labels"), "args.cni.labels", c, e) ||
	    parse_labels(json_object_get(rc, "labels"), "runtimeConfig.labels", c, e) ||
	    parse_port_mappings(json_object_get(rc, "portMappings"), c, e) ||
	    parse_ips(json_object_get(rc, "ips"), c, e))
		return -1;
	v = json_object_get(j, "prevResult");
	if (v) {
		if (!json_is_object(v))
			BAD("prevResult must be an object");
		c->prev_result = json_incref(v);
	}
	v = json_object_get(j, "dns");
	if (v && !json_is_object(v))
		BAD("dns must be an object");
	c->dns = v ? json_incref(v) : json_object();
	return parse_valid_attachments(json_object_get(j, "cni.dev/valid-attachments"), c, e);
#undef BAD
}

int cni_conf_parse(const char *text, size_t len, struct cni_conf *c, struct cni_error *e)
{
	json_error_t jerr;
	json_t *j;
	int ret;

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
	ret = parse_conf(j, c, e);
	json_decref(j);
	if (ret)
		cni_conf_free(c);
	return ret;
}

int cni_conf_apply_args(struct cni_conf *c, const char *cni_args, struct cni_error *e)
{
	static const char *const k8s[][2] = {
		{ "K8S_POD_NAMESPACE", "io.kubernetes.pod.namespace" },
		{ "K8S_POD_NAME", "io.kubernetes.pod.name" },
	};
	char buf[1024], *save = NULL, *pair;

	snprintf(buf, sizeof(buf), "%s", cni_args ? cni_args : "");
	for (pair = strtok_r(buf, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(pair, '=');

		if (!eq || eq == pair)
			return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment",
					"CNI_ARGS: '%s' is not KEY=VALUE", pair);
		*eq = 0;
		if (!strcmp(pair, "IP") && eq[1] && want_ip(c, eq + 1, CNI_ERR_INVALID_ENV, e))
			return -1;
		/* Other keys (IgnoreUnknown, K8S_POD_INFRA_CONTAINER_ID, MAC: petrel's MAC follows
		 * from the endpoint's name, ...) mean nothing to petrel. */
		for (size_t i = 0; i < sizeof(k8s) / sizeof(k8s[0]); i++)
			if (!strcmp(pair, k8s[i][0]) && eq[1] &&
			    add_label(c, k8s[i][1], eq + 1, CNI_ERR_INVALID_ENV, e))
				return -1;
	}
	return 0;
}

void cni_conf_free(struct cni_conf *c)
{
	json_decref(c->prev_result);
	json_decref(c->dns);
	free(c->valid);
	c->prev_result = c->dns = NULL;
	c->valid = NULL;
	c->n_valid = 0;
}

void cni_endpoint_name(const char *network, const char *container_id, const char *ifname,
		       char out[EP_NAME_MAX])
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a 64 over "network/id/ifname" */
	const char *parts[5] = { network, "/", container_id, "/", ifname };

	for (int p = 0; p < 5; p++)
		for (const char *s = parts[p]; *s; s++) {
			h ^= (uint8_t)*s;
			h *= 1099511628211ull;
		}
	snprintf(out, EP_NAME_MAX, "cni-%016llx", (unsigned long long)h);
}

json_t *cni_add_request(const struct cni_conf *c, const struct cni_env *env)
{
	char name[EP_NAME_MAX], net[EP_LABEL_MAX], cid[33];
	json_t *labels = json_object(), *publish = json_array();
	size_t n = 0;

	cni_endpoint_name(c->name, env->container_id, env->ifname, name);
	for (int i = 0; i < c->n_labels; i++)
		json_object_set_new(labels, c->labels[i].key, json_string(c->labels[i].value));
	/* Mark CNI endpoints with their network (for GC) and a readable part of the container id
	 * (container ids are already restricted to label-safe characters). */
	json_object_set_new(labels, CNI_LABEL_MARK, json_string("true"));
	snprintf(net, sizeof(net), "%s", c->name);
	json_object_set_new(labels, CNI_LABEL_NETWORK, json_string(net));
	for (const char *s = env->container_id; *s && n < 32; s++)
		cid[n++] = *s;
	cid[n] = 0;
	json_object_set_new(labels, CNI_LABEL_CONTAINER, json_string(cid));
	for (int i = 0; i < c->n_publish; i++)
		json_array_append_new(publish, json_pack("{s:i, s:i, s:s}", "host_port", c->publish[i].host_port,
							 "port", c->publish[i].port,
							 "proto", ep_proto_str(c->publish[i].proto)));
	json_t *req = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", name, "netns", env->netns,
				"ifname", env->ifname, "labels", labels, "publish", publish);
	char b[IP_STRLEN];

	if (c->want4.family)
		json_object_set_new(req, "ipv4", json_string(ip_str(&c->want4, b)));
	if (c->want6.family)
		json_object_set_new(req, "ipv6", json_string(ip_str(&c->want6, b)));
	return req;
}

static const char *mac_fmt(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static bool mac_zero(const uint8_t m[6])
{
	static const uint8_t zero[6];

	return !memcmp(m, zero, 6);
}

static json_t *array_copy(json_t *prev, const char *key)
{
	json_t *a = json_object_get(prev, key);

	return json_is_array(a) ? json_deep_copy(a) : json_array();
}

json_t *cni_result(const struct cni_conf *c, const struct cni_env *env, const struct endpoint *ep,
		   struct cni_error *e)
{
	const struct ip_addr *ips[2] = { &ep->ip4, &ep->ip6 };
	const char *gws[2] = { CNI_GW4, CNI_GW6 }, *defaults[2] = { "0.0.0.0/0", "::/0" };
	int plen[2] = { 32, 128 };
	json_t *ifaces, *res_ips, *routes, *dns;
	char mac[18], buf[CIDR_STRLEN];
	size_t idx;

	if (ep->ip4.family != AF_INET || mac_zero(ep->mac)) {
		cni_fail(e, CNI_ERR_PLUGIN, "petrel's endpoint is incomplete",
			 "endpoint %s has no IPv4 address or no MAC", ep->name);
		return NULL;
	}
	/* An earlier plugin's result is kept and ours appended (the spec's chaining rule). */
	ifaces = array_copy(c->prev_result, "interfaces");
	res_ips = array_copy(c->prev_result, "ips");
	routes = array_copy(c->prev_result, "routes");
	idx = json_array_size(ifaces);
	json_array_append_new(ifaces, json_pack("{s:s, s:s, s:s}", "name", env->ifname,
						"mac", mac_fmt(ep->mac, mac), "sandbox", env->netns));
	for (int i = 0; i < 2; i++) {
		char a[IP_STRLEN];

		if (!ips[i]->family)
			continue;
		snprintf(buf, sizeof(buf), "%s/%d", ip_str(ips[i], a), plen[i]);
		json_array_append_new(res_ips, json_pack("{s:s, s:s, s:I}", "address", buf, "gateway", gws[i],
							 "interface", (json_int_t)idx));
		json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", defaults[i], "gw", gws[i]));
	}
	dns = json_object_size(c->dns) || !json_is_object(json_object_get(c->prev_result, "dns")) ?
	      json_incref(c->dns ? c->dns : json_object()) :
	      json_deep_copy(json_object_get(c->prev_result, "dns"));
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "cniVersion", c->version, "interfaces", ifaces,
			 "ips", res_ips, "routes", routes, "dns", dns);
}

static bool cidr_same(const struct cidr *a, const struct cidr *b)
{
	return a->prefixlen == b->prefixlen && ip_equal(&a->addr, &b->addr);
}

static bool ns_has_addr(const struct cni_ns_state *st, const struct cidr *a)
{
	for (int i = 0; i < st->n_addrs; i++)
		if (cidr_same(&st->addrs[i], a))
			return true;
	return false;
}

static bool ns_has_route(const struct cni_ns_state *st, const struct cidr *dst, const struct ip_addr *gw)
{
	for (int i = 0; i < st->n_routes; i++)
		if (cidr_same(&st->routes[i].dst, dst) &&
		    (gw ? ip_equal(&st->routes[i].gw, gw) : !st->routes[i].gw.family))
			return true;
	return false;
}

/* Our interface in prevResult: named CNI_IFNAME, in this sandbox. -1 if absent. */
static int prev_iface(json_t *prev, const struct cni_env *env)
{
	json_t *ifc;
	size_t i;

	json_array_foreach(json_object_get(prev, "interfaces"), i, ifc) {
		const char *n = json_string_value(json_object_get(ifc, "name"));
		const char *sb = json_string_value(json_object_get(ifc, "sandbox"));

		if (n && !strcmp(n, env->ifname) && sb && !strcmp(sb, env->netns))
			return (int)i;
	}
	return -1;
}

int cni_check(const struct cni_conf *c, const struct cni_env *env, const struct endpoint *ep,
	      const struct cni_ns_state *st, struct cni_error *e)
{
	const struct ip_addr *ips[2] = { &ep->ip4, &ep->ip6 };
	const char *gws[2] = { CNI_GW4, CNI_GW6 };
	struct cidr want[2] = { 0 }, def[2] = { 0 };
	struct ip_addr gw[2];
	char a[CIDR_STRLEN], b[18], m[18];
	json_t *v, *prev = c->prev_result;
	int idx;
	size_t i;

#define DIFF(...) return cni_fail(e, CNI_ERR_CHECK, "container networking is not as petrel set it up", __VA_ARGS__)
	if (!prev)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", "CHECK needs prevResult");
	for (int k = 0; k < 2; k++) {
		want[k].addr = *ips[k];
		want[k].prefixlen = k ? 128 : 32;
		def[k].addr.family = k ? AF_INET6 : AF_INET;
		ip_parse(gws[k], &gw[k]);
	}
	/* prevResult: the interface we reported, with the endpoint's MAC and addresses. */
	idx = prev_iface(prev, env);
	if (idx < 0)
		DIFF("prevResult lists no interface %s in %s", env->ifname, env->netns);
	v = json_array_get(json_object_get(prev, "interfaces"), (size_t)idx);
	if (json_string_value(json_object_get(v, "mac")) &&
	    strcasecmp(json_string_value(json_object_get(v, "mac")), mac_fmt(ep->mac, m)))
		DIFF("prevResult has MAC %s for %s, petrel's endpoint %s has %s",
		     json_string_value(json_object_get(v, "mac")), env->ifname, ep->name, m);
	json_array_foreach(json_object_get(prev, "ips"), i, v) {
		json_t *ifi = json_object_get(v, "interface");
		const char *s = json_string_value(json_object_get(v, "address"));
		struct cidr have;

		if (ifi && json_integer_value(ifi) != idx)
			continue;
		if (!s || cidr_parse(s, &have))
			DIFF("prevResult ips[%zu] has no valid address", i);
		if (!(ips[0]->family && cidr_same(&have, &want[0])) && !(ips[1]->family && cidr_same(&have, &want[1])))
			DIFF("prevResult address %s is not petrel's endpoint %s's", s, ep->name);
	}
	/* The namespace itself. */
	if (!st->link_found)
		DIFF("%s has no interface %s", env->netns, env->ifname);
	if (!st->link_up)
		DIFF("interface %s in %s is down", env->ifname, env->netns);
	if (memcmp(st->mac, ep->mac, 6))
		DIFF("%s has MAC %s, expected %s", env->ifname, mac_fmt(st->mac, b), mac_fmt(ep->mac, m));
	for (int k = 0; k < 2; k++) {
		if (!ips[k]->family)
			continue;
		if (!ns_has_addr(st, &want[k]))
			DIFF("%s lacks its address %s", env->ifname, cidr_str(&want[k], a));
		if (!ns_has_route(st, &def[k], &gw[k]))
			DIFF("%s lacks its default route via %s", env->ifname, gws[k]);
	}
	/* Routes of prevResult through our gateways are ours; others may belong to later plugins. */
	json_array_foreach(json_object_get(prev, "routes"), i, v) {
		const char *d = json_string_value(json_object_get(v, "dst"));
		const char *g = json_string_value(json_object_get(v, "gw"));
		struct cidr dst;
		struct ip_addr rgw;

		if (!d || !g || cidr_parse(d, &dst) || ip_parse(g, &rgw) ||
		    (!ip_equal(&rgw, &gw[0]) && !ip_equal(&rgw, &gw[1])))
			continue;
		cidr_normalize(&dst);
		if (!ns_has_route(st, &dst, &rgw))
			DIFF("%s lacks the route to %s via %s", env->ifname, d, g);
	}
#undef DIFF
	return 0;
}

bool cni_gc_stale(const struct cni_conf *c, const char *node, const struct endpoint *ep)
{
	char net[EP_LABEL_MAX], name[EP_NAME_MAX];
	bool mark = false, mine = false;

	snprintf(net, sizeof(net), "%s", c->name);
	for (int i = 0; i < ep->n_labels; i++) {
		mark |= !strcmp(ep->labels[i].key, CNI_LABEL_MARK) && !strcmp(ep->labels[i].value, "true");
		mine |= !strcmp(ep->labels[i].key, CNI_LABEL_NETWORK) && !strcmp(ep->labels[i].value, net);
	}
	/* Only this node's attachments of this network; other runtimes' networks are not ours. */
	if (!mark || !mine || strcmp(ep->node, node))
		return false;
	for (int k = 0; k < c->n_valid; k++) {
		cni_endpoint_name(c->name, c->valid[k].container_id, c->valid[k].ifname, name);
		if (!strcmp(name, ep->name))
			return false;
	}
	return true;
}

json_t *cni_error_json(const char *version, const struct cni_error *e)
{
	json_t *j = json_pack("{s:s, s:i, s:s}", "cniVersion", version && *version ? version : "1.1.0",
			      "code", e->code, "msg", e->msg);

	if (*e->details)
		json_object_set_new(j, "details", json_string(e->details));
	return j;
}
