/* petrel etcd auth: turn a fresh etcd's authentication on with petrel's roles (one user per
 * node that writes only that node's keys, an operator's for policies and IOAM
 * configuration, root), each user's password in a 0600 file for petreld.conf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "args.h"
#include "config.h"
#include "etcd_auth.h"

struct auth_opts {
	const char *etcd, *ca, *cert, *key, *nodes, *dir;
};

static bool absolute(const char *v)
{
	return v[0] == '/';
}

static const struct args_opt auth_options[] = {
	ARGS_OPT_STRING("--etcd", NULL, struct auth_opts, etcd, NULL, "etcd's client URLs"),
	ARGS_OPT_STRING("--ca", NULL, struct auth_opts, ca, absolute, "an absolute path"),
	ARGS_OPT_STRING("--cert", NULL, struct auth_opts, cert, absolute, "an absolute path"),
	ARGS_OPT_STRING("--key", NULL, struct auth_opts, key, absolute, "an absolute path"),
	ARGS_OPT_STRING("--nodes", NULL, struct auth_opts, nodes, NULL, "NODE[,NODE...]"),
	ARGS_OPT_STRING("--dir", NULL, struct auth_opts, dir, absolute, "an absolute path"),
	ARGS_OPT_END
};

static int cmd_etcd_auth(struct cli *c, int argc, char **argv)
{
	struct auth_opts o = { 0 };
	struct store_tls tls = { 0 };
	const char *nodes[ETCD_MAX_NODES];
	char *list, *save = NULL, err[300];
	struct store *s;
	struct stat st;
	size_t n = 0;
	int ret;

	if ((ret = cli_args(c, "etcd auth", auth_options, &o, argc, argv, NULL, 0, NULL)))
		return ret;
	if (!o.etcd || !o.nodes || !o.dir)
		return cli_usage(c, "etcd auth", "--etcd, --nodes and --dir are required");
	if (stat(o.dir, &st) || !S_ISDIR(st.st_mode))
		return cli_error(c, "--dir %s is not a directory", o.dir);
	list = strdup(o.nodes);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!name_valid(t) || !strcmp(t, "operator") || !strcmp(t, "root") || n == ETCD_MAX_NODES) {
			free(list);
			return cli_usage(c, "etcd auth", "'%s' is not a node name (or there are more "
					 "than %d)", t, ETCD_MAX_NODES);
		}
		nodes[n++] = t;
	}
	snprintf(tls.ca, sizeof(tls.ca), "%s", o.ca ? o.ca : "");
	snprintf(tls.cert, sizeof(tls.cert), "%s", o.cert ? o.cert : "");
	snprintf(tls.key, sizeof(tls.key), "%s", o.key ? o.key : "");
	if ((ret = store_open_etcd_tls(&s, o.etcd, &tls))) {
		free(list);
		return cli_error(c, "cannot reach etcd at %s: %s", o.etcd, strerror(-ret));
	}
	fprintf(stderr, "petrel: creating roles and users for %zu nodes, the operator and root\n", n);
	ret = etcd_auth_setup_dir(s, nodes, n, o.dir, err, sizeof(err));
	store_close(s);
	free(list);
	if (ret)
		return cli_error(c, "%s%s", err, ret == -EACCES ? " (is authentication already on?)" : "");
	printf("etcd authentication is on: users %s, operator, root; passwords in %s/etcd-USER.password\n",
	       o.nodes, o.dir);
	return 0;
}

/* This file's command and its help: main.c lists and matches it. */
const struct command etcd_commands[] = {
	{ "etcd", "auth", cmd_etcd_auth, "turn etcd's authentication on with petrel's roles",
	  "petrel etcd auth --etcd URL[,URL...] [--ca FILE --cert FILE --key FILE]\n"
	  "                 --nodes NODE[,NODE...] --dir DIR\n\n"
	  "On an etcd whose authentication is still off, creates what petrel needs and turns it\n"
	  "on:\n"
	  "  - for each NODE a role petrel-node-NODE and a user NODE: read everything under\n"
	  "    /petrel/, write its own keys (/petrel/nodes/NODE, /petrel/alive/NODE and the\n"
	  "    prefixes /petrel/endpoints/NODE/, /petrel/ports/NODE/, /petrel/ioam/roles/NODE/)\n"
	  "    and the allocations every node takes part in (/petrel/blocks/, identities/,\n"
	  "    names/, migrations/, containers/), never another node's keys;\n"
	  "  - a role petrel-operator and a user operator: read everything, write policies and\n"
	  "    IOAM configuration (/petrel/policies/, /petrel/ioam/namespaces/, encap/);\n"
	  "  - a user root with the root role (etcd requires one).\n"
	  "Each user gets a random password in DIR/etcd-USER.password (mode 0600): copy a node's\n"
	  "to that host and name it in petreld.conf (etcd-user, etcd-password-file), and the\n"
	  "operator's to the hosts that take policy writes (etcd-operator-user,\n"
	  "etcd-operator-password-file). etcd's JSON gateway, which petreld uses, refuses a client\n"
	  "certificate with a CN once authentication is on: give petreld one without (-subj /CN=).\n"
	  "etcdctl uses gRPC, where a certificate's CN is its user.\n\n"
	  "Example:\n"
	  "  petrel etcd auth --etcd https://192.0.2.11:2379 --ca /etc/petrel/pki/ca.pem \\\n"
	  "      --cert /etc/petrel/pki/node1-etcd.pem --key /etc/petrel/pki/node1-etcd.key \\\n"
	  "      --nodes node1,node2,node3 --dir /etc/petrel/pki\n" },
	{ 0 }
};
