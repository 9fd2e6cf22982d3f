/* `petrel lab`: a whole cluster in network namespaces on one machine. A fabric bridge joins
 * the nodes and an "outside" client; etcd runs in the fabric when there are 2+ nodes; one
 * petreld runs per node. Everything a lab creates is named "<lab>-*", so `lab down` can
 * remove it even when lab.json is lost. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "cli.h"
#include "lab.h"
#include "api_client.h"
#include "args.h"
#include "cidr.h"
#include "config.h"
#include "netlink.h"
#include "netns.h"
#include "print.h"
#include "proc.h"
#include "util.h"


static int status_print(struct cli *c, const char *name);

struct up_opts {
	const char *name, *mode, *backend;
	long nodes, ct_buckets, etcd_members;
	bool insecure_etcd;
};

static bool mode_valid(const char *v)
{
	return !strcmp(v, "vxlan") || !strcmp(v, "native");
}

static bool backend_valid(const char *v)
{
	return !strcmp(v, "ebpf") || !strcmp(v, "iptables");
}

#define LAB_NAME_OPT(T) \
	ARGS_OPT_STRING("--name", NULL, T, name, lab_name_valid, "a lab name (1-12 characters of a-z and 0-9)")

static const struct args_opt up_options[] = {
	LAB_NAME_OPT(struct up_opts),
	ARGS_OPT_LONG("--nodes", NULL, struct up_opts, nodes, 1, MAX_NODES, "a number of nodes in 1-16"),
	ARGS_OPT_STRING("--mode", NULL, struct up_opts, mode, mode_valid, "vxlan or native"),
	ARGS_OPT_STRING("--policy-backend", NULL, struct up_opts, backend, backend_valid, "ebpf or iptables"),
	ARGS_OPT_LONG("--conntrack-buckets", NULL, struct up_opts, ct_buckets, 1024, 1 << 24,
		      "a number in 1024-16777216"),
	ARGS_OPT_LONG("--etcd-members", NULL, struct up_opts, etcd_members, 1, MAX_ETCD_MEMBERS,
		      "a number of etcd members in 1-5"),
	ARGS_OPT_FLAG("--insecure-etcd", NULL, struct up_opts, insecure_etcd),
	ARGS_OPT_END
};

/* lab down, status and exec take only the lab's name. */
struct name_opt {
	const char *name;
};

static const struct args_opt name_options[] = {
	LAB_NAME_OPT(struct name_opt),
	ARGS_OPT_END
};

