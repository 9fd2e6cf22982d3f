/* `petrel node status`: the agent's view of its node and of the cluster. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "print.h"

int cmd_node_status(struct cli *c, int argc, char **argv)
{
	json_t *st, *n, *v;
	const char *k;
	size_t i;

	if (argc)
		return cli_usage(c, "node status", "unexpected argument '%s'", argv[0]);
	if (cli_api(c, "GET", "/v1/node", NULL, &st))
		return 1;
	if (is_json_context()) {
		print_json(NULL, st);
		json_decref(st);
		return 0;
	}
	printf("node %s  mode %s  store %s  up %llds\n", json_str(st, "name"), json_str(st, "mode"),
	       json_str(st, "store"), (long long)json_integer_value(json_object_get(st, "uptime_s")));
	v = json_object_get(st, "underlay");
	printf("  underlay  %s  %s  %s\n", json_str(v, "device"), json_str(v, "ipv4"), json_str(v, "ipv6"));
	v = json_object_get(st, "block");
	printf("  blocks    %s  %s\n", json_str(v, "ipv4"), json_str(v, "ipv6"));
	printf("  endpoints %lld local\n", (long long)json_integer_value(json_object_get(st, "endpoints")));
	printf("  nodes:\n");
	json_array_foreach(json_object_get(st, "nodes"), i, n)
		printf("    %-12s %-16s %-22s %-16s %s\n", json_str(n, "name"), json_str(n, "ipv4"), json_str(n, "ipv6"),
		       json_str(n, "block4"), json_is_true(json_object_get(n, "alive")) ? "alive" : "down");
	printf("  drops:");
	json_object_foreach(json_object_get(st, "drops"), k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
	json_decref(st);
	return 0;
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command node_commands[] = {
	{ "node", "status", cmd_node_status, "show this node's agent, blocks and cluster view",
	  "petrel [-j] [--node NAME | --socket PATH] node status\n\n"
	  "Shows the node's name, routing mode, state store, underlay addresses, address blocks,\n"
	  "the nodes it knows with their liveness, and the datapath's drop counters by reason.\n\n"
	  "Example:\n  petrel --node node2 node status\n" },
	{ 0 }
};
