/* Unit tests for petrel-cni's output side: endpoint names, the agent request, the ADD
 * result (alone and chained after another plugin's) and the error JSON. */
#include <stdlib.h>
#include <netinet/in.h>
#include "harness.h"
#include "cni.h"

static int conf(const char *text, struct cni_conf *c)
{
	struct cni_error e;

	return cni_conf_parse(text, strlen(text), c, &e);
}

static struct endpoint sample_endpoint(void)
{
	struct endpoint ep = { .name = "cni-0", .node = "node1" };

	ip_parse("10.244.0.5", &ep.ip4);
	ip_parse("fd00:244::5", &ep.ip6);
	memcpy(ep.mac, "\x02\x50\x00\x00\x00\x01", 6);
	return ep;
}

#define GET(j, k) json_object_get(j, k)
#define AT(j, i) json_array_get(j, i)
#define STR(j) json_string_value(j)

static void test_naming(void)
{
	char a[EP_NAME_MAX], b[EP_NAME_MAX], c[EP_NAME_MAX], d[EP_NAME_MAX];

	cni_endpoint_name("petrel", "abc", "eth0", a);
	cni_endpoint_name("petrel", "abc", "eth0", b);
	cni_endpoint_name("petrel", "abc", "eth1", c);
	cni_endpoint_name("other", "abc", "eth0", d);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0 && strcmp(a, d) != 0);
	CHECK(strlen(a) == 20 && !strncmp(a, "cni-", 4));
	for (const char *p = a; *p; p++)       /* the agent's name rule: [a-z0-9-] */
		CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
}

static void test_request(void)
{
	struct cni_conf c;
	struct cni_env env = { .command = "ADD", .container_id = "0123456789abcdef0123456789abcdef0123456789",
			       .netns = "/run/netns/x", .ifname = "eth1" };
	struct ep_request req;
	char name[EP_NAME_MAX], err[128];
	json_t *j, *labels;

	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"petrel\",\"labels\":{\"app\":\"db\"},"
		   "\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"udp\"}]}}", &c) == 0);
	j = cni_add_request(&c, &env);
	labels = GET(j, "labels");
	cni_endpoint_name("petrel", env.container_id, "eth1", name);
	CHECK_STR(STR(GET(j, "name")), name);
	CHECK_STR(STR(GET(j, "netns")), "/run/netns/x");
	CHECK_STR(STR(GET(j, "ifname")), "eth1");
	CHECK_STR(STR(GET(labels, "app")), "db");
	CHECK_STR(STR(GET(labels, CNI_LABEL_MARK)), "true");
	CHECK_STR(STR(GET(labels, CNI_LABEL_NETWORK)), "petrel");
	CHECK(strlen(STR(GET(labels, CNI_LABEL_CONTAINER))) == 32);
	CHECK_STR(STR(GET(AT(GET(j, "publish"), 0), "proto")), "udp");
	/* The agent's own validator accepts what the plugin sends. */
	CHECK(ep_request_parse(j, &req, err, sizeof(err)) == 0);
	CHECK_STR(req.container_ifname, "eth1");
	json_decref(j);
	cni_conf_free(&c);
}

