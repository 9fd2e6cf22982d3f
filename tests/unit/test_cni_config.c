/* Unit tests for petrel-cni's input side: the CNI_* environment, the network config and
 * CNI_ARGS, with the spec's error codes for each kind of bad input. */
#include <stdlib.h>
#include <netinet/in.h>
#include "harness.h"
#include "cni.h"

static const char *vars[16][2];

static const char *fake_getenv(const char *name)
{
	for (int i = 0; vars[i][0]; i++)
		if (!strcmp(vars[i][0], name))
			return vars[i][1];
	return NULL;
}

static void set_env(const char *cmd, const char *id, const char *ns, const char *ifn)
{
	int n = 0;

	memset(vars, 0, sizeof(vars));
	if (cmd) { vars[n][0] = "CNI_COMMAND"; vars[n++][1] = cmd; }
	if (id)  { vars[n][0] = "CNI_CONTAINERID"; vars[n++][1] = id; }
	if (ns)  { vars[n][0] = "CNI_NETNS"; vars[n++][1] = ns; }
	if (ifn) { vars[n][0] = "CNI_IFNAME"; vars[n++][1] = ifn; }
}

static int env_code(const char *cmd, const char *id, const char *ns, const char *ifn)
{
	struct cni_env env;
	struct cni_error e = { 0 };

	set_env(cmd, id, ns, ifn);
	return cni_env_parse(fake_getenv, &env, &e) ? e.code : 0;
}

static void test_env(void)
{
	struct cni_env env;
	struct cni_error e;

	set_env("ADD", "abc", "/run/netns/x", "eth0");
	vars[4][0] = "CNI_ARGS";
	vars[4][1] = "IgnoreUnknown=1;K8S_POD_NAME=web-0";
	CHECK(cni_env_parse(fake_getenv, &env, &e) == 0);
	CHECK_STR(env.command, "ADD");
	CHECK_STR(env.netns, "/run/netns/x");
	CHECK_STR(env.args, "IgnoreUnknown=1;K8S_POD_NAME=web-0");
	set_env("ADD", "abc", NULL, "eth0");
	CHECK(cni_env_parse(fake_getenv, &env, &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	CHECK(strstr(e.details, "CNI_NETNS") != NULL);
	CHECK(env_code("CHECK", "abc", NULL, "eth0") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("DEL", "abc", NULL, "eth0") == 0);          /* DEL tolerates a vanished netns */
	CHECK(env_code("DEL", NULL, NULL, "eth0") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "abc", "/n", NULL) == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "abc", "relative", "eth0") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "a b", "/n", "eth0") == CNI_ERR_INVALID_ENV);      /* container id rules */
	CHECK(env_code("ADD", "-abc", "/n", "eth0") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "Ab_c.d-9", "/n", "eth0") == 0);
	CHECK(env_code("ADD", "abc", "/n", "a/b") == CNI_ERR_INVALID_ENV);       /* interface name rules */
	CHECK(env_code("ADD", "abc", "/n", "a:b") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "abc", "/n", "..") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "abc", "/n", "abcdefghijklmnop") == CNI_ERR_INVALID_ENV);
	CHECK(env_code("ADD", "abc", "/n", "abcdefghijklmno") == 0);
	CHECK(env_code("FROB", NULL, NULL, NULL) == CNI_ERR_INVALID_ENV);
	set_env(NULL, NULL, NULL, NULL);
	CHECK(cni_env_parse(fake_getenv, &env, &e) == -1 && strstr(e.details, "CNI_COMMAND"));
	CHECK(env_code("VERSION", NULL, NULL, NULL) == 0);
	CHECK(env_code("STATUS", NULL, NULL, NULL) == 0);
	CHECK(env_code("GC", NULL, NULL, NULL) == 0);
}

static int conf(const char *text, struct cni_conf *c, struct cni_error *e)
{
	return cni_conf_parse(text, strlen(text), c, e);
}

static int conf_code(const char *text)
{
	struct cni_conf c;
	struct cni_error e = { 0 };

	if (conf(text, &c, &e))
		return e.code;
	cni_conf_free(&c);
	return 0;
}

static const char *label(const struct cni_conf *c, const char *key)
{
	for (int i = 0; i < c->n_labels; i++)
		if (!strcmp(c->labels[i].key, key))
			return c->labels[i].value;
	return NULL;
}

