/* petrel-cni: a CNI 1.0/1.1 plugin. The runtime gives the command in CNI_* variables and the
 * network configuration on stdin; the local petreld creates the endpoint inside the
 * runtime's network namespace. Results and errors are JSON on stdout, per the spec. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api_client.h"
#include "cni.h"
#include "netlink.h"

#define MAX_STDIN (1 << 20)

static int emit(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(j);
	fflush(stdout);
	return 0;
}

static int fail(const char *version, const struct cni_error *e)
{
	emit(cni_error_json(version, e));
	return 1;
}

static char *read_stdin(size_t *len)
{
	size_t cap = 4096;
	char *buf = malloc(cap);

	*len = 0;
	while (buf) {
		ssize_t n = read(STDIN_FILENO, buf + *len, cap - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len == cap) {
			if (cap >= MAX_STDIN) {
				free(buf);
				return NULL;
			}
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	return buf;
}

/* Call the agent; transport failures become "try again later" (code 11). */
static int agent(const struct cni_conf *c, const char *method, const char *path, json_t *body,
		 long *status, json_t **resp, struct cni_error *e)
{
	int ret = api_call(c->socket, method, path, body, 30000, status, resp);

	if (ret == -ECONNREFUSED || ret == -ENOENT || ret == -ETIMEDOUT || ret == -EIO)
		return cni_fail(e, CNI_ERR_TRY_LATER, "petrel agent not reachable, try again later",
				"no petreld answers on %s (%s)", c->socket, strerror(-ret));
	if (ret)
		return cni_fail(e, CNI_ERR_IO, "talking to the petrel agent failed", "%s", strerror(-ret));
	return 0;
}

static const char *agent_error(json_t *resp)
{
	const char *m = json_string_value(json_object_get(resp, "error"));
	return m ? m : "request failed";
}

static int cmd_add(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	json_t *req = cni_add_request(c, env), *resp = NULL;
	long status = 0;
	int ret = agent(c, "POST", "/v1/endpoints", req, &status, &resp, e);

	json_decref(req);
	if (ret)
		return -1;
	if (status != 201) {
		int code = status == 400 ? CNI_ERR_INVALID_CONFIG : CNI_ERR_PLUGIN;
		cni_fail(e, code, status == 507 ? "address pool exhausted" : "petrel could not add the container",
			 "%s", agent_error(resp));
		json_decref(resp);
		return -1;
	}
	emit(cni_result(c, env, resp));
	json_decref(resp);
	return 0;
}

static int del_endpoint(struct cni_conf *c, const char *name, struct cni_error *e)
{
	char path[128];
	json_t *resp = NULL;
	long status = 0;

	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	if (agent(c, "DELETE", path, NULL, &status, &resp, e))
		return -1;
	if (status != 200 && status != 404) {   /* already gone is success */
		cni_fail(e, CNI_ERR_PLUGIN, "petrel could not delete the container's endpoint", "%s",
			 agent_error(resp));
		json_decref(resp);
		return -1;
	}
	json_decref(resp);
	return 0;
}

static int cmd_del(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	char name[EP_NAME_MAX];

	cni_endpoint_name(env->container_id, env->ifname, name);
	return del_endpoint(c, name, e);
}

/* Verify inside the container's namespace: interface, MAC, addresses and default routes. */
static int verify_netns(const struct cni_env *env, json_t *ep, struct cni_error *e)
{
	const char *ips[2] = { json_string_value(json_object_get(ep, "ipv4")),
			       json_string_value(json_object_get(ep, "ipv6")) };
	const char *gws[2] = { "169.254.1.1", "fe80::1" };
	const char *mac = json_string_value(json_object_get(ep, "mac"));
	uint8_t have[6];
	char have_s[18];
	int fd = open(env->netns, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET))
		return cni_fail(e, CNI_ERR_UNKNOWN_CONTAINER, "container network namespace is gone",
				"%s: %s", env->netns, strerror(errno));
	close(fd);
	if (nl_link_get_mac(env->ifname, have))
		return cni_fail(e, CNI_ERR_PLUGIN, "interface missing", "%s has no interface %s",
				env->netns, env->ifname);
	snprintf(have_s, sizeof(have_s), "%02x:%02x:%02x:%02x:%02x:%02x",
		 have[0], have[1], have[2], have[3], have[4], have[5]);
	if (!mac || strcmp(mac, have_s))
		return cni_fail(e, CNI_ERR_PLUGIN, "interface MAC differs", "%s has %s, expected %s",
				env->ifname, have_s, mac ? mac : "?");
	for (int i = 0; i < 2; i++) {
		struct cidr a, def = { 0 };
		struct ip_addr gw;

		if (!ips[i] || !*ips[i] || cidr_parse(ips[i], &a))
			continue;
		if (nl_addr_present(env->ifname, &a) != 1)
			return cni_fail(e, CNI_ERR_PLUGIN, "address missing", "%s lacks %s", env->ifname, ips[i]);
		def.addr.family = a.addr.family;
		ip_parse(gws[i], &gw);
		if (nl_route_present(&def, &gw, env->ifname) != 1)
			return cni_fail(e, CNI_ERR_PLUGIN, "route missing", "%s lacks its default route via %s",
					env->ifname, gws[i]);
	}
	return 0;
}

