/* What `petrel lab` (cli/lab.c) shares with its routers (cli/lab_router.c): the lab's
 * naming, its state file, and the helpers that build namespaces on the fabric. */
#pragma once
#include <stdbool.h>
#include <jansson.h>
#include "cli.h"

/* A lab host's namespace is "<lab>-<suffix>"; routers are "<lab>-rt-<name>", so that
 * `lab down` recognises them without lab.json. */
#define LAB_ROUTER_PREFIX "rt-"

bool lab_name_valid(const char *s);
/* "lab: ..." progress line on stderr. */
void lab_progress(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));
/* Run fn inside netns ns, then come back. */
int lab_in_netns(const char *ns, int (*fn)(void *), void *arg);
/* A host "<lab>-<suffix>" joined to the fabric bridge by a veth: its eth0 ↔ port
 * fabric_side, with the addresses given (/24, /64); a router forwards. */
int lab_add_host(const char *lab, const char *suffix, const char *fabric_side,
		 const char *ip4, const char *ip6, bool router);
/* Run a tool to completion, its output into log; 0 when it exits 0. */
int lab_run_tool(char *const argv[], const char *log);
/* --name LAB at argv[*i]: 0 (consumed), 2 (bad name, usage printed), -1 (not --name). */
int lab_opt_name(struct cli *c, const char *cmd, int argc, char **argv, int *i, const char **name);
/* Run argv inside netns ns, as `endpoint exec` and `lab exec` do. */
int exec_in_netns(struct cli *c, const char *ns, char **argv);
/* The lab's lab.json, parsed; NULL with the error printed and its exit code in *err. */
json_t *lab_json_load(struct cli *c, const char *lab, int *err);
/* Write it back (atomically), e.g. with a router added. */
int lab_json_save(const char *lab, json_t *j);
/* Routers of lab.json's "routers", one status line each. */
void lab_routers_print(json_t *routers);
