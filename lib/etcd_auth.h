/* What petrel's etcd users may do: a role per node that writes only that node's own keys
 * (and the shared allocations every node takes part in), and an operator's role for
 * policies and IOAM configuration. The key layout they follow is docs/design.md's. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "store.h"

struct etcd_grant {
	char key[128];
	bool prefix;                   /* every key under key, else key alone */
	bool write;                    /* read and write, else read */
};

#define ETCD_GRANTS_MAX 16

/* node's grants into g (ETCD_GRANTS_MAX of room); their number. */
size_t etcd_node_grants(const char *node, struct etcd_grant *g);
size_t etcd_operator_grants(struct etcd_grant *g);

struct etcd_user {
	const char *name;
	const char *password;
	const char *node;              /* a node's user: that node's role; NULL: the operator's */
};

/* Create the roles and users (the operator's and each node's), a root user with
 * root_password, and turn etcd's authentication on. On a store s with no auth yet. The
 * failing step's reason goes to err. */
int etcd_auth_setup(struct store *s, const struct etcd_user *users, size_t n,
		    const char *root_password, char *err, size_t len);

/* etcd_auth_setup for nodes[0..n), "operator" and root, each with a fresh random password
 * kept in dir/etcd-USER.password (0600), which petreld.conf's etcd-password-file names. */
int etcd_auth_setup_dir(struct store *s, const char *const *nodes, size_t n, const char *dir,
			char *err, size_t len);
#define ETCD_MAX_NODES 1024