static void test_conf(void)
{
	struct cni_conf c;
	struct cni_error e;

	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"petrel\",\"type\":\"petrel-cni\","
		   "\"socket\":\"/run/x.sock\",\"labels\":{\"app\":\"db\",\"tier\":\"x\"},"
		   "\"args\":{\"labels\":{\"team\":\"a\"},\"cni\":{\"labels\":[{\"key\":\"tier\",\"value\":\"back\"}]}},"
		   "\"runtimeConfig\":{\"labels\":{\"team\":\"b\"},"
		   "\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]}}",
		   &c, &e) == 0);
	CHECK_STR(c.socket, "/run/x.sock");
	CHECK_STR(c.name, "petrel");
	CHECK(c.n_labels == 3 && c.n_publish == 1 && c.publish[0].host_port == 8080);
	CHECK_STR(label(&c, "app"), "db");
	CHECK_STR(label(&c, "tier"), "back");      /* the runtime's args override the network's */
	CHECK_STR(label(&c, "team"), "b");         /* runtimeConfig last */
	CHECK(cni_version_supported(c.version));
	CHECK(json_is_object(c.dns) && json_object_size(c.dns) == 0);
	CHECK(c.prev_result == NULL && !c.has_valid);
	cni_conf_free(&c);

	CHECK(conf("{}", &c, &e) == -1 && e.code == CNI_ERR_INVALID_CONFIG);
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}", &c, &e) == 0);
	CHECK_STR(c.socket, CNI_DEFAULT_SOCKET);
	cni_conf_free(&c);
	CHECK(conf_code("{\"cniVersion\":") == CNI_ERR_DECODE);
	CHECK(conf_code("") == CNI_ERR_DECODE);
	CHECK(conf_code("[]") == CNI_ERR_DECODE);
	CHECK(conf_code("{\"name\":\"x\"}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\"}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"-x\"}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"a b\"}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"socket\":\"rel\"}", &c, &e) == -1 &&
	      e.code == CNI_ERR_INVALID_CONFIG && strstr(e.details, "socket"));
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"labels\":{\"a b\":\"c\"}}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"labels\":{\"a\":1}}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"labels\":\"a=b\"}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"args\":{\"cni\":{\"labels\":[{\"key\":\"a\"}]}}}") ==
	      CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"args\":\"ignored\"}") == 0);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":0,\"containerPort\":80}]}}") ==
	      CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":1,\"containerPort\":80,\"protocol\":\"sctp\"}]}}") ==
	      CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"prevResult\":[]}") == CNI_ERR_INVALID_CONFIG);
	CHECK(conf_code("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"dns\":\"8.8.8.8\"}") == CNI_ERR_INVALID_CONFIG);

	CHECK(!cni_version_supported("0.4.0") && !cni_version_supported("2.0.0"));
	CHECK(cni_version_cmp("1.0.0", "1.1.0") < 0 && cni_version_cmp("1.1.0", "1.1.0") == 0 &&
	      cni_version_cmp("1.10.0", "1.9.0") > 0 && cni_version_cmp("0.4.0", "1.0.0") < 0);

	CHECK(conf("{\"cniVersion\":\"1.1.0\",\"name\":\"x\",\"cni.dev/valid-attachments\":"
		   "[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}", &c, &e) == 0);
	CHECK(c.has_valid && c.n_valid == 1 && !strcmp(c.valid[0].ifname, "eth0"));
	cni_conf_free(&c);
	CHECK(conf("{\"cniVersion\":\"1.1.0\",\"name\":\"x\",\"cni.dev/valid-attachments\":[]}", &c, &e) == 0);
	CHECK(c.has_valid && c.n_valid == 0);
	cni_conf_free(&c);
	CHECK(conf_code("{\"cniVersion\":\"1.1.0\",\"name\":\"x\",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\"}]}") ==
	      CNI_ERR_INVALID_CONFIG);
}

static void test_args(void)
{
	struct cni_conf c;
	struct cni_error e;

	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}", &c, &e) == 0);
	CHECK(cni_conf_apply_args(&c, "", &e) == 0 && c.n_labels == 0);
	CHECK(cni_conf_apply_args(&c, NULL, &e) == 0 && c.n_labels == 0);
	CHECK(cni_conf_apply_args(&c, "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;"
				  "K8S_POD_INFRA_CONTAINER_ID=abc", &e) == 0);
	CHECK(c.n_labels == 2);
	CHECK_STR(label(&c, "io.kubernetes.pod.namespace"), "shop");
	CHECK_STR(label(&c, "io.kubernetes.pod.name"), "web-0");
	CHECK(cni_conf_apply_args(&c, "IgnoreUnknown", &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	CHECK(cni_conf_apply_args(&c, "K8S_POD_NAME=a b", &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	/* Podman restoring a checkpoint asks for its address (one: CNI_ARGS IP=). */
	CHECK(cni_conf_apply_args(&c, "IgnoreUnknown=1;IP=10.244.0.7;MAC=02:50:00:00:00:01", &e) == 0);
	CHECK(c.want4.family == AF_INET && c.want6.family == 0);
	CHECK(cni_conf_apply_args(&c, "IP=10.244.0.999", &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	cni_conf_free(&c);
	/* two: runtimeConfig.ips, which the request to the agent carries */
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"runtimeConfig\":{\"ips\":"
		   "[\"10.244.0.7\",\"fd00:244::7/128\"]}}", &c, &e) == 0);
	CHECK(c.want4.family == AF_INET && c.want6.family == AF_INET6);
	{
		struct cni_env env = { .container_id = "abc", .netns = "/run/netns/x", .ifname = "eth0" };
		json_t *rq = cni_add_request(&c, &env);

		CHECK_STR(json_string_value(json_object_get(rq, "ipv4")), "10.244.0.7");
		CHECK_STR(json_string_value(json_object_get(rq, "ipv6")), "fd00:244::7");
		json_decref(rq);
	}
	cni_conf_free(&c);
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"runtimeConfig\":{\"ips\":\"10.0.0.1\"}}",
		   &c, &e) == -1 && e.code == CNI_ERR_INVALID_CONFIG);
}

int main(void)
{
	test_env();
	test_conf();
	test_args();
	return harness_done("test_cni_config");
}
