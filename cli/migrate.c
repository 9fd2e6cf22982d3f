/* petrel migrate: ask the agent running a container to move it to another node, printing
 * the agent's progress lines as they come and the final report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "api_client.h"
#include "args.h"
#include "config.h"
#include "print.h"

struct watch {
	struct cli *c;
	json_t *report;
	json_t *error;
};

static int on_line(json_t *line, void *arg)
{
	struct watch *w = arg;
	json_t *v;
	char b[32];

	if ((v = json_object_get(line, "report"))) {
		w->report = json_incref(v);
	} else if (json_object_get(line, "error")) {
		w->error = json_incref(line);
	} else if (json_object_get(line, "phase")) {
		print_fmt_bytes(line, "bytes", b, sizeof(b));
		fprintf(stderr, "  %-9s %8.3f s %11s  %s\n",
			json_string_value(json_object_get(line, "phase")),
			json_integer_value(json_object_get(line, "elapsed_ms")) / 1000.0, b,
			json_string_value(json_object_get(line, "message")) ?: "");
	}
	return 0;
}

/* Where the freeze went, in the order it happened. */
static void fmt_phases(json_t *r, const char *key, char *buf, size_t len)
{
	static const char *phases[] = { "hold", "pause", "dump", "transfer", "restore", "release" };
	json_t *ph = print_lookup(r, key);
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]) && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s %lld", i ? ", " : "", phases[i],
					(long long)json_integer_value(json_object_get(ph, phases[i])));
}

static const struct print_field report_lines[] = {
	PF(NULL, "migration report\n"),
	PF("container", "  container        %s\n"),
	PF("from", "  from             %s\n"),
	PF("to", "  to               %s\n"),
	PF("mode", "  mode             %s\n"),
	PF("total_ms", "  total_ms         %s\n"),
	PF("frozen_ms", "  frozen_ms        %s\n"),
	PF("restore_ms", "  restore_ms       %s\n"),
	PF("runc_restore_ms", "  runc_restore_ms  %s\n"),
	PF("early_restore", "  early_restore    %s\n"),
	PF("checkpoint_ms", "  checkpoint_ms    %s\n"),
	PF("bytes", "  bytes            %s\n"),
	PF("wire_bytes", "  wire_bytes       %s\n"),
	PF("tcp_connections", "  tcp_connections  %s\n"),
	PF("udp_flows", "  udp_flows        %s\n"),
	PF("relayed_flows", "  relayed_flows    %s\n"),
	PF("held_packets", "  held_packets     %s\n"),
	PF("criu_dump_ms", "  criu_dump_ms     %s\n"),
	PF("criu_restore_ms", "  criu_restore_ms  %s\n"),
	PF("floor_ms", "  floor_ms         %s\n"),
	PF("frozen_over_floor", "  frozen/floor     %s\n"),
	PF_FN("phases_ms", "  phases_ms        %s\n", fmt_phases),
	PF_END
};

struct migrate_opts {
	const char *to;
	bool lazy, pre_copy;
};

static const struct args_opt migrate_options[] = {
	ARGS_OPT_STRING("--to", NULL, struct migrate_opts, to, name_valid, "a node name"),
	ARGS_OPT_FLAG("--lazy", NULL, struct migrate_opts, lazy),
	ARGS_OPT_FLAG("--pre-copy", NULL, struct migrate_opts, pre_copy),
	ARGS_OPT_END
};

