/* `petrel policy apply|list|show|delete` and `petrel flows`. A policy file is parsed here
 * first, so its errors are reported before anything is sent; the agent parses it again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
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
	if (is_json_context()) {
		print_json(NULL, resp);
	} else {
		json_array_foreach(json_object_get(resp, "applied"), i, w)
			printf("applied policy %s\n", json_string_value(w));
	}
	json_decref(resp);
	return 0;
}

static void print_policy(json_t *pol, bool row)
{
	static const char *sections[] = { "ingress", "egress", "ingressDeny", "egressDeny" };
	json_t *cnt = json_object_get(pol, "counters"), *ml = json_object_get(json_object_get(pol, "endpointSelector"), "matchLabels");
	char sel[256] = "";
	size_t off = 0;
	const char *k;
	json_t *v;

	json_object_foreach(ml, k, v)
		off += (size_t)snprintf(sel + off, sizeof(sel) - off, "%s%s=%s", off ? "," : "", k, json_string_value(v));
	if (row) {
		int rules = 0;
		for (int s = 0; s < 4; s++)
			rules += (int)json_array_size(json_object_get(pol, sections[s]));
		printf("%-24s %-30s %5d %10lld %12lld\n", json_str(pol, "name"), *sel ? sel : "(all)", rules,
		       (long long)json_integer_value(json_object_get(cnt, "packets")),
		       (long long)json_integer_value(json_object_get(cnt, "bytes")));
		return;
	}
	printf("policy %s (id %lld)\n  selects  %s\n", json_str(pol, "name"),
	       (long long)json_integer_value(json_object_get(pol, "id")), *sel ? sel : "(every endpoint)");
	for (int s = 0; s < 4; s++) {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(pol, sections[s]), i, r) {
			char *t = json_dumps(r, JSON_COMPACT);
			printf("  %-11s rule %zu: %s\n", sections[s], i, t);
			free(t);
		}
	}
	printf("  counters on %s: %lld packets, %lld bytes decided by this policy\n", json_str(cnt, "node"),
	       (long long)json_integer_value(json_object_get(cnt, "packets")),
	       (long long)json_integer_value(json_object_get(cnt, "bytes")));
}

int cmd_policy_list(struct cli *c, int argc, char **argv)
{
	json_t *resp, *pol;
	size_t i;

	if (argc)
		return cli_usage(c, "policy list", "unexpected argument '%s'", argv[0]);
	if (cli_api(c, "GET", "/v1/policies", NULL, &resp))
		return 1;
	if (is_json_context()) {
		print_json(NULL, json_object_get(resp, "policies"));
	} else {
		printf("%-24s %-30s %5s %10s %12s\n", "NAME", "SELECTOR", "RULES", "PACKETS", "BYTES");
		json_array_foreach(json_object_get(resp, "policies"), i, pol)
			print_policy(pol, true);
	}
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
	if (is_json_context())
		print_json(NULL, resp);
	else
		print_policy(resp, false);
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
	if (is_json_context())
		print_json(NULL, resp);
	else
		printf("deleted policy %s\n", argv[0]);
	json_decref(resp);
	return 0;
}

int cmd_flows(struct cli *c, int argc, char **argv)
{
	char path[256] = "/v1/flows?x=1";
	size_t off = strlen(path);

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
			off += (size_t)snprintf(path + off, sizeof(path) - off, "&follow=1");
		} else if (!strcmp(argv[i], "--endpoint") && i + 1 < argc) {
			if (!name_valid(argv[++i]))
				return cli_usage(c, "flows", "'%s' is not a valid endpoint name", argv[i]);
			off += (size_t)snprintf(path + off, sizeof(path) - off, "&endpoint=%s", argv[i]);
		} else if (!strcmp(argv[i], "--verdict") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "allowed") && strcmp(argv[i], "denied"))
				return cli_usage(c, "flows", "--verdict must be allowed or denied");
			off += (size_t)snprintf(path + off, sizeof(path) - off, "&verdict=%s", argv[i]);
		} else {
			return cli_usage(c, "flows", "unexpected argument '%s'", argv[i]);
		}
	}
	return cli_stream(c, path, "flow");
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command policy_commands[] = {
	{ "policy", "apply", cmd_policy_apply, "apply the policies in a JSON file",
	  "petrel [-j] policy apply FILE\n\n"
	  "Reads one policy object or an array of them (docs/policy.md) and applies them across the\n"
	  "cluster, replacing policies of the same name. The file is checked first: any error names\n"
	  "the file, the policy and the field, and nothing is applied. Selectors that match no\n"
	  "endpoint yet are reported as warnings.\n\n"
	  "Example:\n  petrel policy apply web.json\n" },
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
	  "petrel [--node NAME] flows show [--follow] [--endpoint NAME] [--verdict allowed|denied]\n\n"
	  "Prints one JSON object per policy decision on this node: source and destination (ip,\n"
	  "port, identity, labels), protocol, direction, verdict, and the policy and rule that\n"
	  "decided (\"default-deny\" when no rule matched). Events are rate-limited in the\n"
	  "datapath. --follow keeps printing new events.\n\n"
	  "Example:\n  petrel --node node1 flows show --follow --verdict denied\n" },
	{ 0 }
};
