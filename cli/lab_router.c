/* `petrel lab router add|del`: a Linux router between two lab nodes. The router is a
 * namespace on the lab's fabric that forwards with the kernel's own stack, so traffic
 * between the two nodes crosses a hop that petrel does not run. With --ioam-id it is also
 * an IOAM transit node of the kernel's own (net.ipv6.ioam6_*, `ip ioam namespace add`):
 * how petrel's IOAM is checked against Linux's.
 *
 * The nodes reach each other's underlay address through the router (a /32 and a /128
 * route), which is where the datapath's native forwarding looks its next hop up; the
 * router knows both nodes' address blocks. Routers live in lab.json's "routers". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "lab.h"
#include "api_client.h"
#include "args.h"
#include "cidr.h"
#include "ioam.h"
#include "netlink.h"
#include "netns.h"
#include "print.h"
#include "util.h"

#define ROUTER_FIRST 200           /* routers take 198.18.0.200+k and fd00:198:18::200+k */
#define ROUTER_MAX   50
#define ROUTER_NS    8             /* kernel IOAM namespaces one router is given at most */

struct router_node {
	const char *name;
	char ip4[IP_STRLEN], ip6[IP_STRLEN];
	char block4[CIDR_STRLEN], block6[CIDR_STRLEN];
};

struct router {
	char lab[16], name[16], netns[64], port[16];
	char ip4[IP_STRLEN], ip6[IP_STRLEN];
	struct router_node node[2];
	long ioam_id;                  /* -1: no IOAM */
	int nns;
	struct { uint16_t id; const char *data, *wide; } ns[ROUTER_NS];
};

static json_t *router_find(json_t *lab, const char *name, size_t *index)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(lab, "routers"), i, r) {
		if (!strcmp(json_str(r, "name"), name)) {
			if (index)
				*index = i;
			return r;
		}
	}
	return NULL;
}

/* A lab.json router's two nodes, k 0 or 1 ("" when missing). */
static const char *router_between(json_t *router, int k)
{
	const char *s = json_string_value(json_array_get(json_object_get(router, "between"), k));

	return s ? s : "";
}

/* The node's underlay addresses, from lab.json; false when the lab has no such node. */
static bool node_underlay(json_t *lab, const char *name, struct router_node *out, json_t **node)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(lab, "nodes"), i, n) {
		if (strcmp(json_str(n, "name"), name))
			continue;
		out->name = name;
		snprintf(out->ip4, sizeof(out->ip4), "%s", json_str(n, "ipv4"));
		snprintf(out->ip6, sizeof(out->ip6), "%s", json_str(n, "ipv6"));
		if (node)
			*node = n;
		return true;
	}
	return false;
}

/* The node's underlay addresses (lab.json) and address blocks (its agent). */
static int node_lookup(struct cli *c, json_t *lab, const char *name, struct router_node *out)
{
	json_t *n, *resp = NULL, *block;
	long status = 0;

	if (!node_underlay(lab, name, out, &n))
		return cli_error(c, "lab has no node '%s' (see `petrel lab status`)", name);
	if (api_call(json_str(n, "socket"), "GET", "/v1/node", NULL, 5000, &status, &resp) ||
	    status != 200) {
		json_decref(resp);
		return cli_error(c, "the agent of %s does not answer; see `petrel lab status`", name);
	}
	block = json_object_get(resp, "block");
	snprintf(out->block4, sizeof(out->block4), "%s", json_str(block, "ipv4"));
	snprintf(out->block6, sizeof(out->block6), "%s", json_str(block, "ipv6"));
	json_decref(resp);
	return 0;
}

static int route_via(const char *dst, const char *gw)
{
	struct cidr d;
	struct ip_addr g;

	if (cidr_parse(dst, &d) || ip_parse(gw, &g))
		return -EINVAL;
	return nl_route_add(&d, &g, "eth0", false);
}

static int route_del(const char *dst)
{
	struct cidr d;

	if (cidr_parse(dst, &d))
		return -EINVAL;
	return nl_route_del(&d, "eth0");
}

