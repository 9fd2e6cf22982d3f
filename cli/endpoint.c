/* `petrel endpoint add|list|show|del|exec`. Arguments are parsed into a request with the
 * pure parsers of lib/args.c, then sent to the agent. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "args.h"
#include "config.h"
#include "print.h"

void cli_fmt_publish(json_t *ep, const char *key, char *buf, size_t len)
{
	size_t i, off = 0;
	json_t *v;

	buf[0] = 0;
	json_array_foreach(print_lookup(ep, key), i, v)
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%lld:%lld/%s", off ? "," : "",
						(long long)json_integer_value(json_object_get(v, "host_port")),
						(long long)json_integer_value(json_object_get(v, "port")),
						json_str(v, "proto"));
	if (!off)
		snprintf(buf, len, "-");
}

static const char endpoint_header[] = "NAME             NODE       IPV4            IPV6                   STATE    LABELS PUBLISH\n";
static const struct print_field endpoint_row[] = {
	PF("name", "%-16s "), PF("node", "%-10s "), PF("ipv4", "%-15s "), PF("ipv6", "%-22s "),
	PF("state", "%-8s "), PF_FN("labels", "%s ", print_fmt_pairs), PF_FN("publish", "%s\n", cli_fmt_publish),
	PF_END
};
static const struct print_field endpoint_lines[] = {
	PF("name", "endpoint %s\n"), PF("node", "  node      %s\n"), PF("state", "  state     %s\n"),
	PF("ipv4", "  ipv4      %s\n"), PF("ipv6", "  ipv6      %s\n"), PF("mac", "  mac       %s\n"),
	PF("netns", "  netns     %s\n"), PF("ifname", "  ifname    %s\n"),
	PF("identity", "  identity  %s\n"), PF_FN("labels", "  labels    %s\n", print_fmt_pairs),
	PF_FN("publish", "  publish   %s\n", cli_fmt_publish),
	PF_END
};
static const struct print_field endpoint_counters[] = {
	PF("counters.rx_packets", "  counters  rx %s packets "), PF("counters.rx_bytes", "%s bytes, "),
	PF("counters.tx_packets", "tx %s packets "), PF("counters.tx_bytes", "%s bytes\n"),
	PF_END
};

static void print_endpoint(json_t *ep)
{
	print_record(PRINT_ANY, ep, endpoint_lines);
	if (json_object_get(ep, "counters"))
		print_record(PRINT_FP, ep, endpoint_counters);
}

static int name_arg(struct cli *c, const char *cmd, int argc, char **argv, const char **name)
{
	if (argc < 1)
		return cli_usage(c, cmd, "missing endpoint NAME");
	if (!name_valid(argv[0]))
		return cli_usage(c, cmd, "'%s' is not a valid endpoint name (a-z, 0-9 and '-', at most 63)", argv[0]);
	*name = argv[0];
	return 0;
}

int cli_opt_label(const char *v, void *dst, char *err, size_t len)
{
	struct ep_label l;

	if (args_label(v, &l, err, len))
		return -EINVAL;
	json_object_set_new(*(json_t **)dst, l.key, json_string(l.value));
	return 0;
}

int cli_opt_publish(const char *v, void *dst, char *err, size_t len)
{
	struct ep_publish p;
	char why[200];

	if (args_publish(v, &p, why, sizeof(why))) {
		snprintf(err, len, "--publish %s", why);
		return -EINVAL;
	}
	json_array_append_new(*(json_t **)dst, json_pack("{s:i, s:i, s:s}", "host_port", p.host_port,
							"port", p.port, "proto", ep_proto_str(p.proto)));
	return 0;
}

struct add_opts {
	json_t *labels, *publish;
};

static const struct args_opt add_options[] = {
	ARGS_OPT_EACH("--label", NULL, struct add_opts, labels, cli_opt_label),
	ARGS_OPT_EACH("--publish", NULL, struct add_opts, publish, cli_opt_publish),
	ARGS_OPT_END
};

int cmd_endpoint_add(struct cli *c, int argc, char **argv)
{
	struct add_opts o = { json_object(), json_array() };
	const char *name = NULL;
	json_t *body, *resp;
	int ret;

	if ((ret = name_arg(c, "endpoint add", argc, argv, &name)) ||
	    (ret = cli_args(c, "endpoint add", add_options, &o, argc - 1, argv + 1, NULL, 0, NULL))) {
		json_decref(o.labels);
		json_decref(o.publish);
		return ret;
	}
	body = json_pack("{s:s, s:o, s:o}", "name", name, "labels", o.labels, "publish", o.publish);
	ret = cli_api(c, "POST", "/v1/endpoints", body, &resp);
	json_decref(body);
	if (ret)
		return ret;
	print_endpoint(resp);
	json_decref(resp);
	return 0;
}

struct list_opts {
	const char *on;
};

static const struct args_opt list_options[] = {
	ARGS_OPT_STRING("--on", NULL, struct list_opts, on, name_valid, "a node name"),
	ARGS_OPT_END
};

int cmd_endpoint_list(struct cli *c, int argc, char **argv)
{
	char path[128] = "/v1/endpoints";
	json_t *resp;

	struct list_opts o = { 0 };
	int ret;

	if ((ret = cli_args(c, "endpoint list", list_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	if (o.on)
		snprintf(path, sizeof(path), "/v1/endpoints?node=%s", o.on);
	if (cli_api(c, "GET", path, NULL, &resp))
		return 1;
	print_table(PRINT_ANY, json_object_get(resp, "endpoints"), endpoint_header, endpoint_row);
	json_decref(resp);
	return 0;
}

static int get_endpoint(struct cli *c, const char *name, json_t **ep)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	return cli_api(c, "GET", path, NULL, ep);
}

int cmd_endpoint_show(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	json_t *ep;
	int ret;

	if ((ret = name_arg(c, "endpoint show", argc, argv, &name)))
		return ret;
	if (argc > 1)
		return cli_usage(c, "endpoint show", "unexpected argument '%s'", argv[1]);
	if (get_endpoint(c, name, &ep))
		return 1;
	print_endpoint(ep);
	json_decref(ep);
	return 0;
}

int cmd_endpoint_del(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	char path[128];
	json_t *resp;
	int ret;

	if ((ret = name_arg(c, "endpoint del", argc, argv, &name)))
		return ret;
	if (argc > 1)
		return cli_usage(c, "endpoint del", "unexpected argument '%s'", argv[1]);
	snprintf(path, sizeof(path), "/v1/endpoints/%s", name);
	if (cli_api(c, "DELETE", path, NULL, &resp))
		return 1;
	print_record(PRINT_ANY, resp, (const struct print_field[]){ PF("deleted", "deleted endpoint %s\n"), PF_END });
	json_decref(resp);
	return 0;
}

/* Enter a network namespace (name under /run/netns, or a path) and exec argv. */
int exec_in_netns(struct cli *c, const char *ns, char **argv)
{
	char path[300];
	int fd;

	if (ns[0] == '/')
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error(c, "cannot open network namespace %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		return cli_error(c, "cannot enter network namespace %s: %s", path, strerror(errno));
	close(fd);
	execvp(argv[0], argv);
	return cli_error(c, "cannot run '%s': %s", argv[0], strerror(errno));
}

int cmd_endpoint_exec(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	json_t *ep;
	char ns[256];
	int ret;

	if ((ret = name_arg(c, "endpoint exec", argc, argv, &name)))
		return ret;
	if (argc < 3 || strcmp(argv[1], "--"))
		return cli_usage(c, "endpoint exec", "expected NAME -- CMD [ARG]...");
	if ((ret = cli_require_root(c, "endpoint exec")))
		return ret;
	if (get_endpoint(c, name, &ep))
		return 1;
	snprintf(ns, sizeof(ns), "%s", json_string_value(json_object_get(ep, "netns")));
	json_decref(ep);
	return exec_in_netns(c, ns, argv + 2);
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command endpoint_commands[] = {
	{ "endpoint", "add", cmd_endpoint_add, "create an endpoint (netns + veth + addresses)",
	  "petrel [-j] [--node NAME] endpoint add NAME [--label KEY=VALUE]... [--publish HOSTPORT:PORT[/tcp|udp]]...\n\n"
	  "Creates endpoint NAME on the node: a network namespace with a veth, one IPv4 and one\n"
	  "IPv6 address from the node's block, default routes, and the host side attached to the\n"
	  "eBPF datapath. --publish makes HOSTPORT on the node's underlay addresses reach PORT.\n\n"
	  "Options:\n"
	  "  --label KEY=VALUE              a label (repeatable), used by policy selectors\n"
	  "  --publish HOSTPORT:PORT[/P]    publish a port, tcp by default (repeatable)\n\n"
	  "Example:\n  petrel --node node1 endpoint add web --label app=web --publish 8080:80/tcp\n" },
	{ "endpoint", "list", cmd_endpoint_list, "list every endpoint in the cluster",
	  "petrel [-j] [--node NAME] endpoint list [--on NODE]\n\n"
	  "Lists every endpoint in the cluster, whichever node answers, sorted by name; with\n"
	  "--on, only those that run on NODE. The answer comes from the agent's cache of\n"
	  "cluster state, so it needs no store round trip (and works while etcd is down).\n\n"
	  "Example:\n  petrel -j endpoint list | jq -r '.[] | .name + \" \" + .ipv4'\n"
	  "  petrel --node node2 endpoint list --on node2\n" },
	{ "endpoint", "show", cmd_endpoint_show, "show one endpoint",
	  "petrel [-j] [--node NAME] endpoint show NAME\n\n"
	  "Shows the endpoint's node, addresses, MAC, namespace, labels, published ports and\n"
	  "state; with its packet and byte counters when asked of the node hosting it.\n\n"
	  "Example:\n  petrel --node node1 endpoint show web\n" },
	{ "endpoint", "del", cmd_endpoint_del, "delete an endpoint",
	  "petrel [--node NAME] endpoint del NAME\n\n"
	  "Deletes the endpoint, its namespace and its published ports. Ask the node hosting\n"
	  "it. The address becomes unreachable from every node.\n\n"
	  "Example:\n  petrel --node node1 endpoint del web\n" },
	{ "endpoint", "exec", cmd_endpoint_exec, "run a command inside an endpoint's namespace",
	  "petrel [--node NAME] endpoint exec NAME -- CMD [ARG]...\n\n"
	  "Runs CMD in the endpoint's network namespace (on this machine). The exit status is CMD's.\n\n"
	  "Example:\n  petrel endpoint exec client -- ping -c1 10.244.1.2\n" },
	{ 0 }
};
