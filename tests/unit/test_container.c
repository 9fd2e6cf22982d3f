/* Unit tests for the container model: `run` request validation and the stored JSON. */
#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include "harness.h"
#include "container.h"

static struct container ct;     /* big: keep it off the stack */

static int parse(const char *text, char *err)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret = container_request_parse(j, &ct, err, 256);

	json_decref(j);
	return ret;
}

#define BASE "\"name\":\"web\",\"rootfs\":\"/srv/rootfs\""

static void test_requests(void)
{
	char err[256];

	CHECK(parse("{" BASE ",\"cmd\":[\"httpd\",\"-f\"]}", err) == 0);
	CHECK_STR(ct.name, "web");
	CHECK_STR(ct.rootfs, "/srv/rootfs");
	CHECK_STR(ct.state, CT_CREATING);
	CHECK(ct.n_cmd == 2 && !strcmp(ct.cmd[1], "-f"));
	CHECK(ct.exit_code == -1 && ct.memory == 0 && ct.n_env == 0);

	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"env\":[\"A=1\",\"_B2=x=y\",\"EMPTY=\"],"
		    "\"labels\":{\"app\":\"web\"},\"publish\":[{\"host_port\":8080,\"port\":80,\"proto\":\"udp\"}],"
		    "\"memory\":67108864}", err) == 0);
	CHECK(ct.n_env == 3 && !strcmp(ct.env[1], "_B2=x=y"));
	CHECK(ct.n_labels == 1 && !strcmp(ct.labels[0].value, "web"));
	CHECK(ct.n_publish == 1 && ct.publish[0].proto == IPPROTO_UDP && ct.publish[0].host_port == 8080);
	CHECK(ct.memory == 64 << 20);

	CHECK(parse("[]", err) == -EINVAL);
	CHECK(parse("{\"rootfs\":\"/r\",\"cmd\":[\"x\"]}", err) == -EINVAL && strstr(err, "name"));
	CHECK(parse("{\"name\":\"Web\",\"rootfs\":\"/r\",\"cmd\":[\"x\"]}", err) == -EINVAL && strstr(err, "name"));
	CHECK(parse("{\"name\":\"web\",\"cmd\":[\"x\"]}", err) == -EINVAL && strstr(err, "rootfs"));
	CHECK(parse("{" BASE "}", err) == -EINVAL && strstr(err, "cmd"));
	CHECK(parse("{" BASE ",\"cmd\":[]}", err) == -EINVAL && strstr(err, "cmd"));
	CHECK(parse("{" BASE ",\"cmd\":[\"\"]}", err) == -EINVAL && strstr(err, "cmd[0]"));
	CHECK(parse("{" BASE ",\"cmd\":\"sh\"}", err) == -EINVAL && strstr(err, "cmd"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\",3]}", err) == -EINVAL && strstr(err, "cmd[1]"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"env\":[\"NOEQUALS\"]}", err) == -EINVAL && strstr(err, "env[0]"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"env\":[\"1A=x\"]}", err) == -EINVAL && strstr(err, "env[0]"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"env\":[\"A-B=x\"]}", err) == -EINVAL);
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"env\":[\"=x\"]}", err) == -EINVAL);
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"memory\":-1}", err) == -EINVAL && strstr(err, "memory"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"memory\":1000}", err) == -EINVAL && strstr(err, "memory"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"memory\":\"1G\"}", err) == -EINVAL);
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"labels\":{\"a b\":\"x\"}}", err) == -EINVAL && strstr(err, "labels"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"publish\":[{\"host_port\":0,\"port\":80}]}", err) == -EINVAL &&
	      strstr(err, "publish[0]"));
	CHECK(parse("{" BASE ",\"cmd\":[\"sh\"],\"colour\":1}", err) == -EINVAL && strstr(err, "colour"));
	CHECK(parse("{\"name\":\"web\",\"rootfs\":\"relative\",\"cmd\":[\"x\"]}", err) == -EINVAL && strstr(err, "rootfs"));
	CHECK(parse("{\"name\":\"web\",\"rootfs\":\"/a,upperdir=/b\",\"cmd\":[\"x\"]}", err) == -EINVAL);

	/* Limits: CT_MAX_ARGS entries, CT_ARG_MAX - 1 bytes each. */
	json_t *j = json_pack("{s:s, s:s, s:[]}", "name", "web", "rootfs", "/r", "cmd");
	for (int i = 0; i < CT_MAX_ARGS + 1; i++)
		json_array_append_new(json_object_get(j, "cmd"), json_string("x"));
	CHECK(container_request_parse(j, &ct, err, sizeof(err)) == -EINVAL && strstr(err, "more than"));
	json_array_clear(json_object_get(j, "cmd"));
	char big[CT_ARG_MAX + 1];
	memset(big, 'a', CT_ARG_MAX);
	big[CT_ARG_MAX] = 0;
	json_array_append_new(json_object_get(j, "cmd"), json_string(big));
	CHECK(container_request_parse(j, &ct, err, sizeof(err)) == -EINVAL && strstr(err, "longer"));
	big[CT_ARG_MAX - 1] = 0;
	json_array_set_new(json_object_get(j, "cmd"), 0, json_string(big));
	CHECK(container_request_parse(j, &ct, err, sizeof(err)) == 0 && strlen(ct.cmd[0]) == CT_ARG_MAX - 1);
	json_decref(j);
}