/* In the router: both nodes' blocks through them, and the kernel's IOAM transit. */
static int router_setup(void *arg)
{
	struct router *r = arg;
	char id[16];
	int ret;

	for (int k = 0; k < 2; k++)
		if ((ret = route_via(r->node[k].block4, r->node[k].ip4)) ||
		    (ret = route_via(r->node[k].block6, r->node[k].ip6)))
			return ret;
	/* Two nodes on one bridge: the router would tell them to talk directly. */
	sysctl_write("net.ipv4.conf.all.send_redirects", "0");
	sysctl_write("net.ipv4.conf.eth0.send_redirects", "0");
	if (r->ioam_id < 0)
		return 0;
	snprintf(id, sizeof(id), "%ld", r->ioam_id);
	if ((ret = sysctl_write("net.ipv6.ioam6_id", id)) ||
	    (ret = sysctl_write("net.ipv6.ioam6_id_wide", id)) ||
	    (ret = sysctl_write("net.ipv6.conf.eth0.ioam6_enabled", "1")))
		return ret;
	return 0;
}

struct node_routes {
	const char *peer4, *peer6;     /* the other node's underlay addresses */
	const char *via4, *via6;       /* the router's; NULL: remove the routes */
};

static int node_routes(void *arg)
{
	struct node_routes *n = arg;
	char d4[CIDR_STRLEN], d6[CIDR_STRLEN];
	int ret;

	snprintf(d4, sizeof(d4), "%s/32", n->peer4);
	snprintf(d6, sizeof(d6), "%s/128", n->peer6);
	if (!n->via4) {
		ret = route_del(d4);
		return route_del(d6) ?: ret;
	}
	/* The router's redirects would send the node straight to its peer again. */
	sysctl_write("net.ipv4.conf.eth0.accept_redirects", "0");
	sysctl_write("net.ipv6.conf.eth0.accept_redirects", "0");
	if ((ret = route_via(d4, n->via4)) || (ret = route_via(d6, n->via6)))
		return ret;
	return 0;
}

static int nodes_route(struct router *r, bool add)
{
	char ns[64];
	int ret = 0;

	for (int k = 0; k < 2; k++) {
		struct node_routes n = { .peer4 = r->node[1 - k].ip4, .peer6 = r->node[1 - k].ip6,
					 .via4 = add ? r->ip4 : NULL, .via6 = add ? r->ip6 : NULL };

		snprintf(ns, sizeof(ns), "%s-%s", r->lab, r->node[k].name);
		ret = lab_in_netns(ns, node_routes, &n) ?: ret;
	}
	return ret;
}

static int ioam_namespaces(struct router *r)
{
	char log[256], id[8];

	snprintf(log, sizeof(log), LAB_DIR "/%s/router-%s.log", r->lab, r->name);
	for (int i = 0; i < r->nns; i++) {
		char *argv[12] = { "ip", "-n", r->netns, "ioam", "namespace", "add", id };
		int n = 7;

		snprintf(id, sizeof(id), "%u", r->ns[i].id);
		if (r->ns[i].data) {
			argv[n++] = "data";
			argv[n++] = (char *)r->ns[i].data;
		}
		if (r->ns[i].wide) {
			argv[n++] = "wide";
			argv[n++] = (char *)r->ns[i].wide;
		}
		if (lab_run_tool(argv, log))
			return -EIO;
	}
	return 0;
}

/* "ID[:DATA[:WIDE]]", hex values as `ip ioam namespace add` takes them. */
/* --ioam-ns ID[:DATA[:WIDE]] into the router's namespaces (dst: struct router **). */
static int opt_ioam_ns(const char *v, void *dst, char *err, size_t len)
{
	struct router *r = *(struct router **)dst;
	char *s = (char *)v, *data, *wide, why[200];
	uint64_t x;

	if (r->nns >= ROUTER_NS) {
		snprintf(err, len, "at most %d --ioam-ns", ROUTER_NS);
		return -EINVAL;
	}
	data = strchr(s, ':');
	if (data)
		*data++ = 0;
	wide = data ? strchr(data, ':') : NULL;
	if (wide)
		*wide++ = 0;
	if (ioam_ns_parse(s, &r->ns[r->nns].id, why, sizeof(why)))
		return snprintf(err, len, "--ioam-ns: %s", why), -EINVAL;
	if (data && *data && ioam_value_parse(data, 32, &x, why, sizeof(why)))
		return snprintf(err, len, "--ioam-ns data %s", why), -EINVAL;
	if (wide && *wide && ioam_value_parse(wide, 64, &x, why, sizeof(why)))
		return snprintf(err, len, "--ioam-ns wide %s", why), -EINVAL;
	r->ns[r->nns].data = data && *data ? data : NULL;
	r->ns[r->nns].wide = wide && *wide ? wide : NULL;
	r->nns++;
	return 0;
}

