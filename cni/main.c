/* petrel-cni: a CNI 1.0/1.1 plugin. The runtime gives the command in CNI_* variables and the
 * network configuration on stdin; the local petreld creates the endpoint inside the
 * runtime's network namespace. Results and errors are JSON on stdout, per the spec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "man.h"
#include "api_client.h"
#include "cni.h"
#include "nsquery.h"

#define MAX_STDIN (1 << 20)
#define AGENT_TIMEOUT_MS 30000

static int emit(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(j);
	fflush(stdout);
	return 0;
}

static char *read_stdin(size_t *len)
{
	size_t cap = 4096;
	char *buf = malloc(cap);

	*len = 0;
	while (buf) {
		ssize_t n = read(STDIN_FILENO, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
		if (*len == cap) {
			char *nb;

			if (cap >= MAX_STDIN) {
				free(buf);
				return NULL;
			}
			nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	return buf;
}

/* A failed exchange with the agent as a CNI error: no answer at all is "try again later". */
static int transport_error(const struct cni_conf *c, int ret, struct cni_error *e)
{
	if (ret == -ECONNREFUSED || ret == -ENOENT || ret == -ETIMEDOUT || ret == -EIO)
		return cni_fail(e, CNI_ERR_TRY_LATER, "petrel agent not reachable, try again later",
				"no answer from petreld on %s (%s); is petreld running on this node?",
				c->socket, strerror(-ret));
	return cni_fail(e, CNI_ERR_IO, "talking to the petrel agent failed", "%s: %s", c->socket,
			strerror(-ret));
}

static int agent(const struct cni_conf *c, const char *method, const char *path, json_t *body,
		 long *status, json_t **resp, struct cni_error *e)
{
	int ret = api_call(c->socket, method, path, body, AGENT_TIMEOUT_MS, status, resp);

	return ret ? transport_error(c, ret, e) : 0;
}

/* An agent's error status as a CNI error. */
static int agent_refused(long status, json_t *resp, const char *what, struct cni_error *e)
{
	const char *m = json_string_value(json_object_get(resp, "error"));
	const char *hint = json_string_value(json_object_get(resp, "hint"));
	char details[sizeof(e->details)];

	snprintf(details, sizeof(details), "%s (HTTP %ld)%s%s", m ? m : "request failed", status,
		 hint ? "; hint: " : "", hint ? hint : "");
	if (status == 503)    /* the agent is up but its store is not: a transient condition */
		return cni_fail(e, CNI_ERR_TRY_LATER, "petrel's cluster store is unreachable, try again later",
				"%s", details);
	if (status == 400)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", "%s", details);
	return cni_fail(e, CNI_ERR_PLUGIN, status == 507 ? "address pool exhausted" : what, "%s", details);
}

static int get_endpoint(struct cni_conf *c, const char *name, struct endpoint *ep, long *status,
			struct cni_error *e)
{
	char path[128];
	json_t *resp = NULL;
	int ret;

	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	if (agent(c, "GET", path, NULL, status, &resp, e))
		return -1;
	ret = *status == 200 ? 0 : agent_refused(*status, resp, "petrel could not find the endpoint", e);
	if (!ret && endpoint_from_json(resp, ep))
		ret = cni_fail(e, CNI_ERR_IO, "the petrel agent's answer is malformed", "endpoint %s", name);
	json_decref(resp);
	return ret;
}

static int del_endpoint(struct cni_conf *c, const char *name, struct cni_error *e)
{
	char path[128];
	json_t *resp = NULL;
	long status = 0;
	int ret = 0;

	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	if (agent(c, "DELETE", path, NULL, &status, &resp, e))
		return -1;
	/* Already gone is success: DEL must be repeatable. */
	if (status != 200 && status != 404)
		ret = agent_refused(status, resp, "petrel could not delete the container's endpoint", e);
	json_decref(resp);
	return ret;
}