static int cmd_check(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	char name[EP_NAME_MAX], path[128];
	json_t *resp = NULL, *prev_ips;
	long status = 0;
	size_t i;
	json_t *ip;
	int ret;

	if (!c->prev_result)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", "CHECK needs prevResult");
	cni_endpoint_name(env->container_id, env->ifname, name);
	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	if (agent(c, "GET", path, NULL, &status, &resp, e))
		return -1;
	if (status != 200) {
		cni_fail(e, CNI_ERR_UNKNOWN_CONTAINER, "unknown container", "petrel has no endpoint %s: %s",
			 name, agent_error(resp));
		json_decref(resp);
		return -1;
	}
	/* The previous result must name the addresses the endpoint really has. */
	prev_ips = json_object_get(c->prev_result, "ips");
	json_array_foreach(prev_ips, i, ip) {
		const char *a = json_string_value(json_object_get(ip, "address"));
		const char *e4 = json_string_value(json_object_get(resp, "ipv4"));
		const char *e6 = json_string_value(json_object_get(resp, "ipv6"));
		char bare[64];

		snprintf(bare, sizeof(bare), "%s", a ? a : "");
		if (strchr(bare, '/'))
			*strchr(bare, '/') = 0;
		if (strcmp(bare, e4 ? e4 : "") && strcmp(bare, e6 ? e6 : "")) {
			cni_fail(e, CNI_ERR_PLUGIN, "prevResult does not match", "address %s is not the endpoint's", bare);
			json_decref(resp);
			return -1;
		}
	}
	ret = verify_netns(env, resp, e);
	json_decref(resp);
	return ret;
}

static int cmd_status(struct cni_conf *c, struct cni_error *e)
{
	json_t *resp = NULL;
	long status = 0;
	int ret = api_call(c->socket, "GET", "/v1/node", NULL, 5000, &status, &resp);

	json_decref(resp);
	if (ret || status != 200)
		return cni_fail(e, CNI_ERR_NOT_AVAILABLE, "the plugin is not available",
				"no petreld answers on %s", c->socket);
	return 0;
}

/* Delete this node's CNI endpoints that the runtime no longer lists as valid. */
static int cmd_gc(struct cni_conf *c, struct cni_error *e)
{
	json_t *node = NULL, *list = NULL, *ep;
	long status = 0;
	const char *me;
	size_t i;
	int ret = 0;

	if (agent(c, "GET", "/v1/node", NULL, &status, &node, e) ||
	    agent(c, "GET", "/v1/endpoints", NULL, &status, &list, e)) {
		json_decref(node);
		return -1;
	}
	me = json_string_value(json_object_get(node, "name"));
	json_array_foreach(json_object_get(list, "endpoints"), i, ep) {
		const char *name = json_string_value(json_object_get(ep, "name"));
		const char *mark = json_string_value(json_object_get(json_object_get(ep, "labels"), "petrel.io/cni"));
		bool valid = false;

		if (!name || !mark || strcmp(mark, "true") || !me ||
		    strcmp(me, json_string_value(json_object_get(ep, "node")) ?: ""))
			continue;
		for (int k = 0; k < c->n_valid && !valid; k++) {
			char vn[EP_NAME_MAX];
			cni_endpoint_name(c->valid[k].container_id, c->valid[k].ifname, vn);
			valid = !strcmp(vn, name);
		}
		if (!valid && (ret = del_endpoint(c, name, e)))
			break;
	}
	json_decref(node);
	json_decref(list);
	return ret;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

int main(void)
{
	struct cni_env env;
	struct cni_conf conf = { 0 };
	struct cni_error e = { 0 };
	char *input;
	size_t len;
	int ret;

	if (cni_env_parse(env_get, &env, &e))
		return fail(NULL, &e);
	if (!strcmp(env.command, "VERSION")) {
		/* VERSION reads the config only for its cniVersion; it needs nothing else. */
		return emit(json_pack("{s:s, s:[s, s]}", "cniVersion", "1.1.0", "supportedVersions",
				      "1.0.0", "1.1.0"));
	}
	input = read_stdin(&len);
	if (!input) {
		cni_fail(&e, CNI_ERR_IO, "cannot read the network config", "stdin unreadable or over 1 MiB");
		return fail(NULL, &e);
	}
	ret = cni_conf_parse(input, len, &conf, &e);
	free(input);
	if (ret)
		return fail(NULL, &e);
	if (!cni_version_supported(conf.version)) {
		cni_fail(&e, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI version",
			 "config version %s; petrel-cni supports 1.0.0 and 1.1.0", conf.version);
		ret = fail(conf.version, &e);
		cni_conf_free(&conf);
		return ret;
	}
	if (!strcmp(env.command, "ADD"))
		ret = cmd_add(&conf, &env, &e);
	else if (!strcmp(env.command, "DEL"))
		ret = cmd_del(&conf, &env, &e);
	else if (!strcmp(env.command, "CHECK"))
		ret = cmd_check(&conf, &env, &e);
	else if (!strcmp(env.command, "STATUS"))
		ret = cmd_status(&conf, &e);
	else
		ret = cmd_gc(&conf, &e);
	if (ret)
		ret = fail(conf.version, &e);
	cni_conf_free(&conf);
	return ret;
}