struct router_opts {
	const char *lab, *between[2];
	long ioam_id;
	struct router *r;
};

static const struct args_opt add_options[] = {
	ARGS_OPT_STRING("--name", NULL, struct router_opts, lab, lab_name_valid,
			"a lab name (1-12 characters of a-z and 0-9)"),
	ARGS_OPT_PAIR("--between", struct router_opts, between),
	ARGS_OPT_LONG("--ioam-id", NULL, struct router_opts, ioam_id, 0, 0xfffffe, "a number in 0-16777214"),
	ARGS_OPT_EACH("--ioam-ns", NULL, struct router_opts, r, opt_ioam_ns),
	ARGS_OPT_END
};

static void fmt_between(json_t *r, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s and %s", router_between(r, 0), router_between(r, 1));
}

static void fmt_transit(json_t *r, const char *key, char *buf, size_t len)
{
	json_t *ioam = print_lookup(r, key);

	buf[0] = 0;
	if (json_is_object(ioam))
		snprintf(buf, len, ", kernel IOAM transit (node id %lld, %zu namespace%s)",
			 (long long)json_integer_value(json_object_get(ioam, "id")),
			 json_array_size(json_object_get(ioam, "namespaces")),
			 json_array_size(json_object_get(ioam, "namespaces")) == 1 ? "" : "s");
}

static const struct print_field router_line[] = {
	PF("name", "router %s: "), PF("ipv4", "%s "), PF("ipv6", "%s, "),
	PF_FN(NULL, "between %s", fmt_between), PF_FN("ioam", "%s\n", fmt_transit),
	PF_END
};
static const struct print_field router_row[] = {
	PF("name", "  %-8s "), PF("netns", "%-14s "), PF("ipv4", "%-16s "), PF("ipv6", "%-20s "),
	PF_FN(NULL, "between %s", fmt_between), PF_FN("ioam", "%s\n", fmt_transit),
	PF_END
};

static json_t *router_json(const struct router *r)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s, s]}", "name", r->name, "netns", r->netns,
			      "port", r->port, "ipv4", r->ip4, "ipv6", r->ip6,
			      "between", r->node[0].name, r->node[1].name);
	json_t *ns = json_array();

	for (int i = 0; i < r->nns; i++) {
		json_t *o = json_pack("{s:i}", "id", r->ns[i].id);

		if (r->ns[i].data)
			json_object_set_new(o, "data", json_string(r->ns[i].data));
		if (r->ns[i].wide)
			json_object_set_new(o, "wide", json_string(r->ns[i].wide));
		json_array_append_new(ns, o);
	}
	json_object_set_new(j, "ioam", r->ioam_id < 0 ? (json_decref(ns), json_null()) :
			    json_pack("{s:I, s:o}", "id", (json_int_t)r->ioam_id, "namespaces", ns));
	return j;
}

