/* The lab's etcd users (lib/etcd_auth.c): a password per user in the PKI directory
 * (0600), each node's user with a role that writes only that node's keys, an operator's
 * for policies and IOAM configuration, and root; then etcd's authentication on.
 *
 * etcd's JSON gateway, which petrel speaks, takes no user from a certificate's CN and
 * refuses a certificate that has one once authentication is on: the agents' etcd client
 * certificates have none (nodeN-etcd.pem, client.pem), and users log in with passwords.
 * etcdctl speaks gRPC, where the CN is the user: the operator's certificate (CN operator)
 * is for etcdctl. */
#include <stdio.h>
#include <string.h>
#include "etcd_auth.h"
#include "lab.h"
#include "util.h"

void lab_etcd_password_path(const struct lab *l, const char *user, char *buf, size_t len)
{
	snprintf(buf, len, "%s/pki/etcd-%s.password", l->dir, user);
}

struct setup {
	struct lab *l;
	char err[256];
};

static int setup_in_fabric(void *arg)
{
	struct setup *st = arg;
	struct lab *l = st->l;
	struct store_tls tls = { 0 };
	char names[MAX_NODES][16], dir[200];
	const char *nodes[MAX_NODES];
	struct store *s;
	int ret;

	for (int i = 0; i < l->nodes; i++) {
		snprintf(names[i], sizeof(names[i]), "node%d", i + 1);
		nodes[i] = names[i];
	}
	/* Before authentication is on, any certificate of the CA may do this. */
	snprintf(tls.ca, sizeof(tls.ca), "%s/pki/ca.pem", l->dir);
	snprintf(tls.cert, sizeof(tls.cert), "%s/pki/operator.pem", l->dir);
	snprintf(tls.key, sizeof(tls.key), "%s/pki/operator.key", l->dir);
	if ((ret = store_open_etcd_tls(&s, l->etcd_urls, &tls)))
		return snprintf(st->err, sizeof(st->err), "cannot reach etcd: %s", strerror(-ret)), ret;
	snprintf(dir, sizeof(dir), "%s/pki", l->dir);
	ret = etcd_auth_setup_dir(s, nodes, (size_t)l->nodes, dir, st->err, sizeof(st->err));
	store_close(s);
	return ret;
}

int lab_etcd_auth(struct cli *c, struct lab *l)
{
	struct setup st = { .l = l };
	char ns[64];

	snprintf(ns, sizeof(ns), "%s-fabric", l->name);
	lab_progress("%s", "giving each node an etcd user that writes only its own keys");
	if (lab_in_netns(ns, setup_in_fabric, &st))
		return cli_error(c, "cannot set up etcd's users and roles: %s", st.err);
	return 0;
}