static int cmd_add(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	char name[EP_NAME_MAX];
	struct cni_error ignored;
	struct endpoint ep;
	json_t *req, *resp = NULL, *result = NULL;
	long status = 0;
	int ret;

	if (cni_conf_apply_args(c, env->args, e))
		return -1;
	if (access(env->netns, F_OK))
		return cni_fail(e, CNI_ERR_INVALID_ENV, "invalid environment", "CNI_NETNS %s: %s",
				env->netns, strerror(errno));
	cni_endpoint_name(c->name, env->container_id, env->ifname, name);
	req = cni_add_request(c, env);
	ret = api_call(c->socket, "POST", "/v1/endpoints", req, AGENT_TIMEOUT_MS, &status, &resp);
	json_decref(req);
	if (ret) {
		/* Unless the agent surely never saw the request, it may have created the endpoint:
		 * remove it so a failed ADD leaves nothing behind. */
		if (ret != -ECONNREFUSED && ret != -ENOENT)
			del_endpoint(c, name, &ignored);
		return transport_error(c, ret, e);
	}
	if (status != 201) {
		agent_refused(status, resp, "petrel could not add the container", e);
		json_decref(resp);
		return -1;
	}
	if (endpoint_from_json(resp, &ep))
		cni_fail(e, CNI_ERR_IO, "the petrel agent's answer is malformed", "creating endpoint %s", name);
	else
		result = cni_result(c, env, &ep, e);
	json_decref(resp);
	if (!result) {
		del_endpoint(c, name, &ignored);
		return -1;
	}
	return emit(result);
}

static int cmd_del(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	char name[EP_NAME_MAX];

	cni_endpoint_name(c->name, env->container_id, env->ifname, name);
	return del_endpoint(c, name, e);
}

static int cmd_check(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	char name[EP_NAME_MAX];
	struct cni_ns_state st;
	struct endpoint ep;
	long status = 0;
	int ret;

	if (!c->prev_result)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config", "CHECK needs prevResult");
	cni_endpoint_name(c->name, env->container_id, env->ifname, name);
	if (get_endpoint(c, name, &ep, &status, e)) {
		if (status == 404)
			cni_fail(e, CNI_ERR_CHECK, "container networking is not as petrel set it up",
				 "petrel has no endpoint %s for container %s", name, env->container_id);
		return -1;
	}
	ret = cni_ns_query(env->netns, env->ifname, &st);
	if (ret == -ENOENT)
		return cni_fail(e, CNI_ERR_UNKNOWN_CONTAINER, "container network namespace is gone",
				"%s does not exist", env->netns);
	if (ret)
		return cni_fail(e, CNI_ERR_IO, "cannot look inside the container's network namespace",
				"%s: %s", env->netns, strerror(-ret));
	return cni_check(c, env, &ep, &st, e);
}

static int cmd_status(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	json_t *resp = NULL;
	long status = 0;
	int ret = api_call(c->socket, "GET", "/v1/node", NULL, 5000, &status, &resp);

	json_decref(resp);
	if (ret || status != 200)
		return cni_fail(e, CNI_ERR_NOT_AVAILABLE, "the plugin is not available",
				ret ? "no petreld answers on %s: %s" : "petreld on %s answers %s",
				c->socket, ret ? strerror(-ret) : "with an error");
	return 0;
}

/* Delete this node's attachments of this network that the runtime no longer lists. */
static int cmd_gc(struct cni_conf *c, struct cni_env *env, struct cni_error *e)
{
	json_t *node = NULL, *list = NULL, *j;
	long status = 0;
	const char *me;
	size_t i;
	int ret = 0;

	/* Without the list every attachment would look stale: refuse rather than delete all. */
	if (!c->has_valid)
		return cni_fail(e, CNI_ERR_INVALID_CONFIG, "invalid network config",
				"GC needs cni.dev/valid-attachments");
	if (agent(c, "GET", "/v1/node", NULL, &status, &node, e))
		return -1;
	me = json_string_value(json_object_get(node, "name"));
	if (status != 200 || !me) {
		ret = agent_refused(status, node, "petrel could not name this node", e);
		goto out;
	}
	if (agent(c, "GET", "/v1/endpoints", NULL, &status, &list, e)) {
		ret = -1;
		goto out;
	}
	if (status != 200) {
		ret = agent_refused(status, list, "petrel could not list endpoints", e);
		goto out;
	}
	json_array_foreach(json_object_get(list, "endpoints"), i, j) {
		struct endpoint ep;

		if (endpoint_from_json(j, &ep) || !cni_gc_stale(c, me, &ep))
			continue;
		if ((ret = del_endpoint(c, ep.name, e)))
			break;
	}
out:
	json_decref(node);
	json_decref(list);
	return ret;
}

