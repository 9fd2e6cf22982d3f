/* `petrel node status`: the agent's view of its node and of the cluster. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "print.h"

static void fmt_alive(json_t *n, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s", json_is_true(print_lookup(n, key)) ? "alive" : "down");
}

static const struct print_field node_lines[] = {
	PF("name", "node %s  "), PF("mode", "mode %s  "), PF("store", "store %s  "),
	PF("uptime_s", "up %ss\n"),
	PF("underlay.device", "  underlay  %s  "), PF("underlay.ipv4", "%s  "), PF("underlay.ipv6", "%s\n"),
	PF("block.ipv4", "  blocks    %s  "), PF("block.ipv6", "%s\n"),
	PF("endpoints", "  endpoints %s local\n"),
	PF_FN("drops", "  drops     %s\n", print_fmt_pairs),
	PF(NULL, "  nodes:\n"),
	PF_END
};
static const struct print_field node_row[] = {
	PF("name", "    %-12s "), PF("ipv4", "%-16s "), PF("ipv6", "%-22s "), PF("block4", "%-16s "),
	PF_FN("alive", "%s\n", fmt_alive),
	PF_END
};

int cmd_node_status(struct cli *c, int argc, char **argv)
{
	json_t *st;
	int ret;

	if ((ret = cli_get(c, "node status", argc, argv, "/v1/node", &st)))
		return ret;
	print_record(PRINT_ANY, st, node_lines);
	print_table(PRINT_FP, json_object_get(st, "nodes"), NULL, node_row);
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
