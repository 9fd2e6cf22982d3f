/* The petrel CLI: shared context, the command table, and helpers that turn agent errors
 * into messages. One file per object implements its verbs. */
#pragma once
#include <stdbool.h>
#include <jansson.h>

#define LAB_DIR "/run/petrel/labs"
#define DEFAULT_LAB "petrel"
#define DEFAULT_SOCKET "/run/petrel/petreld.sock"

struct cli {
	bool json;
	const char *lab;            /* --lab, $PETREL_LAB, or "petrel" */
	const char *node;           /* --node */
	const char *socket_opt;     /* --socket */
	char socket[256];           /* resolved lazily by cli_socket() */
};

typedef int (*cmd_fn)(struct cli *c, int argc, char **argv);

struct command {
	const char *object, *verb;  /* verb NULL: a one-word command (`petrel run ...`) */
	cmd_fn fn;
	const char *summary;
	const char *help;           /* man-page style: synopsis, description, options, example */
};

/* Print "petrel: msg" (and {"error": msg} in JSON mode) on stderr; returns 1. */
int cli_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: message plus a pointer to --help; returns 2. */
int cli_usage(struct cli *c, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Call the agent; on a non-2xx status or transport failure print the error and return 1. */
int cli_api(struct cli *c, const char *method, const char *path, json_t *body, json_t **resp);
/* The same with a reply deadline in ms (0: the default 30 s), for slow requests. */
int cli_api_timeout(struct cli *c, const char *method, const char *path, json_t *body,
		    long timeout_ms, json_t **resp);
/* GET path for command cmd, which takes no arguments (a usage error otherwise). */
int cli_get(struct cli *c, const char *cmd, int argc, char **argv, const char *path, json_t **resp);
const char *cli_socket(struct cli *c, int *err);
bool cli_is_help(int argc, char **argv);
/* args_parse for command cmd, a usage error (2) on bad input. */
struct args_opt;
int cli_args(struct cli *c, const char *cmd, const struct args_opt *opts, void *cfg, int argc,
	     char **argv, const char **pos, int npos, int *rest);
/* ARGS_EACH callbacks shared by `endpoint add` and `run`: --label KEY=VALUE into a JSON
 * object, --publish HOSTPORT:PORT[/PROTO] into a JSON array (dst: json_t **). */
int cli_opt_label(const char *v, void *dst, char *err, size_t len);
int cli_opt_publish(const char *v, void *dst, char *err, size_t len);
int cli_require_root(struct cli *c, const char *what);
/* print_field formatter: the publish array at key as "HOSTPORT:PORT/PROTO,..." ("-" if none). */
void cli_fmt_publish(json_t *rec, const char *key, char *buf, size_t len);

/* Each object file's commands, ending with { 0 }. */
extern const struct command lab_commands[], lab_router_commands[], node_commands[], endpoint_commands[], policy_commands[], container_commands[], migrate_commands[], latency_commands[], ioam_commands[], check_commands[], etcd_commands[];

/* Per-object verbs. */
int cmd_node_status(struct cli *c, int argc, char **argv);
int cmd_node_relays(struct cli *c, int argc, char **argv);
int cmd_endpoint_add(struct cli *c, int argc, char **argv);
int cmd_endpoint_list(struct cli *c, int argc, char **argv);
int cmd_endpoint_show(struct cli *c, int argc, char **argv);
int cmd_endpoint_del(struct cli *c, int argc, char **argv);
int cmd_endpoint_exec(struct cli *c, int argc, char **argv);
int cmd_lab_up(struct cli *c, int argc, char **argv);
int cmd_lab_down(struct cli *c, int argc, char **argv);
int cmd_lab_status(struct cli *c, int argc, char **argv);
int cmd_lab_exec(struct cli *c, int argc, char **argv);
int cmd_lab_router(struct cli *c, int argc, char **argv);

int cmd_policy_apply(struct cli *c, int argc, char **argv);
int cmd_policy_list(struct cli *c, int argc, char **argv);
int cmd_policy_show(struct cli *c, int argc, char **argv);
int cmd_policy_delete(struct cli *c, int argc, char **argv);
int cmd_flows(struct cli *c, int argc, char **argv);
/* flow_graph.c: the flow events at path drawn as a service map (SVG; JSON with -j). */
int flows_graph(struct cli *c, const char *path);
int cmd_ioam_namespace(struct cli *c, int argc, char **argv);
int cmd_ioam_encap(struct cli *c, int argc, char **argv);
int cmd_ioam_role(struct cli *c, int argc, char **argv);
int cmd_ioam_show(struct cli *c, int argc, char **argv);
int cmd_ioam_traces(struct cli *c, int argc, char **argv);

/* GET path from the agent and print its JSON lines as they come (flows, IOAM traces). */
int cli_stream(struct cli *c, const char *path, const char *what);

/* GET /v1/containers/NAME; in a lab, switch to the agent of the node hosting it. */
int cli_locate_container(struct cli *c, const char *name, json_t **ct);
int cmd_migrate(struct cli *c, int argc, char **argv);

/* Top-level verbs (table entries with verb NULL): containers run with runc. */
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_ps(struct cli *c, int argc, char **argv);
int cmd_logs(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_exec(struct cli *c, int argc, char **argv);
/* Delete a lab's containers and unmount their rootfs before the lab directory goes. */
void lab_containers_down(const char *lab);

int cmd_latency_enable(struct cli *c, int argc, char **argv);
int cmd_latency_disable(struct cli *c, int argc, char **argv);
int cmd_latency_show(struct cli *c, int argc, char **argv);
int cmd_latency_list(struct cli *c, int argc, char **argv);
int cmd_ping(struct cli *c, int argc, char **argv);

/* The string at o[k], or "" when absent: for printing agent replies. */
const char *json_str(json_t *o, const char *k);