static int router_add(struct cli *c, const char *lab, int argc, char **argv)
{
	struct router r = { .ioam_id = -1 };
	struct router_opts o = { .lab = lab, .ioam_id = -1, .r = &r };
	const char *between[2] = { NULL, NULL };
	bool used[ROUTER_MAX] = { false };
	json_t *j, *routers, *x;
	int ret, slot = -1;
	size_t i;

	if (argc < 1 || !lab_name_valid(argv[0]))
		return cli_usage(c, "lab router", "expected a router NAME of 1-12 characters a-z and 0-9");
	snprintf(r.name, sizeof(r.name), "%s", argv[0]);
	if ((ret = cli_args(c, "lab router", add_options, &o, argc - 1, argv + 1, NULL, 0, NULL)))
		return ret;
	lab = o.lab;
	r.ioam_id = o.ioam_id;
	between[0] = o.between[0];
	between[1] = o.between[1];
	if (!between[0])
		return cli_usage(c, "lab router", "add needs --between NODE NODE");
	if (!strcmp(between[0], between[1]))
		return cli_usage(c, "lab router", "--between needs two different nodes");
	if (r.nns && r.ioam_id < 0)
		return cli_usage(c, "lab router", "--ioam-ns needs --ioam-id");
	if ((ret = cli_require_root(c, "lab router add")))
		return ret;
	if (r.ioam_id >= 0 && access("/proc/sys/net/ipv6/ioam6_id", F_OK))
		return cli_error(c, "this kernel has no IPv6 IOAM (net.ipv6.ioam6_id): add the router without --ioam-id");
	if (!(j = lab_json_load(c, lab, &ret)))
		return ret;
	if (router_find(j, r.name, NULL)) {
		json_decref(j);
		return cli_error(c, "lab '%s' already has a router '%s'", lab, r.name);
	}
	json_array_foreach(json_object_get(j, "routers"), i, x) {
		const char *b0 = router_between(x, 0), *b1 = router_between(x, 1);
		int k = 0;

		/* Each node reaches a peer through one route: a second router would take it over. */
		if ((!strcmp(b0, between[0]) && !strcmp(b1, between[1])) ||
		    (!strcmp(b0, between[1]) && !strcmp(b1, between[0]))) {
			ret = cli_error(c, "router '%s' already joins %s and %s (remove it first: `petrel lab router del %s`)",
					json_str(x, "name"), b0, b1, json_str(x, "name"));
			json_decref(j);
			return ret;
		}

		if (sscanf(json_str(x, "ipv4"), "198.18.0.%d", &k) == 1 &&
		    k >= ROUTER_FIRST && k < ROUTER_FIRST + ROUTER_MAX)
			used[k - ROUTER_FIRST] = true;
	}
	for (int k = 0; k < ROUTER_MAX && slot < 0; k++)
		if (!used[k])
			slot = k;
	if (slot < 0) {
		json_decref(j);
		return cli_error(c, "lab '%s' has %d routers already", lab, ROUTER_MAX);
	}
	if ((ret = node_lookup(c, j, between[0], &r.node[0])) ||
	    (ret = node_lookup(c, j, between[1], &r.node[1]))) {
		json_decref(j);
		return ret;
	}
	snprintf(r.lab, sizeof(r.lab), "%s", lab);
	snprintf(r.netns, sizeof(r.netns), "%s-" LAB_ROUTER_PREFIX "%s", lab, r.name);
	snprintf(r.port, sizeof(r.port), LAB_ROUTER_PREFIX "%s", r.name);
	snprintf(r.ip4, sizeof(r.ip4), "198.18.0.%d", ROUTER_FIRST + slot);
	snprintf(r.ip6, sizeof(r.ip6), "fd00:198:18::%d", ROUTER_FIRST + slot);

	lab_progress("creating router %s", r.netns);
	/* the port's name in the fabric is the namespace's suffix: rt-NAME */
	if ((ret = lab_add_host(lab, r.port, r.port, r.ip4, r.ip6, true)) ||
	    (ret = lab_in_netns(r.netns, router_setup, &r))) {
		cli_error(c, "cannot build router %s: %s", r.name, strerror(-ret));
		goto undo;
	}
	if (ioam_namespaces(&r)) {
		cli_error(c, "`ip ioam namespace add` failed in %s; see " LAB_DIR "/%s/router-%s.log",
			  r.netns, lab, r.name);
		goto undo;
	}
	if ((ret = nodes_route(&r, true))) {
		cli_error(c, "cannot route %s and %s through %s: %s", r.node[0].name, r.node[1].name,
			  r.name, strerror(-ret));
		goto undo;
	}
	routers = json_object_get(j, "routers");
	if (!routers)
		json_object_set_new(j, "routers", routers = json_array());
	json_array_append_new(routers, router_json(&r));
	if ((ret = lab_json_save(lab, j))) {
		cli_error(c, "cannot write lab.json: %s", strerror(-ret));
		goto undo;
	}
	json_decref(j);
	x = router_json(&r);
	print_record(PRINT_ANY, x, router_line);
	json_decref(x);
	return 0;
undo:
	nodes_route(&r, false);
	netns_delete(r.netns);
	json_decref(j);
	return 1;
}

static const struct args_opt del_options[] = {
	ARGS_OPT_STRING("--name", NULL, struct router_opts, lab, lab_name_valid,
			"a lab name (1-12 characters of a-z and 0-9)"),
	ARGS_OPT_END
};

