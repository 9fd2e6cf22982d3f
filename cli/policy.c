/* `petrel policy apply|list|show|delete` and `petrel flows`. A policy file is parsed here
 * first, so its errors are reported before anything is sent; the agent parses it again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "args.h"
#include "api_client.h"
#include "config.h"
#include "policy.h"
#include "print.h"
#include "util.h"

int cmd_policy_apply(struct cli *c, int argc, char **argv)
{
	struct policy *p;
	size_t n;
	char *text = NULL, err[512];
	json_t *body, *resp, *w;
	size_t i;
	int ret;

	if (argc != 1)
		return cli_usage(c, "policy apply", "expected exactly one FILE");
	ret = read_file(argv[0], &text);
	if (ret)
		return cli_error(c, "cannot read %s: %s", argv[0], strerror(-ret));
	if (policy_parse(text, argv[0], &p, &n, err, sizeof(err))) {
		free(text);
		return cli_error(c, "%s (nothing was applied)", err);
	}
	policy_free(p, n);
	body = json_pack("{s:s, s:s}", "file", argv[0], "text", text);
	free(text);
	ret = cli_api(c, "POST", "/v1/policies", body, &resp);
	json_decref(body);
	if (ret)
		return ret;
	json_array_foreach(json_object_get(resp, "warnings"), i, w)
		fprintf(stderr, "petrel: warning: %s\n", json_string_value(w));
	print_record(PRINT_JSON, resp, NULL);
	print_table(PRINT_FP, json_object_get(resp, "applied"), NULL,
		    (const struct print_field[]){ PF("", "applied policy %s\n"), PF_END });
	json_decref(resp);
	return 0;
}

static const char *const sections[] = { "ingress", "egress", "ingressDeny", "egressDeny" };

static void fmt_selector(json_t *pol, const char *key, char *buf, size_t len)
{
	print_fmt_pairs(pol, key, buf, len);
	if (!strcmp(buf, "-"))
		snprintf(buf, len, "(every endpoint)");
}

static void fmt_rule_count(json_t *pol, const char *key, char *buf, size_t len)
{
	size_t rules = 0;

	for (int s = 0; s < 4; s++)
		rules += json_array_size(json_object_get(pol, sections[s]));
	snprintf(buf, len, "%zu", rules);
}

static const char policy_header[] = "NAME                     SELECTOR                       RULES    PACKETS        BYTES\n";
static const struct print_field policy_row[] = {
	PF("name", "%-24s "), PF_FN("endpointSelector.matchLabels", "%-30s ", fmt_selector),
	PF_FN(NULL, "%5s ", fmt_rule_count), PF("counters.packets", "%10s "),
	PF("counters.bytes", "%12s\n"),
	PF_END
};

static void print_policy(json_t *pol)
{
	print_record(PRINT_ANY, pol, (const struct print_field[]){
		PF("name", "policy %s "), PF("id", "(id %s)\n"),
		PF_FN("endpointSelector.matchLabels", "  selects  %s\n", fmt_selector), PF_END });
	for (int s = 0; s < 4; s++) {
		char fmt[32];

		snprintf(fmt, sizeof(fmt), "  %-11s %%s\n", sections[s]);
		print_table(PRINT_FP, json_object_get(pol, sections[s]), NULL,
			    (const struct print_field[]){ PF("", fmt), PF_END });
	}
	print_record(PRINT_FP, pol, (const struct print_field[]){
		PF("counters.node", "  counters on %s: "), PF("counters.packets", "%s packets, "),
		PF("counters.bytes", "%s bytes decided by this policy\n"), PF_END });
}

int cmd_policy_list(struct cli *c, int argc, char **argv)
{
	json_t *resp;
	int ret;

	if ((ret = cli_get(c, "policy list", argc, argv, "/v1/policies", &resp)))
		return ret;
	print_table(PRINT_ANY, json_object_get(resp, "policies"), policy_header, policy_row);
	json_decref(resp);
	return 0;
}

static int name_path(struct cli *c, const char *cmd, int argc, char **argv, char *path, size_t len)
{
	if (argc != 1)
		return cli_usage(c, cmd, "expected exactly one policy NAME");
	if (!name_valid(argv[0]))
		return cli_usage(c, cmd, "'%s' is not a valid policy name", argv[0]);
	snprintf(path, len, "/v1/policies/%s", argv[0]);
	return 0;
}

int cmd_policy_show(struct cli *c, int argc, char **argv)
{
	char path[128];
	json_t *resp;
	int ret;

	if ((ret = name_path(c, "policy show", argc, argv, path, sizeof(path))))
		return ret;
	if (cli_api(c, "GET", path, NULL, &resp))
		return 1;
	print_policy(resp);
	json_decref(resp);
	return 0;
}

int cmd_policy_delete(struct cli *c, int argc, char **argv)
{
	char path[128];
	json_t *resp;
	int ret;

	if ((ret = name_path(c, "policy delete", argc, argv, path, sizeof(path))))
		return ret;
	if (cli_api(c, "DELETE", path, NULL, &resp))
		return 1;
	print_record(PRINT_ANY, resp, (const struct print_field[]){
		PF("deleted", "deleted policy %s\n"), PF_END });
	json_decref(resp);
	return 0;
}

struct flows_opts {
	bool follow, graph;
	const char *endpoint, *verdict;
};

static bool verdict_valid(const char *v)
{
	return !strcmp(v, "allowed") || !strcmp(v, "denied");
}

static const struct args_opt flows_options[] = {
	ARGS_OPT_FLAG("--follow", "-f", struct flows_opts, follow),
	ARGS_OPT_FLAG("--graph", NULL, struct flows_opts, graph),
	ARGS_OPT_STRING("--endpoint", NULL, struct flows_opts, endpoint, name_valid, "a valid endpoint name"),
	ARGS_OPT_STRING("--verdict", NULL, struct flows_opts, verdict, verdict_valid, "allowed or denied"),
	ARGS_OPT_END
};

int cmd_flows(struct cli *c, int argc, char **argv)
{
	struct flows_opts o = { 0 };
	char path[256];
	int ret;

	if ((ret = cli_args(c, "flows", flows_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	if (o.graph && o.follow)
		return cli_usage(c, "flows", "--graph draws the events so far: not with --follow");
	snprintf(path, sizeof(path), "/v1/flows?x=1%s%s%s%s%s", o.follow ? "&follow=1" : "",
		 o.endpoint ? "&endpoint=" : "", o.endpoint ?: "", o.verdict ? "&verdict=" : "",
		 o.verdict ?: "");
	return o.graph ? flows_graph(c, path) : cli_stream(c, path, "flow");
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command policy_commands[] = {
	{ "policy", "apply", cmd_policy_apply, "apply the policies in a JSON or YAML file",
	  "petrel [-j] policy apply FILE\n\n"
	  "Reads JSON or YAML, one or more documents (YAML's ---, or a JSON array), each a petrel\n"
	  "policy, a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy (cilium.io/v2) or a\n"
	  "Kubernetes NetworkPolicy (networking.k8s.io/v1), and applies them across the cluster,\n"
	  "replacing policies of the same name (docs/policy.md). An endpoint's namespace is its\n"
	  "label io.kubernetes.pod.namespace (default: \"default\").\n\n"
	  "The file is checked first: any error names the file, the policy and the field, and\n"
	  "nothing is applied. Fields petrel cannot enforce (L7 rules, toFQDNs, named ports, ...)\n"
	  "are errors with the reason, never ignored. The whole file is stored in one transaction:\n"
	  "the cluster sees all of it or none. Selectors that match no endpoint yet are reported as\n"
	  "warnings.\n\n"
	  "Examples:\n  petrel policy apply web.json\n  petrel policy apply cilium-policies.yaml\n" },
	{ "policy", "list", cmd_policy_list, "list policies with their counters",
	  "petrel [-j] policy list\n\n"
	  "Lists every policy with its selector, rule count, and the packets and bytes this node's\n"
	  "datapath decided by it.\n\nExample:\n  petrel --node node2 policy list\n" },
	{ "policy", "show", cmd_policy_show, "show one policy and its counters",
	  "petrel [-j] policy show NAME\n\n"
	  "Shows the policy's selector, each rule, and its per-node packet and byte counters.\n\n"
	  "Example:\n  petrel policy show allow-web\n" },
	{ "policy", "delete", cmd_policy_delete, "delete a policy",
	  "petrel policy delete NAME\n\n"
	  "Deletes the policy everywhere. Endpoints no other policy selects become open again.\n\n"
	  "Example:\n  petrel policy delete allow-web\n" },
	{ "flows", "show", cmd_flows, "print policy decisions as JSON lines",
	  "petrel [-j] [--node NAME] flows show [--follow | --graph] [--endpoint NAME]\n"
	  "                                     [--verdict allowed|denied]\n\n"
	  "Prints one JSON object per policy decision on this node: source and destination (ip,\n"
	  "port, identity, labels), protocol, direction, verdict, and the policy and rule that\n"
	  "decided (\"default-deny\" when no rule matched). Events are rate-limited in the\n"
	  "datapath. --follow keeps printing new events.\n\n"
	  "--graph draws the events so far as a service map in SVG (graphviz's dot): a box per\n"
	  "identity with its labels and this node's endpoints in it, an edge per source, destination,\n"
	  "protocol, port and verdict with its count and deciding policies (allowed solid green,\n"
	  "denied dashed red). With -j it prints that graph as JSON: nodes and edges.\n\n"
	  "Examples:\n  petrel --node node1 flows show --follow --verdict denied\n"
	  "  petrel --node node1 flows --graph > map.svg\n" },
	{ 0 }
};
