/* petrel check: ask this node's agent to run the cluster's connectivity probes, and print
 * each with pass, fail or skip and the reason. The exit status is 1 when any failed. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "args.h"
#include "print.h"

struct check_opts {
	const char *outside;
};

static bool host_port(const char *v)
{
	const char *colon = strrchr(v, ':');

	return colon && colon != v && colon[1];
}

static const struct args_opt check_options[] = {
	ARGS_OPT_STRING("--outside", NULL, struct check_opts, outside, host_port,
			"ADDRESS:PORT of a TCP server outside the cluster ([v6]:port for IPv6)"),
	ARGS_OPT_END
};

static const struct print_field check_row[] = {
	PF("result", "%-5s "), PF("check", "%-44s "), PF("detail", "%s\n"), PF_END
};

static int cmd_check(struct cli *c, int argc, char **argv)
{
	struct check_opts o = { 0 };
	json_t *body, *resp;
	int ret, failed;

	if ((ret = cli_args(c, "check", check_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	body = json_object();
	if (o.outside)
		json_object_set_new(body, "outside", json_string(o.outside));
	fprintf(stderr, "petrel: checking the cluster from this node (probe endpoints, a probe policy)...\n");
	ret = cli_api_timeout(c, "POST", "/v1/check", body, 120000, &resp);
	json_decref(body);
	if (ret)
		return ret;
	print_record(PRINT_JSON, resp, NULL);
	print_table(PRINT_FP, json_object_get(resp, "checks"), "RESULT CHECK                                        DETAIL\n",
		    check_row);
	failed = (int)json_integer_value(json_object_get(resp, "failed"));
	if (!c->json)
		printf("%d check%s failed\n", failed, failed == 1 ? "" : "s");
	json_decref(resp);
	if (failed)
		print_flush();           /* the JSON too: a failed check is a result, not an error */
	return failed ? 1 : 0;
}

/* This file's command and its help: main.c lists and matches it. */
const struct command check_commands[] = {
	{ "check", NULL, cmd_check, "probe the cluster's connectivity and policy, pass or fail",
	  "petrel [-j] [--node NAME] check [--outside ADDRESS:PORT]\n\n"
	  "Runs, from this node, the probes an operator needs on a live cluster, and prints each\n"
	  "with pass, fail or skip and the reason (one JSON object with -j). It creates probe\n"
	  "endpoints named chk-ID-... (labelled petrel.io/check) with TCP and UDP echo responders\n"
	  "on this node, asks up to three other nodes' agents over their mutual-TLS channel for one\n"
	  "each, and checks:\n"
	  "  - every node's agent: it answers over the peer channel (a stopped agent fails here,\n"
	  "    named);\n"
	  "  - on the same node and across nodes: TCP and UDP echoes over IPv4 and IPv6;\n"
	  "  - MTU: a UDP datagram filling the endpoint's MTU, DF set, to another node and back;\n"
	  "  - in through a published port: from another node's probe endpoint to this node's\n"
	  "    underlay address;\n"
	  "  - to the outside: a TCP connection to --outside (skipped without it);\n"
	  "  - a policy that must deny: a probe policy (ingress: []) on a probe endpoint stops a\n"
	  "    connection that passed a moment before;\n"
	  "  - the stack latency probes: accounting enabled on a probe endpoint attaches them.\n"
	  "Everything it created is removed at the end; the other agents remove theirs when the\n"
	  "check's connection closes, also if it dies. One check runs at a time per node.\n\n"
	  "Exit status: 0 when nothing failed, 1 when a check failed.\n\n"
	  "Examples:\n  petrel check\n  petrel --node node1 check --outside 198.18.0.100:80\n" },
	{ 0 }
};