static int router_del(struct cli *c, const char *lab, int argc, char **argv)
{
	struct router r = { .ioam_id = -1 };
	json_t *j, *x;
	size_t index;
	int ret;

	if (argc < 1)
		return cli_usage(c, "lab router", "del needs the router's NAME");
	struct router_opts o = { .lab = lab };

	if ((ret = cli_args(c, "lab router", del_options, &o, argc - 1, argv + 1, NULL, 0, NULL)))
		return ret;
	lab = o.lab;
	if ((ret = cli_require_root(c, "lab router del")))
		return ret;
	if (!(j = lab_json_load(c, lab, &ret)))
		return ret;
	if (!(x = router_find(j, argv[0], &index))) {
		json_decref(j);
		return cli_error(c, "lab '%s' has no router '%s' (see `petrel lab status --name %s`)",
				 lab, argv[0], lab);
	}
	snprintf(r.lab, sizeof(r.lab), "%s", lab);
	snprintf(r.ip4, sizeof(r.ip4), "%s", json_str(x, "ipv4"));
	snprintf(r.ip6, sizeof(r.ip6), "%s", json_str(x, "ipv6"));
	for (int k = 0; k < 2; k++) {
		r.node[k].name = router_between(x, k);
		node_underlay(j, r.node[k].name, &r.node[k], NULL);
	}
	/* The nodes talk directly again before the router goes, so no packet is lost to it. */
	ret = nodes_route(&r, false);
	if (netns_delete(json_str(x, "netns")))
		ret = -EBUSY;
	json_array_remove(json_object_get(j, "routers"), index);
	ret = lab_json_save(lab, j) ?: ret;
	json_decref(j);
	if (ret)
		return cli_error(c, "router '%s' could not be removed completely", argv[0]);
	x = json_pack("{s:s}", "deleted", argv[0]);
	print_record(PRINT_ANY, x, (const struct print_field[]){
		PF("deleted", "deleted router %s\n"), PF_END });
	json_decref(x);
	return 0;
}

int cmd_lab_router(struct cli *c, int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "add"))
		return router_add(c, c->lab, argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "del"))
		return router_del(c, c->lab, argc - 1, argv + 1);
	return cli_usage(c, "lab router", "expected add NAME --between NODE NODE [...] or del NAME");
}

void lab_routers_print(json_t *routers)
{
	print_table(PRINT_FP, routers, NULL, router_row);
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command lab_router_commands[] = {
	{ "lab", "router", cmd_lab_router, "put a Linux router, optionally an IOAM transit, between two lab nodes",
	  "petrel [-j] lab router add NAME --between NODE NODE [--ioam-id ID] [--ioam-ns ID[:DATA[:WIDE]]]...\n"
	  "                          [--name LAB]\n"
	  "petrel [-j] lab router del NAME [--name LAB]\n\n"
	  "add creates the namespace LAB-rt-NAME on the lab's fabric (198.18.0.200+k,\n"
	  "fd00:198:18::200+k), forwarding with the kernel's own stack, and routes the two nodes'\n"
	  "traffic to each other through it: each node reaches the other's underlay address via\n"
	  "the router (where native forwarding looks its next hop up, and where VXLAN is sent),\n"
	  "and the router knows both nodes' address blocks. The nodes stop accepting ICMP\n"
	  "redirects on eth0, since both sit on one bridge. del routes the nodes directly again,\n"
	  "then removes the router. `lab status` lists routers; `lab exec NAME -- CMD` runs in one;\n"
	  "`lab down` removes them.\n\n"
	  "Options:\n"
	  "  --between NODE NODE      the two nodes whose traffic crosses the router\n"
	  "  --ioam-id ID             make the router an IPv6 IOAM transit node of the kernel's own:\n"
	  "                           net.ipv6.ioam6_id and ioam6_id_wide ID, ioam6_enabled on eth0\n"
	  "  --ioam-ns ID[:DATA[:WIDE]]\n"
	  "                           a namespace the router fills traces of (repeatable, up to 8),\n"
	  "                           with its 32-bit and 64-bit data in hex (`ip ioam namespace add`)\n"
	  "  --name LAB               the lab (default: $PETREL_LAB or petrel)\n\n"
	  "Example:\n  petrel lab router add r1 --between node1 node2 --ioam-id 100 --ioam-ns 123:0x12345678\n" },
	{ 0 }
};