int cmd_migrate(struct cli *c, int argc, char **argv)
{
	struct migrate_opts o = { 0 };
	const char *name = NULL, *to = NULL, *sock;
	struct watch w = { .c = c };
	json_t *ct = NULL, *body;
	char path[160];
	bool lazy = false, pre_copy = false;
	long status = 0;
	int ret, err = 0;

	if ((ret = cli_args(c, "migrate", migrate_options, &o, argc, argv, &name, 1, NULL)))
		return ret;
	to = o.to;
	lazy = o.lazy;
	pre_copy = o.pre_copy;
	if (!name || !to)
		return cli_usage(c, "migrate", "need a container NAME and --to NODE");
	if (lazy && pre_copy)
		return cli_usage(c, "migrate", "--lazy and --pre-copy exclude each other");
	if (cli_locate_container(c, name, &ct))
		return 1;
	json_decref(ct);
	sock = cli_socket(c, &err);
	if (!sock)
		return cli_error(c, "no agent to ask (%s)", strerror(err));
	snprintf(path, sizeof(path), "/v1/containers/%s/migrate", name);
	body = json_pack("{s:s, s:b, s:b}", "to", to, "lazy", lazy, "pre_copy", pre_copy);
	fprintf(stderr, "migrating %s to %s%s\n", name, to, lazy ? " (lazy)" : "");
	ret = api_stream(sock, "POST", path, body, on_line, &w, &status);
	json_decref(body);
	if (ret)
		return cli_error(c, "the agent stopped answering: %s", strerror(-ret));
	if (status >= 300 && !w.error)
		return 1;       /* api_stream printed nothing: the body was a plain error */
	if (w.error) {
		const char *hint = json_string_value(json_object_get(w.error, "hint"));

		if (json_is_true(json_object_get(w.error, "rolled_back")))
			fprintf(stderr, "petrel: rolled back: %s still runs where it was\n", name);
		ret = cli_error(c, "%s", json_string_value(json_object_get(w.error, "error")));
		if (hint && *hint && !c->json)
			fprintf(stderr, "  hint: %s\n", hint);
		json_decref(w.error);
		json_decref(w.report);
		return ret;
	}
	if (!w.report)
		return cli_error(c, "the migration ended without a report; see the agent's log");
	print_stream_record(w.report, report_lines);
	json_decref(w.report);
	return 0;
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command migrate_commands[] = {
	{ "migrate", NULL, cmd_migrate, "move a running container to another node, connections intact",
	  "petrel [-j] [--node NAME] migrate NAME --to NODE [--lazy | --pre-copy]\n\n"
	  "Live-migrates container NAME to NODE with CRIU. The container keeps its IPv4 and IPv6\n"
	  "addresses, MAC, memory and file system changes, and every TCP connection and UDP flow:\n"
	  "with other containers, and with outside clients that came in through a port published\n"
	  "on the old node (that node keeps relaying those flows; new connections use the port\n"
	  "published on NODE). While it is frozen, packets for it are held on the node it leaves\n"
	  "and delivered as soon as it runs again, there or on NODE. Memory pages, images and the writable layer stream to NODE\n"
	  "compressed, over mutual TLS between the agents; nothing is staged on the source disk.\n\n"
	  "Any failure before NODE confirms the container runs there (NODE's agent dying, the link\n"
	  "failing, a corrupt stream, the restore failing) rolls back: the container keeps running\n"
	  "where it was, connections intact. It never runs on both nodes. Bad requests (unknown\n"
	  "container or node, not running, its own node, a migration already under way, no or an\n"
	  "older CRIU or kernel on NODE, the image missing there) fail before anything is frozen.\n\n"
	  "Progress goes to standard error, phase by phase with elapsed time and bytes. The report\n"
	  "(one JSON object with -j) gives total_ms, frozen_ms (freeze to resume), restore_ms and\n"
	  "runc_restore_ms, early_restore (NODE started runc restore before the freeze and held it\n"
	  "until the images came), phases_ms (hold, pause, dump, transfer, restore, release: where the\n"
	  "freeze went), bytes (raw) and wire_bytes (compressed), tcp_connections, udp_flows,\n"
	  "relayed_flows, held_packets and mode, and the freeze's floor: criu_dump_ms and\n"
	  "criu_restore_ms (what CRIU itself spent, by its logs), floor_ms and frozen_over_floor.\n\n"
	  "Options:\n"
	  "  --to NODE   the destination node (required)\n"
	  "  --lazy      post-copy: restore first, fetch memory on demand (userfaultfd), so the\n"
	  "              freeze does not grow with memory. Once NODE runs it, its memory still\n"
	  "              lives here until every page has gone: if the transfer breaks before that\n"
	  "              (this node or its agent dying), NODE kills it rather than run it on\n"
	  "              missing memory. Refused with the reason where CRIU's lazy pages do not\n"
	  "              work (see docs/migration.md)\n"
	  "  --pre-copy  iterative pre-copy (memory copied while the container runs): refused before\n"
	  "              anything is frozen, with the reason. CRIU tracks dirty memory only with\n"
	  "              the kernel's soft-dirty bits, which some kernels lack (see\n"
	  "              docs/migration.md, \"Pre-copy\")\n\n"
	  "Example:\n  petrel migrate web --to node2\n" },
	{ 0 }
};
