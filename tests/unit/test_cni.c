/* Unit tests for the CNI plugin's pure parts: environment, config, naming, result, errors. */
#include <errno.h>
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

static void test_env(void)
{
	struct cni_env env;
	struct cni_error e;

	set_env("ADD", "abc", "/run/netns/x", "eth0");
	CHECK(cni_env_parse(fake_getenv, &env, &e) == 0);
	CHECK_STR(env.command, "ADD");
	CHECK_STR(env.netns, "/run/netns/x");
	set_env("ADD", "abc", NULL, "eth0");
	CHECK(cni_env_parse(fake_getenv, &env, &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	CHECK(strstr(e.details, "CNI_NETNS") != NULL);
	set_env("DEL", "abc", NULL, "eth0");          /* DEL tolerates a vanished netns */
	CHECK(cni_env_parse(fake_getenv, &env, &e) == 0);
	set_env("ADD", "abc", "relative", "eth0");
	CHECK(cni_env_parse(fake_getenv, &env, &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	set_env("FROB", NULL, NULL, NULL);
	CHECK(cni_env_parse(fake_getenv, &env, &e) == -1 && e.code == CNI_ERR_INVALID_ENV);
	set_env(NULL, NULL, NULL, NULL);
	CHECK(cni_env_parse(fake_getenv, &env, &e) == -1 && strstr(e.details, "CNI_COMMAND"));
	set_env("VERSION", NULL, NULL, NULL);
	CHECK(cni_env_parse(fake_getenv, &env, &e) == 0);
}

static int conf(const char *text, struct cni_conf *c, struct cni_error *e)
{
	return cni_conf_parse(text, strlen(text), c, e);
}

static void test_conf(void)
{
	struct cni_conf c;
	struct cni_error e;

	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"petrel\",\"type\":\"petrel-cni\","
		   "\"socket\":\"/run/x.sock\",\"labels\":{\"app\":\"db\"},"
		   "\"args\":{\"cni\":{\"labels\":[{\"key\":\"tier\",\"value\":\"back\"}]}},"
		   "\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]}}",
		   &c, &e) == 0);
	CHECK_STR(c.socket, "/run/x.sock");
	CHECK(c.n_labels == 2 && c.n_publish == 1 && c.publish[0].host_port == 8080);
	CHECK(cni_version_supported(c.version));
	cni_conf_free(&c);

	CHECK(conf("{\"cniVersion\":", &c, &e) == -1 && e.code == CNI_ERR_DECODE);
	CHECK(conf("[]", &c, &e) == -1 && e.code == CNI_ERR_DECODE);
	CHECK(conf("{\"name\":\"x\"}", &c, &e) == -1 && e.code == CNI_ERR_INVALID_CONFIG);
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"socket\":\"rel\"}", &c, &e) == -1 &&
	      e.code == CNI_ERR_INVALID_CONFIG && strstr(e.details, "socket"));
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"labels\":{\"a b\":\"c\"}}", &c, &e) == -1 &&
	      e.code == CNI_ERR_INVALID_CONFIG);
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":0,\"containerPort\":80}]}}",
		   &c, &e) == -1 && e.code == CNI_ERR_INVALID_CONFIG);
	CHECK(!cni_version_supported("0.4.0") && !cni_version_supported("2.0.0"));
	CHECK(conf("{\"cniVersion\":\"1.1.0\",\"name\":\"x\",\"cni.dev/valid-attachments\":"
		   "[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}", &c, &e) == 0);
	CHECK(c.n_valid == 1 && !strcmp(c.valid[0].ifname, "eth0"));
	cni_conf_free(&c);
}

static void test_naming_and_result(void)
{
	char a[EP_NAME_MAX], b[EP_NAME_MAX], c2[EP_NAME_MAX];
	struct cni_conf c;
	struct cni_error e;
	struct cni_env env = { .command = "ADD", .container_id = "0123456789abcdef0123", .netns = "/run/netns/x",
			       .ifname = "eth0" };
	json_t *ep, *res, *req;

	cni_endpoint_name("abc", "eth0", a);
	cni_endpoint_name("abc", "eth0", b);
	cni_endpoint_name("abc", "eth1", c2);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c2) != 0);
	CHECK(strlen(a) == 20 && !strncmp(a, "cni-", 4));

	CHECK(conf("{\"cniVersion\":\"1.1.0\",\"name\":\"x\",\"dns\":{\"nameservers\":[\"10.0.0.53\"]}}", &c, &e) == 0);
	req = cni_add_request(&c, &env);
	CHECK_STR(json_string_value(json_object_get(req, "netns")), "/run/netns/x");
	CHECK_STR(json_string_value(json_object_get(json_object_get(req, "labels"), "petrel.io/cni")), "true");
	json_decref(req);
	ep = json_pack("{s:s, s:s, s:s}", "ipv4", "10.244.0.5", "ipv6", "fd00:244::5", "mac", "02:50:00:00:00:01");
	res = cni_result(&c, &env, ep);
	CHECK_STR(json_string_value(json_object_get(res, "cniVersion")), "1.1.0");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(res, "ips"), 0), "address")), "10.244.0.5/32");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(res, "ips"), 1), "gateway")), "fe80::1");
	CHECK(json_array_size(json_object_get(res, "routes")) == 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(res, "interfaces"), 0), "sandbox")), "/run/netns/x");
	CHECK(json_array_size(json_object_get(json_object_get(res, "dns"), "nameservers")) == 1);
	json_decref(res);
	json_decref(ep);
	cni_conf_free(&c);

	e.code = 11;
	snprintf(e.msg, sizeof(e.msg), "try again");
	e.details[0] = 0;
	res = cni_error_json("1.0.0", &e);
	CHECK(json_integer_value(json_object_get(res, "code")) == 11);
	CHECK(json_object_get(res, "details") == NULL);
	json_decref(res);
}

int main(void)
{
	test_env();
	test_conf();
	test_naming_and_result();
	return harness_done("test_cni");
}
