/* Unit tests for the CLI's pure argument parsers and its JSON/text output layer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include "harness.h"
#include "args.h"
#include "print.h"

static void test_publish(void)
{
	struct ep_publish p;
	char err[256];

	CHECK(args_publish("8080:80", &p, err, sizeof(err)) == 0);
	CHECK(p.host_port == 8080 && p.port == 80 && p.proto == IPPROTO_TCP);
	CHECK(args_publish("53:5353/udp", &p, err, sizeof(err)) == 0 && p.proto == IPPROTO_UDP && p.port == 5353);
	CHECK(args_publish("1:65535/tcp", &p, err, sizeof(err)) == 0);
	const char *bad[] = { "", "8080", ":80", "80:", "0:80", "80:0", "65536:80", "80:70000", "a:80",
			      "80:80/sctp", "80:80/", "-1:80", "+80:80", " 80:80", "80:80:90", NULL };
	for (int i = 0; bad[i]; i++) {
		int ret = args_publish(bad[i], &p, err, sizeof(err));
		CHECK(ret == -EINVAL);
		if (ret == 0)
			fprintf(stderr, "accepted '%s'\n", bad[i]);
	}
	CHECK(args_publish("80:80/sctp", &p, err, sizeof(err)) == -EINVAL && strstr(err, "sctp"));
}

static void test_label(void)
{
	struct ep_label l;
	char err[256];

	CHECK(args_label("app=web", &l, err, sizeof(err)) == 0);
	CHECK_STR(l.key, "app");
	CHECK_STR(l.value, "web");
	CHECK(args_label("tier=", &l, err, sizeof(err)) == 0 && l.value[0] == 0);
	CHECK(args_label("k8s.io/app=a-b_c", &l, err, sizeof(err)) == 0);
	CHECK(args_label("=v", &l, err, sizeof(err)) == -EINVAL);
	CHECK(args_label("novalue", &l, err, sizeof(err)) == -EINVAL);
	CHECK(args_label("a b=c", &l, err, sizeof(err)) == -EINVAL);
	CHECK(args_label("a=b c", &l, err, sizeof(err)) == -EINVAL);
}

static void test_uint(void)
{
	long v;

	CHECK(args_uint("3", 1, 16, &v) == 0 && v == 3);
	CHECK(args_uint("16", 1, 16, &v) == 0);
	CHECK(args_uint("17", 1, 16, &v) == -EINVAL);
	CHECK(args_uint("0", 1, 16, &v) == -EINVAL);
	CHECK(args_uint("3x", 1, 16, &v) == -EINVAL);
	CHECK(args_uint("", 1, 16, &v) == -EINVAL);
	CHECK(args_uint("99999999999999999999", 1, 16, &v) == -EINVAL);
}

/* Capture stdout of fn into buf. */
struct cmd_opts {
	bool follow;
	const char *to;
	long timeout;
	int labels;
};

static int count_label(const char *v, void *dst, char *err, size_t len)
{
	struct ep_label l;

	if (args_label(v, &l, err, len))
		return -1;
	(*(int *)dst)++;
	return 0;
}

static bool is_node(const char *v)
{
	return v[0] == 'n';
}

static const struct args_opt cmd_table[] = {
	ARGS_OPT_FLAG("--follow", "-f", struct cmd_opts, follow),
	ARGS_OPT_STRING("--to", NULL, struct cmd_opts, to, is_node, "a node name"),
	ARGS_OPT_LONG("--timeout", NULL, struct cmd_opts, timeout, 0, 3600, "a number of seconds in 0-3600"),
	ARGS_OPT_EACH("--label", NULL, struct cmd_opts, labels, count_label),
	ARGS_OPT_END
};

static int parse(char *line, struct cmd_opts *o, const char **pos, int *rest, char *err)
{
	static char buf[256];
	char *argv[16];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 16; t = strtok(NULL, " "))
		argv[argc++] = t;
	memset(o, 0, sizeof(*o));
	return args_parse(cmd_table, o, argc, argv, pos, 2, rest, err, 256);
}

static void test_parse(void)
{
	struct cmd_opts o;
	const char *pos[2] = { 0 };
	char err[256];
	int rest;

	CHECK(parse("web --to node2 -f --timeout 30 --label a=b --label c=d", &o, pos, NULL, err) == 0);
	CHECK_STR(pos[0], "web");
	CHECK_STR(o.to, "node2");
	CHECK(o.follow && o.timeout == 30 && o.labels == 2);
	CHECK(parse("web extra --follow", &o, pos, NULL, err) == 0);
	CHECK_STR(pos[1], "extra");
	CHECK(parse("a b c", &o, pos, NULL, err) == -EINVAL);
	CHECK_STR(err, "unexpected argument 'c'");
	CHECK(parse("web --bogus", &o, pos, NULL, err) == -EINVAL);
	CHECK_STR(err, "unexpected argument '--bogus'");
	CHECK(parse("web --to", &o, pos, NULL, err) == -EINVAL);
	CHECK_STR(err, "--to needs a value");
	CHECK(parse("web --to xyz", &o, pos, NULL, err) == -EINVAL);
	CHECK_STR(err, "--to 'xyz' is not a node name");
	CHECK(parse("web --timeout 4000", &o, pos, NULL, err) == -EINVAL);
	CHECK_STR(err, "--timeout '4000' is not a number of seconds in 0-3600");
	CHECK(parse("web --label nokey", &o, pos, NULL, err) == -EINVAL);
	CHECK(strstr(err, "not key=value") != NULL);
	CHECK(parse("web --timeout -- x", &o, pos, &rest, err) == -EINVAL);
	CHECK(parse("web -f -- ls -l", &o, pos, &rest, err) == 0);
	CHECK(o.follow && rest == 3);
	CHECK(parse("web -- ls", &o, pos, NULL, err) == -EINVAL);
	CHECK(parse("web", &o, pos, &rest, err) == 0 && rest == 1);
}

static void capture(void (*fn)(void), char *buf, size_t len)
{
	int fds[2], saved = dup(STDOUT_FILENO);
	ssize_t n;

	fflush(stdout);
	if (pipe(fds))
		return;
	dup2(fds[1], STDOUT_FILENO);
	fn();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(fds[1]);
	n = read(fds[0], buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fds[0]);
	close(saved);
}

static void emit(void)
{
	open_json_object(NULL);
	print_string(PRINT_ANY, "name", "name %s\n", "web");
	print_uint(PRINT_ANY, "port", "port %lu\n", 80);
	print_bool(PRINT_JSON, "ready", NULL, true);
	open_json_array(PRINT_JSON, "labels");
	print_string(PRINT_JSON, NULL, NULL, "a=b");
	close_json_array(PRINT_JSON, NULL);
	close_json_object();
	print_flush();
}

static void test_print(void)
{
	char out[1024];
	json_t *j;

	print_init(false);
	capture(emit, out, sizeof(out));
	CHECK_STR(out, "name web\nport 80\n");

	print_init(true);
	capture(emit, out, sizeof(out));
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "name")), "web");
	CHECK(json_integer_value(json_object_get(j, "port")) == 80);
	CHECK(json_is_true(json_object_get(j, "ready")));
	CHECK_STR(json_string_value(json_array_get(json_object_get(j, "labels"), 0)), "a=b");
	json_decref(j);
}

int main(void)
{
	test_parse();
	test_publish();
	test_label();
	test_uint();
	test_print();
	return harness_done("test_args");
}
