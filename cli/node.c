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

static const struct print_field relay_lines[] = {
	PF("node", "node %s  "), PF("expired", "flows let go so far %s  "),
	PF("checks_failed", "checks unanswered %s\n"), PF_END
};
static const struct print_field through_row[] = {
	PF("proto", "  %-4s "), PF("endpoint", "%s"), PF("endpoint_port", ":%-6s "),
	PF("peer", "%s"), PF("peer_port", ":%-6s "), PF("via", "via %s\n"), PF_END
};
static const struct print_field for_row[] = {
	PF("proto", "  %-4s "), PF("kind", "%-10s "), PF("endpoint", "%s"),
	PF("endpoint_port", ":%-6s "), PF("peer", "%s"), PF("peer_port", ":%-6s "),
	PF("endpoint_node", "now on %-10s "), PF("expires_s", "conntrack %ss\n"), PF_END
};

int cmd_node_relays(struct cli *c, int argc, char **argv)
{
	json_t *r;
	int ret;

	if ((ret = cli_get(c, "node relays", argc, argv, "/v1/relays", &r)))
		return ret;
	print_record(PRINT_ANY, r, relay_lines);
	if (!c->json) {
		printf("sent back through the node that translates them: %zu\n",
		       json_array_size(json_object_get(r, "through")));
		print_table(PRINT_FP, json_object_get(r, "through"), NULL, through_row);
		printf("translated here for endpoints that moved away: %zu\n",
		       json_array_size(json_object_get(r, "for")));
		print_table(PRINT_FP, json_object_get(r, "for"), NULL, for_row);
	}
	json_decref(r);
	return 0;
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command node_commands[] = {
	{ "node", "status", cmd_node_status, "show this node's agent, blocks and cluster view",
	  "petrel [-j] [--node NAME | --socket PATH] node status\n\n"
	  "Shows the node's name, routing mode, state store, underlay addresses, address blocks,\n"
	  "the nodes it knows with their liveness, and the datapath's drop counters by reason.\n\n"
	  "Example:\n  petrel --node node2 node status\n" },
	{ "node", "relays", cmd_node_relays, "show flows relayed for migrated endpoints",
	  "petrel [-j] [--node NAME | --socket PATH] node relays\n\n"
	  "A migrated endpoint's flows that another node translates keep passing through that\n"
	  "node: clients that came in through a port it publishes (DNAT), and the endpoint's\n"
	  "own connections out of the cluster, which it masqueraded (SNAT). Shows both sides:\n\n"
	  "  through  flows of endpoints now here, sent back through the node that translates\n"
	  "           them (proto, endpoint address:port, peer address:port, via node);\n"
	  "  for      flows this node translates for endpoints that moved away (proto, kind:\n"
	  "           published or outbound, addresses, where the endpoint is now, and how long\n"
	  "           conntrack keeps the flow without traffic).\n\n"
	  "A relay lasts as long as the translating node's conntrack entry: every 10 s a node\n"
	  "asks each node it relays through which flows its conntrack still holds and lets go\n"
	  "of the others (counted in expired, and in petrel_relay_flows_expired_total). New\n"
	  "connections leave through the endpoint's current node.\n\n"
	  "Example:\n  petrel --node node1 node relays\n" },
	{ 0 }
};
