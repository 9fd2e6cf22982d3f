/* Inside `petrel lab`: the commands (cli/lab.c) over the network plumbing (cli/lab_net.c)
 * and the lab's processes and state (cli/lab_procs.c); routers (cli/lab_router.c) use
 * the latter two. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "cli.h"

/* A lab host's namespace is "<lab>-<suffix>"; routers are "<lab>-rt-<name>", so that
 * `lab down` recognises them without lab.json. */
#define LAB_ROUTER_PREFIX "rt-"

#define FABRIC4  "198.18.0.1"
#define FABRIC6  "fd00:198:18::1"
#define OUTSIDE4 "198.18.0.254"
#define OUTSIDE6 "fd00:198:18::254"
#define MAX_NODES 16          /* also in `lab up --nodes` errors (cli/lab.c) */
#define MAX_ETCD_MEMBERS 5
/* etcd member m (1-based) listens in the fabric on FABRIC4, client port 2379 + 10(m-1):
 * TLS with client certificates, or plain with --insecure-etcd; peers on loopback, plain
 * metrics on its client port + 2. */
#define ETCD_PORT(m) (2379 + 10 * ((m) - 1))

struct lab {
	char name[16];
	char dir[128];
	int nodes;
	const char *mode;
	const char *backend;
	long ct_buckets;               /* conntrack-buckets for every node's petreld (0: unset) */
	int etcd_members;              /* 0: no etcd (one node) */
	bool etcd_insecure;            /* plain http, no client certificates (older agents) */
	char etcd_urls[512];           /* the members' client URLs, comma-separated */
	pid_t etcd_pid[MAX_ETCD_MEMBERS + 1];
	pid_t agent_pid[MAX_NODES + 1];
};

/* lab_procs.c: what `lab up` starts, in order, and what `lab down` removes. */
int lab_start_etcd(struct cli *c, struct lab *l);
/* Lets CRIU's lazy-pages daemon use userfaultfd (a sysctl), so `migrate --lazy` works. */
void lab_allow_lazy_migration(struct cli *c);
int lab_make_certs(struct cli *c, struct lab *l);
/* lab_etcd_auth.c: etcd's users (a role per node, an operator's, root) and its
 * authentication on; each user's password in its file (lab_etcd_password_path). */
int lab_etcd_auth(struct cli *c, struct lab *l);
void lab_etcd_password_path(const struct lab *l, const char *user, char *buf, size_t len);
int lab_start_agent(struct cli *c, struct lab *l, int i);
int lab_write_json(struct lab *l);
/* Remove everything named after the lab; tolerant of anything already gone. */
int lab_teardown(const char *name);

bool lab_name_valid(const char *s);
/* "lab: ..." progress line on stderr. */
void lab_progress(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));
/* Run fn inside netns ns, then come back. */
int lab_in_netns(const char *ns, int (*fn)(void *), void *arg);
/* The fabric's bridge (br0, FABRIC4/6, no netfilter), run inside the fabric namespace. */
int lab_setup_fabric(void *arg);
/* A host "<lab>-<suffix>" joined to the fabric bridge by a veth: its eth0 ↔ port
 * fabric_side, with the addresses given (/24, /64); a router forwards. */
int lab_add_host(const char *lab, const char *suffix, const char *fabric_side,
		 const char *ip4, const char *ip6, bool router);
/* Run a tool to completion, its output into log; 0 when it exits 0. */
int lab_run_tool(char *const argv[], const char *log);
/* Run argv inside netns ns, as `endpoint exec` and `lab exec` do. */
int exec_in_netns(struct cli *c, const char *ns, char **argv);
/* The lab's lab.json, parsed; NULL with the error printed and its exit code in *err. */
json_t *lab_json_load(struct cli *c, const char *lab, int *err);
/* Write it back (atomically), e.g. with a router added. */
int lab_json_save(const char *lab, json_t *j);
/* Routers of lab.json's "routers", one status line each. */
void lab_routers_print(json_t *routers);