int cmd_lab_up(struct cli *c, int argc, char **argv)
{
	struct up_opts o = { .name = c->lab, .nodes = 3, .mode = "vxlan", .backend = "ebpf" };
	struct lab l = { .etcd_members = 0 };
	const char *name;
	char ns[64], side[16], ip4[32], ip6[48], next[160];
	struct stat st;
	int ret;

	if ((ret = cli_args(c, "lab up", up_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	name = o.name;
	l.nodes = (int)o.nodes;
	l.mode = o.mode;
	l.backend = o.backend;
	l.ct_buckets = o.ct_buckets;
	/* One node needs no etcd; two or more share one, of one member unless asked. */
	l.etcd_members = o.etcd_members ? (int)o.etcd_members : l.nodes >= 2 ? 1 : 0;
	l.etcd_insecure = o.insecure_etcd;
	if (!lab_name_valid(name))
		return cli_usage(c, "lab up", "lab name '%s' must be 1-12 characters of a-z and 0-9", name);
	if (!strcmp(l.backend, "iptables") && strcmp(l.mode, "native"))
		return cli_usage(c, "lab up", "--policy-backend iptables needs --mode native");
	if ((ret = cli_require_root(c, "lab up")))
		return ret;
	snprintf(l.name, sizeof(l.name), "%s", name);
	snprintf(l.dir, sizeof(l.dir), LAB_DIR "/%s", name);
	snprintf(ns, sizeof(ns), "%s-fabric", name);
	if (stat(l.dir, &st) == 0 || netns_exists(ns))
		return cli_error(c, "lab '%s' already exists (remove it with `petrel lab down --name %s`)",
				 name, name);
	if ((ret = mkdir_p(l.dir, 0755)))
		return cli_error(c, "cannot create %s: %s", l.dir, strerror(-ret));

	lab_progress("creating fabric %s", ns);
	ret = netns_create(ns);
	if (!ret)
		ret = lab_in_netns(ns, lab_setup_fabric, NULL);
	if (ret) {
		cli_error(c, "cannot build the fabric namespace: %s", strerror(-ret));
		goto fail;
	}
	for (int i = 1; i <= l.nodes; i++) {
		snprintf(ns, sizeof(ns), "node%d", i);
		snprintf(side, sizeof(side), "n%d", i);
		snprintf(ip4, sizeof(ip4), "198.18.0.%d", 10 + i);
		snprintf(ip6, sizeof(ip6), "fd00:198:18::%d", 10 + i);
		lab_progress("creating node %s", ns);
		if ((ret = lab_add_host(l.name, ns, side, ip4, ip6, true))) {
			cli_error(c, "cannot build %s: %s", ns, strerror(-ret));
			goto fail;
		}
	}
	lab_progress("creating %s", "outside");
	if ((ret = lab_add_host(l.name, "outside", "out", OUTSIDE4, OUTSIDE6, false))) {
		cli_error(c, "cannot build the outside namespace: %s", strerror(-ret));
		goto fail;
	}
	if (lab_make_certs(c, &l))
		goto fail;
	if (l.etcd_members && (lab_start_etcd(c, &l) || (!l.etcd_insecure && lab_etcd_auth(c, &l))))
		goto fail;
	lab_allow_lazy_migration(c);
	for (int i = 1; i <= l.nodes; i++)
		if (lab_start_agent(c, &l, i))
			goto fail;
	if ((ret = lab_write_json(&l))) {
		cli_error(c, "cannot write lab.json: %s", strerror(-ret));
		goto fail;
	}
	fprintf(stderr, "lab: '%s' is up with %d node%s in %s mode\n", name, l.nodes,
		l.nodes > 1 ? "s" : "", l.mode);
	if ((ret = status_print(c, name)))
		return ret;
	snprintf(next, sizeof(next), "next: petrel --lab %s --node node1 endpoint list; "
		 "petrel --lab %s lab exec outside -- CMD", name, name);
	print_string(PRINT_FP, NULL, "%s\n", next);
	return 0;
fail:
	fprintf(stderr, "lab: removing what was built of '%s'\n", name);
	lab_teardown(name);
	return 1;
}

int cmd_lab_down(struct cli *c, int argc, char **argv)
{
	const char *name = c->lab;
	char path[256], *text = NULL;
	json_t *j, *node;
	size_t i;
	int ret;

	struct name_opt o = { c->lab };

	if ((ret = cli_args(c, "lab down", name_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	name = o.name;
	if (!lab_name_valid(name))
		return cli_usage(c, "lab down", "lab name '%s' must be 1-12 characters of a-z and 0-9", name);
	if ((ret = cli_require_root(c, "lab down")))
		return ret;
	/* Agents first, gently, so they can close their stores; netns deletion kills the rest. */
	snprintf(path, sizeof(path), LAB_DIR "/%s/lab.json", name);
	if (read_file(path, &text) == 0 && (j = json_loads(text, 0, NULL))) {
		json_array_foreach(json_object_get(j, "nodes"), i, node) {
			pid_t pid = (pid_t)json_integer_value(json_object_get(node, "pid"));
			if (pid > 0)
				kill(pid, SIGTERM);
		}
		json_decref(j);
	}
	free(text);
	lab_containers_down(name);
	ret = lab_teardown(name);
	if (ret)
		return cli_error(c, "lab '%s' could not be removed completely: %s", name, strerror(-ret));
	j = json_pack("{s:s}", "down", name);
	print_record(PRINT_ANY, j, (const struct print_field[]){ PF("down", "lab: '%s' is down\n"), PF_END });
	json_decref(j);
	return 0;
}

static void fmt_up(json_t *node, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s", json_is_true(print_lookup(node, key)) ? "up" : "DOWN");
}

static void fmt_etcd(json_t *lab, const char *key, char *buf, size_t len)
{
	json_t *e = print_lookup(lab, key);

	snprintf(buf, len, "%s", json_is_object(e) ? json_str(e, "endpoints") : "none (single node, SQLite)");
}

static int status_print(struct cli *c, const char *name)
{
	json_t *j, *node;
	size_t i;
	int err;

	if (!(j = lab_json_load(c, name, &err)))
		return err;
	json_array_foreach(json_object_get(j, "nodes"), i, node) {
		const char *sock = json_string_value(json_object_get(node, "socket"));
		json_t *resp = NULL;
		long status = 0;
		bool up = sock && api_call(sock, "GET", "/v1/node", NULL, 2000, &status, &resp) == 0 &&
			  status == 200;

		json_decref(resp);
		json_object_set_new(node, "alive", json_boolean(up));
	}
	print_record(PRINT_ANY, j, (const struct print_field[]){
		PF("name", "lab %s "), PF("mode", "(%s mode)\n"), PF(NULL, "  NODE     NETNS          IPV4             IPV6                 AGENT\n"),
		PF_END });
	print_table(PRINT_FP, json_object_get(j, "nodes"), NULL, (const struct print_field[]){
		PF("name", "  %-8s "), PF("netns", "%-14s "), PF("ipv4", "%-16s "), PF("ipv6", "%-20s "),
		PF_FN("alive", "%s ", fmt_up), PF("pid", "(pid %s)\n"), PF_END });
	print_record(PRINT_FP, j, (const struct print_field[]){
		PF(NULL, "  outside  "), PF("outside.netns", "%-14s "), PF("outside.ipv4", "%-16s "),
		PF("outside.ipv6", "%-20s\n"), PF_FN("etcd", "  etcd     %s\n", fmt_etcd), PF_END });
	lab_routers_print(json_object_get(j, "routers"));
	json_decref(j);
	return 0;
}

int cmd_lab_status(struct cli *c, int argc, char **argv)
{
	int ret;

	struct name_opt o = { c->lab };

	if ((ret = cli_args(c, "lab status", name_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	return status_print(c, o.name);
}

int cmd_lab_exec(struct cli *c, int argc, char **argv)
{
	struct name_opt o = { c->lab };
	const char *name, *host = NULL;
	char ns[64], conf[PATH_MAX];
	int rest, ret;

	if ((ret = cli_args(c, "lab exec", name_options, &o, argc, argv, &host, 1, &rest)))
		return ret;
	name = o.name;
	if (!host || rest >= argc)
		return cli_usage(c, "lab exec", "expected NODE|outside|fabric -- CMD [ARG]...");
	if ((ret = cli_require_root(c, "lab exec")))
		return ret;
	snprintf(ns, sizeof(ns), "%s-%s", name, host);
	if (!netns_exists(ns))                 /* a router's name */
		snprintf(ns, sizeof(ns), "%s-" LAB_ROUTER_PREFIX "%s", name, host);
	if (!netns_exists(ns))
		return cli_error(c, "lab '%s' has no '%s' (see `petrel lab status --name %s`)", name, host, name);
	/* Podman run there uses that node's own image store and network configuration (a
	 * "petrel" network through its agent), as on a host of its own. */
	snprintf(conf, sizeof(conf), LAB_DIR "/%s/%s/storage.conf", name, host);
	if (!access(conf, R_OK))
		setenv("CONTAINERS_STORAGE_CONF", conf, 1);
	snprintf(conf, sizeof(conf), LAB_DIR "/%s/%s/containers.conf", name, host);
	if (!access(conf, R_OK))
		setenv("CONTAINERS_CONF", conf, 1);
	return exec_in_netns(c, ns, argv + rest);
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command lab_commands[] = {
	{ "lab", "up", cmd_lab_up, "build a lab cluster of N nodes in network namespaces",
	  "petrel lab up [--nodes N] [--mode vxlan|native] [--name LAB] [--policy-backend ebpf|iptables]\n"
	  "              [--conntrack-buckets N] [--etcd-members N] [--insecure-etcd]\n\n"
	  "Builds a cluster on this machine: a fabric namespace with a bridge joining every node\n"
	  "(198.18.0.0/24 and fd00:198:18::/64), N node namespaces each running petreld, an\n"
	  "'outside' namespace acting as a client outside the cluster, and, for N >= 2, an etcd\n"
	  "holding cluster state, reached over TLS with client certificates from the lab's CA\n"
	  "(`petrel -j lab status` gives its endpoints, the CA and an operator's certificate and\n"
	  "key). Anything half-built is removed if a step fails.\n\n"
	  "Options:\n"
	  "  --nodes N       number of nodes, 1-16 (default 3)\n"
	  "  --mode MODE     vxlan (overlay, default) or native (plain routing)\n"
	  "  --name LAB      lab name, a-z and 0-9, at most 12 characters (default: $PETREL_LAB or petrel)\n"
	  "  --policy-backend iptables\n"
	  "                  run the classic baseline instead of eBPF (bridge, kernel routes, iptables;\n"
	  "                  native mode only), for benchmarks\n"
	  "  --conntrack-buckets N\n"
	  "                  size the host's conntrack hash (host-wide, and it stays after lab down):\n"
	  "                  CRIU walks every bucket twice in a migration's freeze, about 20 ms with\n"
	  "                  262144 buckets; sets petreld's conntrack-buckets on every node\n"
	  "  --etcd-members N\n"
	  "                  run etcd as a cluster of N members, 1-5 (default 1); the agents use\n"
	  "                  them all and keep working while a minority is down\n"
	  "  --insecure-etcd plain http and no client certificates (for benchmarking agents older\n"
	  "                  than etcd TLS)\n\n"
	  "Example:\n  petrel lab up --nodes 3 --mode native --name demo --etcd-members 3\n" },
	{ "lab", "down", cmd_lab_down, "remove a lab and everything it created",
	  "petrel lab down [--name LAB]\n\n"
	  "Stops the lab's agents and etcd, deletes its namespaces (nodes, endpoints, routers,\n"
	  "fabric, outside), its pinned eBPF maps and its state. Works after a crash too, and does\n"
	  "nothing (successfully) when there is nothing left.\n\n"
	  "Example:\n  petrel lab down --name demo\n" },
	{ "lab", "status", cmd_lab_status, "show a lab's nodes, addresses and agents",
	  "petrel [-j] lab status [--name LAB]\n\n"
	  "Lists every node with its namespace, underlay IPv4 and IPv6 addresses, agent socket\n"
	  "and whether its agent answers, plus the outside namespace, etcd and the lab's routers.\n\n"
	  "Example:\n  petrel -j lab status --name demo | jq '.nodes[].ipv4'\n" },
	{ "lab", "exec", cmd_lab_exec, "run a command inside a lab node or the outside namespace",
	  "petrel lab exec [--name LAB] NODE|ROUTER|outside|fabric -- CMD [ARG]...\n\n"
	  "Runs CMD in the network namespace of a lab node, of a lab router, of the outside\n"
	  "client, or of the fabric. The exit status is CMD's. On a node, Podman finds that\n"
	  "node's own image store (CONTAINERS_STORAGE_CONF points at its storage.conf), the\n"
	  "one its agent's run --image reads: each node keeps its images, as separate hosts do.\n\n"
	  "Examples:\n  petrel lab exec outside -- curl http://198.18.0.11:8080/\n"
	  "  petrel lab exec node1 -- podman load -i web.tar\n" },
	{ 0 }
};