/* VERSION reads no config: its answer does not depend on one. */
static int cmd_version(void)
{
	return emit(json_pack("{s:s, s:[s, s]}", "cniVersion", "1.1.0", "supportedVersions",
			      "1.0.0", "1.1.0"));
}

static const struct {
	const char *name;
	int (*fn)(struct cni_conf *c, struct cni_env *env, struct cni_error *e);
	const char *since;              /* first spec version with this command */
} commands[] = {
	{ "ADD", cmd_add, "1.0.0" },
	{ "DEL", cmd_del, "1.0.0" },
	{ "CHECK", cmd_check, "1.0.0" },
	{ "STATUS", cmd_status, "1.1.0" },
	{ "GC", cmd_gc, "1.1.0" },
};

static const char *env_get(const char *name)
{
	return getenv(name);
}

static const char help[] =
"Usage: petrel-cni            (run by a container runtime, as every CNI plugin)\n"
"       petrel-cni --help | --man\n"
"\n"
"The petrel CNI plugin. A runtime such as Podman runs it with CNI_COMMAND (ADD, DEL,\n"
"CHECK, STATUS, GC or VERSION), CNI_CONTAINERID, CNI_NETNS and CNI_IFNAME in the\n"
"environment and the network's configuration on standard input; it asks the node's\n"
"petreld (the \"socket\" in the configuration, default /run/petrel/petreld.sock) to make\n"
"or remove the container's endpoint, and prints the CNI result as JSON. Errors follow\n"
"the CNI specification's codes, as JSON on standard output.\n"
"\n"
"Configuration (a network's plugin entry):\n"
"  {\"type\": \"petrel-cni\", \"socket\": \"/run/petrel/petreld.sock\",\n"
"   \"labels\": {\"app\": \"web\"}}\n"
"\n"
"Install it where runtimes look for plugins: /opt/cni/bin and /usr/lib/cni\n"
"(`make install` does). See docs/cni.md.\n";

int main(int argc, char **argv)
{
	struct cni_env env;
	struct cni_conf conf = { 0 };
	struct cni_error e = { 0 };
	char *input;
	size_t len;
	int ret = -1;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(help, stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--man")) {
		man_page(stdout, "petrel-cni", 8, "the petrel CNI plugin", help);
		return 0;
	}
	if (cni_env_parse(env_get, &env, &e))
		goto fail;
	if (!strcmp(env.command, "VERSION"))
		return cmd_version();
	input = read_stdin(&len);
	if (!input) {
		cni_fail(&e, CNI_ERR_IO, "cannot read the network config", "stdin unreadable or over 1 MiB");
		goto fail;
	}
	ret = cni_conf_parse(input, len, &conf, &e);
	free(input);
	if (ret)
		goto fail;
	ret = -1;
	if (!cni_version_supported(conf.version)) {
		cni_fail(&e, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI version",
			 "config version %s; petrel-cni supports 1.0.0 and 1.1.0", conf.version);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(env.command, commands[i].name))
			continue;
		if (cni_version_cmp(conf.version, commands[i].since) < 0) {
			cni_fail(&e, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI version",
				 "config version %s does not allow %s (needs %s)", conf.version,
				 commands[i].name, commands[i].since);
			goto fail;
		}
		ret = commands[i].fn(&conf, &env, &e);
		break;
	}
	if (!ret) {
		cni_conf_free(&conf);
		return 0;
	}
fail:
	emit(cni_error_json(conf.version, &e));
	cni_conf_free(&conf);
	return 1;
}