static void test_validators(void)
{
	CHECK(container_env_valid("A=b"));
	CHECK(container_env_valid("a_1="));
	CHECK(!container_env_valid("A"));
	CHECK(!container_env_valid("=b"));
	CHECK(!container_env_valid("9=b"));
	CHECK(!container_env_valid(NULL));
	CHECK(container_path_valid("/srv/root-fs_1.2"));
	CHECK(container_path_valid("/a..b/c"));
	CHECK(!container_path_valid("srv"));
	CHECK(!container_path_valid("/srv/../etc"));
	CHECK(!container_path_valid("/srv/.."));
	CHECK(!container_path_valid("/a:b"));
	CHECK(!container_path_valid("/a b"));
	CHECK(!container_path_valid("/a,b"));
	/* A rootfs is never the host's own tree: a migrated-in record could name one. */
	CHECK(container_rootfs_valid("/srv/rootfs") && container_rootfs_valid("/var/lib/images/busybox"));
	CHECK(!container_rootfs_valid("/") && !container_rootfs_valid("//"));
	CHECK(!container_rootfs_valid("/etc") && !container_rootfs_valid("/etc/"));
	CHECK(!container_rootfs_valid("/usr") && !container_rootfs_valid("/var//"));
	CHECK(!container_rootfs_valid("/srv/../etc") && !container_rootfs_valid(NULL));
	CHECK(container_state_valid("running") && container_state_valid("migrating"));
	CHECK(!container_state_valid("paused") && !container_state_valid(NULL));
}

static struct container in, out;

static void test_round_trip(void)
{
	char *text;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "web");
	snprintf(in.node, sizeof(in.node), "node1");
	snprintf(in.state, sizeof(in.state), CT_RUNNING);
	snprintf(in.rootfs, sizeof(in.rootfs), "/srv/rootfs");
	snprintf(in.netns, sizeof(in.netns), "lab-ep-web");
	in.pid = 4242;
	in.n_cmd = 3;
	snprintf(in.cmd[0], CT_ARG_MAX, "socat");
	snprintf(in.cmd[1], CT_ARG_MAX, "TCP-LISTEN:80,fork");
	snprintf(in.cmd[2], CT_ARG_MAX, "PIPE");
	in.n_env = 1;
	snprintf(in.env[0], CT_ARG_MAX, "MODE=echo");
	in.n_labels = 1;
	snprintf(in.labels[0].key, EP_LABEL_MAX, "app");
	snprintf(in.labels[0].value, EP_LABEL_MAX, "web");
	in.n_publish = 1;
	in.publish[0] = (struct ep_publish){ .proto = IPPROTO_TCP, .host_port = 8080, .port = 80 };
	in.memory = 512ull << 20;
	ip_parse("10.244.1.5", &in.ip4);
	ip_parse("fd00:244:0:1::5", &in.ip6);
	in.created = 1764000000;
	in.exit_code = -1;

	text = container_encode(&in);
	CHECK(text != NULL);
	CHECK(container_decode(text, &out) == 0);
	CHECK(memcmp(&in, &out, sizeof(in)) == 0);
	/* The fields the CLI and migration read, by name. */
	json_t *j = json_loads(text, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "ipv4")), "10.244.1.5");
	CHECK_STR(json_string_value(json_object_get(j, "ipv6")), "fd00:244:0:1::5");
	CHECK(json_integer_value(json_object_get(j, "pid")) == 4242);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(j, "publish"), 0), "host_port")) == 8080);
	CHECK_STR(json_string_value(json_array_get(json_object_get(j, "cmd"), 1)), "TCP-LISTEN:80,fork");
	json_decref(j);
	free(text);

	/* An exited one, no addresses yet. */
	snprintf(in.state, sizeof(in.state), CT_EXITED);
	in.exit_code = 137;
	in.pid = 0;
	memset(&in.ip4, 0, sizeof(in.ip4));
	memset(&in.ip6, 0, sizeof(in.ip6));
	text = container_encode(&in);
	CHECK(container_decode(text, &out) == 0 && memcmp(&in, &out, sizeof(in)) == 0);
	free(text);

	CHECK(container_decode("", &out) == -EINVAL);
	CHECK(container_decode("{}", &out) == -EINVAL);
	CHECK(container_decode("{\"name\":\"web\",\"node\":\"n\",\"state\":\"dancing\"}", &out) == -EINVAL);
	CHECK(container_decode("{\"name\":\"web\",\"node\":\"n\",\"state\":\"running\",\"pid\":-3}", &out) == -EINVAL);
	CHECK(container_decode("{\"name\":\"web\",\"node\":\"n\",\"state\":\"running\",\"ipv4\":\"fd00::1\"}", &out) == -EINVAL);
	CHECK(container_decode("{\"name\":\"web\",\"node\":\"n\",\"state\":\"running\",\"env\":[\"x\"]}", &out) == -EINVAL);
	CHECK(container_decode("{\"name\":\"web\",\"node\":\"n\",\"state\":\"running\"}", &out) == 0 &&
	      out.exit_code == -1 && out.n_cmd == 0);
}

static void check_log(const char *in, size_t n, const char *want)
{
	json_t *j = container_log_string(in, n);

	CHECK(j != NULL);
	CHECK_STR(json_string_value(j), want);
	json_decref(j);
}

static void test_log_string(void)
{
	check_log("", 0, "");
	check_log("hello\n", 6, "hello\n");
	check_log("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7");
	check_log("a\xff" "b", 3, "a\xef\xbf\xbd" "b");                 /* invalid byte */
	check_log("a\xc3", 2, "a\xef\xbf\xbd");                       /* truncated sequence */
	check_log("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");           /* overlong '/' */
	check_log("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
	check_log("\xf4\x90\x80\x80", 4,
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");      /* above U+10FFFF */
	check_log("a\0b", 3, "a\xef\xbf\xbd" "b");                    /* NUL */
}

int main(void)
{
	test_log_string();
	test_requests();
	test_validators();
	test_round_trip();
	return harness_done("test_container");
}