static void test_result(void)
{
	struct cni_conf c;
	struct cni_error e = { 0 };
	struct cni_env env = { .command = "ADD", .container_id = "abc", .netns = "/run/netns/x", .ifname = "eth0" };
	struct endpoint ep = sample_endpoint(), bad = sample_endpoint();
	json_t *res, *ips, *routes;

	CHECK(conf("{\"cniVersion\":\"1.1.0\",\"name\":\"x\",\"dns\":{\"nameservers\":[\"10.0.0.53\"]}}", &c) == 0);
	res = cni_result(&c, &env, &ep, &e);
	CHECK(res != NULL);
	ips = GET(res, "ips");
	routes = GET(res, "routes");
	CHECK_STR(STR(GET(res, "cniVersion")), "1.1.0");
	CHECK(json_array_size(GET(res, "interfaces")) == 1);
	CHECK_STR(STR(GET(AT(GET(res, "interfaces"), 0), "name")), "eth0");
	CHECK_STR(STR(GET(AT(GET(res, "interfaces"), 0), "mac")), "02:50:00:00:00:01");
	CHECK_STR(STR(GET(AT(GET(res, "interfaces"), 0), "sandbox")), "/run/netns/x");
	CHECK(json_array_size(ips) == 2);
	CHECK_STR(STR(GET(AT(ips, 0), "address")), "10.244.0.5/32");
	CHECK_STR(STR(GET(AT(ips, 0), "gateway")), CNI_GW4);
	CHECK_STR(STR(GET(AT(ips, 1), "address")), "fd00:244::5/128");
	CHECK_STR(STR(GET(AT(ips, 1), "gateway")), CNI_GW6);
	CHECK(json_integer_value(GET(AT(ips, 1), "interface")) == 0);
	CHECK(json_array_size(routes) == 2);
	CHECK_STR(STR(GET(AT(routes, 0), "dst")), "0.0.0.0/0");
	CHECK_STR(STR(GET(AT(routes, 1), "gw")), CNI_GW6);
	CHECK(json_array_size(GET(GET(res, "dns"), "nameservers")) == 1);
	json_decref(res);

	/* An endpoint without an address or MAC gives no result: ADD then undoes it. */
	memset(&bad.ip4, 0, sizeof(bad.ip4));
	CHECK(cni_result(&c, &env, &bad, &e) == NULL && e.code == CNI_ERR_PLUGIN);
	bad = sample_endpoint();
	memset(bad.mac, 0, 6);
	CHECK(cni_result(&c, &env, &bad, &e) == NULL && e.code == CNI_ERR_PLUGIN);
	cni_conf_free(&c);

	/* Chained after another plugin: its result is kept, ours appended with the right index. */
	CHECK(conf("{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"prevResult\":{\"cniVersion\":\"1.0.0\","
		   "\"interfaces\":[{\"name\":\"lo\",\"sandbox\":\"/run/netns/x\"}],"
		   "\"ips\":[{\"address\":\"127.0.0.1/8\",\"interface\":0}],"
		   "\"dns\":{\"search\":[\"svc\"]}}}", &c) == 0);
	res = cni_result(&c, &env, &ep, &e);
	CHECK(res != NULL);
	CHECK(json_array_size(GET(res, "interfaces")) == 2);
	CHECK_STR(STR(GET(AT(GET(res, "interfaces"), 1), "name")), "eth0");
	CHECK(json_array_size(GET(res, "ips")) == 3);
	CHECK(json_integer_value(GET(AT(GET(res, "ips"), 2), "interface")) == 1);
	CHECK(json_array_size(GET(GET(res, "dns"), "search")) == 1);   /* no dns of ours: theirs kept */
	CHECK_STR(STR(GET(res, "cniVersion")), "1.0.0");
	json_decref(res);
	cni_conf_free(&c);
}

static void test_error_json(void)
{
	struct cni_error e;
	json_t *j;

	cni_fail(&e, CNI_ERR_TRY_LATER, "try again", "%s", "");
	j = cni_error_json("1.0.0", &e);
	CHECK(json_integer_value(GET(j, "code")) == 11);
	CHECK_STR(STR(GET(j, "msg")), "try again");
	CHECK_STR(STR(GET(j, "cniVersion")), "1.0.0");
	CHECK(GET(j, "details") == NULL);
	json_decref(j);
	cni_fail(&e, CNI_ERR_INVALID_ENV, "invalid environment", "%s is not set", "CNI_NETNS");
	j = cni_error_json(NULL, &e);
	CHECK_STR(STR(GET(j, "cniVersion")), "1.1.0");
	CHECK_STR(STR(GET(j, "details")), "CNI_NETNS is not set");
	json_decref(j);
}

int main(void)
{
	test_naming();
	test_request();
	test_result();
	test_error_json();
	return harness_done("test_cni_result");
}
