/* `petrel ioam namespace|encap|role|show|traces`, modelled on `ip ioam`. Values are checked
 * here with the same pure parsers the agent uses, so mistakes are reported before anything
 * is sent; the agent checks again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "args.h"
#include "api_client.h"
#include "cidr.h"
#include "ioam.h"
#include "print.h"

static int done(struct cli *c, int ret, json_t *resp, const char *text)
{
	if (ret)
		return ret;
	print_record(PRINT_JSON, resp, NULL);
	print_string(PRINT_FP, NULL, "%s\n", text);
	json_decref(resp);
	return 0;
}

struct ns_opts {
	const char *data, *wide;
};

static bool data_valid(const char *v)
{
	uint64_t x;
	char err[128];

	return ioam_value_parse(v, 32, &x, err, sizeof(err)) == 0;
}

static bool wide_valid(const char *v)
{
	uint64_t x;
	char err[128];

	return ioam_value_parse(v, 64, &x, err, sizeof(err)) == 0;
}

/* ip-ioam style keywords. */
static const struct args_opt ns_options[] = {
	ARGS_OPT_STRING("data", NULL, struct ns_opts, data, data_valid, "a 32-bit hex value"),
	ARGS_OPT_STRING("wide", NULL, struct ns_opts, wide, wide_valid, "a 64-bit hex value"),
	ARGS_OPT_END
};

int cmd_ioam_namespace(struct cli *c, int argc, char **argv)
{
	struct ns_opts o = { 0 };
	const char *cmd = "ioam namespace";
	char err[256], path[64], msg[128];
	json_t *body, *resp = NULL;
	uint16_t id;
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
	if ((ret = cli_args(c, cmd, ns_options, &o, argc - 2, argv + 2, NULL, 0, NULL)))
		return ret;
	body = json_pack("{s:s}", "id", argv[1]);
	if (o.data)
		json_object_set_new(body, "data", json_string(o.data));
	if (o.wide)
		json_object_set_new(body, "wide", json_string(o.wide));
	ret = cli_api(c, "POST", "/v1/ioam/namespaces", body, &resp);
	json_decref(body);
	snprintf(msg, sizeof(msg), "namespace %u: data %s, wide %s", id, json_str(resp, "data"),
		 json_str(resp, "wide"));
	return done(c, ret, resp, msg);
}

struct encap_opts {
	const char *ns, *type, *size, *freq, *to;
};

static const struct args_opt encap_options[] = {
	ARGS_OPT_STRING("--ns", NULL, struct encap_opts, ns, NULL, NULL),
	ARGS_OPT_STRING("--trace-type", NULL, struct encap_opts, type, NULL, NULL),
	ARGS_OPT_STRING("--size", NULL, struct encap_opts, size, NULL, NULL),
	ARGS_OPT_STRING("--freq", NULL, struct encap_opts, freq, NULL, NULL),
	ARGS_OPT_STRING("--to", NULL, struct encap_opts, to, NULL, NULL),
	ARGS_OPT_END
};

int cmd_ioam_encap(struct cli *c, int argc, char **argv)
{
	struct encap_opts o = { 0 };
	const char *cmd = "ioam encap", *ns = NULL, *type = NULL, *size = NULL, *freq = NULL, *to = NULL;
	char err[256], msg[256];
	json_t *body, *resp = NULL;
	bool add;
	int ret;

	if (argc < 1 || (strcmp(argv[0], "add") && strcmp(argv[0], "del")))
		return cli_usage(c, cmd, "expected add or del");
	add = !strcmp(argv[0], "add");
	if ((ret = cli_args(c, cmd, encap_options, &o, argc - 1, argv + 1, NULL, 0, NULL)))
		return ret;
	ns = o.ns, type = o.type, size = o.size, freq = o.freq, to = o.to;
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

struct role_opts {
	const char *dev;
	bool in, out, none;
};

static const struct args_opt role_options[] = {
	ARGS_OPT_STRING("--dev", NULL, struct role_opts, dev, NULL, NULL),
	ARGS_OPT_FLAG("ingress", NULL, struct role_opts, in),
	ARGS_OPT_FLAG("egress", NULL, struct role_opts, out),
	ARGS_OPT_FLAG("none", NULL, struct role_opts, none),
	ARGS_OPT_END
};

int cmd_ioam_role(struct cli *c, int argc, char **argv)
{
	struct role_opts o = { 0 };
	const char *dev = NULL;
	bool in, out, none;
	json_t *body, *resp = NULL;
	char msg[128];
	int ret, roles = 0;

	if ((ret = cli_args(c, "ioam role", role_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	dev = o.dev, in = o.in, out = o.out, none = o.none;
	roles = in + out + none;
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

static void fmt_on(json_t *r, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s", json_is_true(print_lookup(r, key)) ? "on" : "off");
}

static void fmt_via(json_t *r, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s", !strcmp(json_str(r, key), "datapath") ?
		 "inside the datapath's programs" : "filters of their own");
}

int cmd_ioam_show(struct cli *c, int argc, char **argv)
{
	json_t *resp = NULL;

	if (argc)
		return cli_usage(c, "ioam show", "no arguments expected");
	if (cli_api(c, "GET", "/v1/ioam", NULL, &resp))
		return 1;
	print_record(PRINT_ANY, resp, (const struct print_field[]){
		PF("node", "node %s, "), PF("node_id", "IOAM node id %s\n"), PF_END });
	print_table(PRINT_FP, json_object_get(resp, "namespaces"), NULL, (const struct print_field[]){
		PF("id", "namespace %s "), PF("data", "data %s "), PF("wide", "wide %s\n"), PF_END });
	print_table(PRINT_FP, json_object_get(resp, "encap"), NULL, (const struct print_field[]){
		PF("namespace", "encap ns %s "), PF("to", "to %s "), PF("trace_type", "trace-type %s "),
		PF("size", "size %s "), PF("freq", "freq %s\n"), PF_END });
	print_table(PRINT_FP, json_object_get(resp, "roles"), NULL, (const struct print_field[]){
		PF("dev", "role %s "), PF_FN("ingress", "ingress %s ", fmt_on),
		PF_FN("egress", "egress %s ", fmt_on), PF_FN("via", "(%s)\n", fmt_via), PF_END });
	print_record(PRINT_FP, resp, (const struct print_field[]){
		PF_FN("counters", "counters: %s\n", print_fmt_pairs), PF_END });
	json_decref(resp);
	return 0;
}

int cmd_ioam_traces(struct cli *c, int argc, char **argv)
{
	const char *path = "/v1/ioam/traces";

	struct { bool follow; } o = { 0 };
	const struct args_opt opts[] = { ARGS_OPT_FLAG("--follow", "-f", typeof(o), follow), ARGS_OPT_END };
	int ret;

	if ((ret = cli_args(c, "ioam traces", opts, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	if (o.follow)
		path = "/v1/ioam/traces?follow=1";
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
