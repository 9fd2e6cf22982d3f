/* `petrel ioam namespace|encap|role|show|traces`, modelled on `ip ioam`. Values are checked
 * here with the same pure parsers the agent uses, so mistakes are reported before anything
 * is sent; the agent checks again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "api_client.h"
#include "cidr.h"
#include "ioam.h"
#include "print.h"

static int done(struct cli *c, int ret, json_t *resp, const char *text)
{
	if (ret)
		return ret;
	if (is_json_context())
		print_json(NULL, resp);
	else
		printf("%s\n", text);
	json_decref(resp);
	return 0;
}

int cmd_ioam_namespace(struct cli *c, int argc, char **argv)
{
	const char *cmd = "ioam namespace";
	char err[256], path[64], msg[128];
	json_t *body, *resp = NULL;
	uint16_t id;
	uint64_t v;
	int ret;

	if (argc < 2 || (strcmp(argv[0], "add") && strcmp(argv[0], "del")))
		return cli_usage(c, cmd, "expected add ID [data HEX] [wide HEX], or del ID");
	if (ioam_ns_parse(argv[1], &id, err, sizeof(err)))
		return cli_usage(c, cmd, "%s", err);
	if (!strcmp(argv[0], "del")) {
		if (argc != 2)
			return cli_usage(c, cmd, "del takes only the namespace id");
		snprintf(path, sizeof(path), "/v1/ioam/namespaces/%u", id);
		snprintf(msg, sizeof(msg), "deleted namespace %u", id);
		ret = cli_api(c, "DELETE", path, NULL, &resp);
		return done(c, ret, resp, msg);
	}
	body = json_pack("{s:s}", "id", argv[1]);
	for (int i = 2; i < argc; i++) {
		bool wide = !strcmp(argv[i], "wide");

		if ((strcmp(argv[i], "data") && !wide) || i + 1 >= argc) {
			json_decref(body);
			return cli_usage(c, cmd, "unexpected '%s'; expected data HEX or wide HEX", argv[i]);
		}
		if (ioam_value_parse(argv[i + 1], wide ? 64 : 32, &v, err, sizeof(err))) {
			json_decref(body);
			return cli_usage(c, cmd, "%s %s", argv[i], err);
		}
		json_object_set_new(body, argv[i], json_string(argv[i + 1]));
		i++;
	}
	ret = cli_api(c, "POST", "/v1/ioam/namespaces", body, &resp);
	json_decref(body);
	snprintf(msg, sizeof(msg), "namespace %u: data %s, wide %s", id, json_str(resp, "data"),
		 json_str(resp, "wide"));
	return done(c, ret, resp, msg);
}

int cmd_ioam_encap(struct cli *c, int argc, char **argv)
{
	const char *cmd = "ioam encap", *ns = NULL, *type = NULL, *size = NULL, *freq = NULL, *to = NULL;
	char err[256], msg[256];
	json_t *body, *resp = NULL;
	bool add;
	int ret;

	if (argc < 1 || (strcmp(argv[0], "add") && strcmp(argv[0], "del")))
		return cli_usage(c, cmd, "expected add or del");
	add = !strcmp(argv[0], "add");
	for (int i = 1; i < argc; i++) {
		const char **slot = !strcmp(argv[i], "--ns") ? &ns : !strcmp(argv[i], "--trace-type") ? &type :
				    !strcmp(argv[i], "--size") ? &size : !strcmp(argv[i], "--freq") ? &freq :
				    !strcmp(argv[i], "--to") ? &to : NULL;

		if (!slot || i + 1 >= argc)
			return cli_usage(c, cmd, "unexpected argument '%s'", argv[i]);
		*slot = argv[++i];
	}
	if (!ns)
		return cli_usage(c, cmd, "--ns ID is required");
	{
		uint16_t id;
		struct cidr cd;

		if (ioam_ns_parse(ns, &id, err, sizeof(err)))
			return cli_usage(c, cmd, "%s", err);
		if (to && (cidr_parse(to, &cd) || cd.addr.family != AF_INET6))
			return cli_usage(c, cmd, "--to '%s' is not an IPv6 CIDR", to);
	}
	body = json_pack("{s:s}", "namespace", ns);
	if (to)
		json_object_set_new(body, "to", json_string(to));
	if (add) {
		uint32_t t, k, n;
		char *end;
		long sz;

		if (!type || !size) {
			json_decref(body);
			return cli_usage(c, cmd, "add needs --trace-type HEX and --size BYTES");
		}
		sz = strtol(size, &end, 10);
		if (ioam_type_parse(type, &t, err, sizeof(err)) ||
		    (*end || !*size ? (snprintf(err, sizeof(err), "--size '%s' is not a number", size), 1) :
		     ioam_size_check(t, sz, err, sizeof(err))) ||
		    (freq && ioam_freq_parse(freq, &k, &n, err, sizeof(err)))) {
			json_decref(body);
			return cli_usage(c, cmd, "%s", err);
		}
		json_object_set_new(body, "trace_type", json_string(type));
		json_object_set_new(body, "size", json_integer(sz));
		if (freq)
			json_object_set_new(body, "freq", json_string(freq));
	} else if (type || size || freq) {
		json_decref(body);
		return cli_usage(c, cmd, "del takes only --ns and --to");
	}
	ret = cli_api(c, add ? "POST" : "DELETE", "/v1/ioam/encap", body, &resp);
	json_decref(body);
	if (add)
		snprintf(msg, sizeof(msg), "encap namespace %s to %s: trace type %s, %s octets, %lld octets a node, "
			 "freq %s", ns, json_str(resp, "to"), json_str(resp, "trace_type"), size,
			 (long long)json_integer_value(json_object_get(resp, "node_len")) * 4, json_str(resp, "freq"));
	else
		snprintf(msg, sizeof(msg), "deleted encap of namespace %s", ns);
	return done(c, ret, resp, msg);
}

int cmd_ioam_role(struct cli *c, int argc, char **argv)
{
	const char *dev = NULL;
	bool in = false, out = false, none = false;
	json_t *body, *resp = NULL;
	char msg[128];
	int ret, roles = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < argc)
			dev = argv[++i];
		else if (!strcmp(argv[i], "ingress"))
			in = true, roles++;
		else if (!strcmp(argv[i], "egress"))
			out = true, roles++;
		else if (!strcmp(argv[i], "none"))
			none = true, roles++;
		else
			return cli_usage(c, "ioam role", "unexpected argument '%s'", argv[i]);
	}
	if (!dev)
		return cli_usage(c, "ioam role", "--dev DEV is required");
	if (!roles || (none && roles > 1))
		return cli_usage(c, "ioam role", "give ingress, egress (or both), or none");
	body = json_pack("{s:s, s:b, s:b}", "dev", dev, "ingress", in, "egress", out);
	ret = cli_api(c, "POST", "/v1/ioam/roles", body, &resp);
	json_decref(body);
	snprintf(msg, sizeof(msg), "%s: ingress (transit/decap) %s, egress (encap) %s", dev,
		 in ? "on" : "off", out ? "on" : "off");
	return done(c, ret, resp, msg);
}

int cmd_ioam_show(struct cli *c, int argc, char **argv)
{
	json_t *resp = NULL, *v;
	const char *k;
	size_t i;

	if (argc)
		return cli_usage(c, "ioam show", "no arguments expected");
	if (cli_api(c, "GET", "/v1/ioam", NULL, &resp))
		return 1;
	if (is_json_context()) {
		print_json(NULL, resp);
		json_decref(resp);
		return 0;
	}
	printf("node %s, IOAM node id %lld\n", json_str(resp, "node"),
	       (long long)json_integer_value(json_object_get(resp, "node_id")));
	json_array_foreach(json_object_get(resp, "namespaces"), i, v)
		printf("namespace %lld data %s wide %s\n", (long long)json_integer_value(json_object_get(v, "id")),
		       json_str(v, "data"), json_str(v, "wide"));
	json_array_foreach(json_object_get(resp, "encap"), i, v)
		printf("encap ns %lld to %s trace-type %s size %lld freq %s\n",
		       (long long)json_integer_value(json_object_get(v, "namespace")), json_str(v, "to"),
		       json_str(v, "trace_type"), (long long)json_integer_value(json_object_get(v, "size")),
		       json_str(v, "freq"));
	json_array_foreach(json_object_get(resp, "roles"), i, v)
		printf("role %s ingress %s egress %s (%s)\n", json_str(v, "dev"),
		       json_is_true(json_object_get(v, "ingress")) ? "on" : "off",
		       json_is_true(json_object_get(v, "egress")) ? "on" : "off",
		       !strcmp(json_str(v, "via"), "datapath") ? "inside the datapath's programs" :
		       "filters of their own");
	printf("counters:");
	json_object_foreach(json_object_get(resp, "counters"), k, v)
		printf(" %s=%lld", k, (long long)json_integer_value(v));
	printf("\n");
	json_decref(resp);
	return 0;
}

int cmd_ioam_traces(struct cli *c, int argc, char **argv)
{
	const char *path = "/v1/ioam/traces";

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
			path = "/v1/ioam/traces?follow=1";
		else
			return cli_usage(c, "ioam traces", "unexpected argument '%s'", argv[i]);
	}
	return cli_stream(c, path, "trace");
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command ioam_commands[] = {
	{ "ioam", "namespace", cmd_ioam_namespace, "add or delete an IOAM namespace (cluster-wide)",
	  "petrel [-j] ioam namespace add ID [data HEX] [wide HEX]\n"
	  "       petrel [-j] ioam namespace del ID\n\n"
	  "IPv6 In-situ OAM (RFC 9197) namespaces, as `ip ioam namespace` has them. Every node\n"
	  "fills its data into trace options of the namespaces it knows and leaves the others\n"
	  "alone. The namespace data (32 bits) and wide data (64 bits) go into trace fields 5 and\n"
	  "10; unset, they are all-ones (unknown). Namespaces live in cluster state, so every node\n"
	  "knows them. A namespace an encap rule uses cannot be deleted.\n\n"
	  "Example:\n  petrel ioam namespace add 123 data 0xdeadbeef wide 0xcafec0caf00dc0de\n" },
	{ "ioam", "encap", cmd_ioam_encap, "insert IOAM traces into pod traffic (cluster-wide)",
	  "petrel [-j] ioam encap add --ns ID --trace-type HEX --size BYTES [--freq K/N] [--to CIDR]\n"
	  "       petrel [-j] ioam encap del --ns ID [--to CIDR]\n\n"
	  "IPv6 packets a local endpoint sends to another node get, on the underlay device's egress,\n"
	  "a Hop-by-Hop header (or their existing one extended) with an RFC 9486 IOAM option of\n"
	  "type 0x31 carrying an RFC 9197 pre-allocated trace, this node's data filled in. Rules\n"
	  "to the same prefix share one header: one trace option per namespace, in id order.\n\n"
	  "Options:\n"
	  "  --ns ID            an existing namespace (`petrel ioam namespace add`)\n"
	  "  --trace-type HEX   24-bit IOAM-Trace-Type; bits 0-11 (mask 0xfff000): 0 hop limit +\n"
	  "                     node id, 1 interfaces, 2 seconds, 3 subseconds, 4 transit delay,\n"
	  "                     5 namespace data, 6 queue depth, 7 checksum complement, 8 wide\n"
	  "                     node id, 9 wide interfaces, 10 wide namespace data, 11 buffer\n"
	  "                     occupancy (fields a node cannot know are all-ones)\n"
	  "  --size BYTES       pre-allocated room for every node's data: a multiple of 4, at most\n"
	  "                     244, at least one node's data\n"
	  "  --freq K/N         insert into K of every N packets (default 1/1)\n"
	  "  --to CIDR          destinations this applies to (default: the cluster's IPv6 CIDR)\n\n"
	  "Example:\n  petrel ioam encap add --ns 123 --trace-type 0xf00000 --size 64 --freq 1/100\n" },
	{ "ioam", "role", cmd_ioam_role, "choose the IOAM roles of one of this node's devices",
	  "petrel [-j] [--node NAME] ioam role --dev DEV ingress|egress|none...\n\n"
	  "ingress attaches transit and decap to DEV's ingress (packets for local endpoints have\n"
	  "their IOAM removed and exported, others get this node's data); egress attaches encap to\n"
	  "its egress. Give both words for both. By default the underlay device has ingress once a\n"
	  "namespace exists and egress once an encap rule exists; none turns IOAM off there.\n\n"
	  "Example:\n  petrel --node node2 ioam role --dev eth0 ingress\n" },
	{ "ioam", "show", cmd_ioam_show, "show IOAM configuration, roles and counters",
	  "petrel [-j] [--node NAME] ioam show\n\n"
	  "Shows the node's IOAM node id, the namespaces and encap rules of the cluster, the\n"
	  "devices IOAM is attached to on this node, and its counters (inserted, transit, decap,\n"
	  "exported, overflow, unknown namespace, inconsistent, malformed-dropped, ...).\n\n"
	  "Example:\n  petrel --node node1 -j ioam show | jq .counters\n" },
	{ "ioam", "traces", cmd_ioam_traces, "print decapsulated IOAM traces as JSON lines",
	  "petrel [--node NAME] ioam traces [--follow]\n\n"
	  "Prints one JSON object per trace the node decapsulated: time, namespace, source and\n"
	  "destination, trace type, overflow, and the nodes in path order (first node first) with\n"
	  "their fields; unknown values are null. --follow keeps printing new traces.\n\n"
	  "Example:\n  petrel --node node2 ioam traces --follow | jq -c '[.nodes[].node_id]'\n" },
	{ 0 }
};
