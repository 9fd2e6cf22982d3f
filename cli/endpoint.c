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

void print_endpoint(json_t *ep, bool row)
{
	char labels[512] = "", ports[256] = "";
	const char *k;
	json_t *v, *cnt;
	size_t i, off = 0;

	json_object_foreach(json_object_get(ep, "labels"), k, v)
		off += (size_t)snprintf(labels + off, sizeof(labels) - off, "%s%s=%s", off ? "," : "", k,
					json_string_value(v));
	off = 0;
	json_array_foreach(json_object_get(ep, "publish"), i, v)
		off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%lld:%lld/%s", off ? "," : "",
					(long long)json_integer_value(json_object_get(v, "host_port")),
					(long long)json_integer_value(json_object_get(v, "port")), json_str(v, "proto"));
	if (row) {
		printf("%-16s %-10s %-15s %-22s %-8s %s%s%s\n", json_str(ep, "name"), json_str(ep, "node"),
		       json_str(ep, "ipv4"), json_str(ep, "ipv6"), json_str(ep, "state"), labels, *ports ? " " : "", ports);
		return;
	}
	printf("endpoint %s\n", json_str(ep, "name"));
	printf("  node      %s\n  state     %s\n  ipv4      %s\n  ipv6      %s\n  mac       %s\n"
	       "  netns     %s\n  ifname    %s\n  identity  %lld\n  labels    %s\n  publish   %s\n",
	       json_str(ep, "node"), json_str(ep, "state"), json_str(ep, "ipv4"), json_str(ep, "ipv6"), json_str(ep, "mac"),
	       json_str(ep, "netns"), json_str(ep, "ifname"),
	       (long long)json_integer_value(json_object_get(ep, "identity")),
	       *labels ? labels : "-", *ports ? ports : "-");
	cnt = json_object_get(ep, "counters");
	if (cnt)
		printf("  counters  rx %lld packets %lld bytes, tx %lld packets %lld bytes\n",
		       (long long)json_integer_value(json_object_get(cnt, "rx_packets")),
		       (long long)json_integer_value(json_object_get(cnt, "rx_bytes")),
		       (long long)json_integer_value(json_object_get(cnt, "tx_packets")),
		       (long long)json_integer_value(json_object_get(cnt, "tx_bytes")));
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

int cmd_endpoint_add(struct cli *c, int argc, char **argv)
{
	json_t *labels = json_object(), *publish = json_array(), *body, *resp;
	const char *name = NULL;
	char err[256];
	int ret;

	if ((ret = name_arg(c, "endpoint add", argc, argv, &name)))
		goto fail;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--label") && i + 1 < argc) {
			struct ep_label l;
			if (args_label(argv[++i], &l, err, sizeof(err))) {
				ret = cli_usage(c, "endpoint add", "%s", err);
				goto fail;
			}
			json_object_set_new(labels, l.key, json_string(l.value));
		} else if (!strcmp(argv[i], "--publish") && i + 1 < argc) {
			struct ep_publish p;
			if (args_publish(argv[++i], &p, err, sizeof(err))) {
				ret = cli_usage(c, "endpoint add", "--publish %s", err);
				goto fail;
			}
			json_array_append_new(publish, json_pack("{s:i, s:i, s:s}", "host_port", p.host_port,
								 "port", p.port, "proto", ep_proto_str(p.proto)));
		} else {
			ret = cli_usage(c, "endpoint add", "unexpected argument '%s'", argv[i]);
			goto fail;
		}
	}
	body = json_pack("{s:s, s:o, s:o}", "name", name, "labels", labels, "publish", publish);
	ret = cli_api(c, "POST", "/v1/endpoints", body, &resp);
	json_decref(body);
	if (ret)
		return ret;
	if (is_json_context())
		print_json(NULL, resp);
	else
		print_endpoint(resp, false);
	json_decref(resp);
	return 0;
fail:
	json_decref(labels);
	json_decref(publish);
	return ret;
}

int cmd_endpoint_list(struct cli *c, int argc, char **argv)
{
	json_t *resp, *ep, *arr;
	char path[128] = "/v1/endpoints";
	size_t i;

	for (int k = 0; k < argc; k++) {
		if (!strcmp(argv[k], "--on") && k + 1 < argc && name_valid(argv[k + 1]))
			snprintf(path, sizeof(path), "/v1/endpoints?node=%s", argv[++k]);
		else
			return cli_usage(c, "endpoint list", "unexpected argument '%s'", argv[k]);
	}
	if (cli_api(c, "GET", path, NULL, &resp))
		return 1;
	arr = json_object_get(resp, "endpoints");
	if (is_json_context()) {
		print_json(NULL, arr ? arr : json_array());
	} else {
		printf("%-16s %-10s %-15s %-22s %-8s %s\n", "NAME", "NODE", "IPV4", "IPV6", "STATE", "LABELS PUBLISH");
		json_array_foreach(arr, i, ep)
			print_endpoint(ep, true);
	}
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
	if (is_json_context())
		print_json(NULL, ep);
	else
		print_endpoint(ep, false);
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
	if (is_json_context())
		print_json(NULL, resp);
	else
		printf("deleted endpoint %s\n", name);
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
