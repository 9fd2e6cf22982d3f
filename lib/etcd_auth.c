/* petrel's etcd roles (see etcd_auth.h), applied through etcd's JSON gateway. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "etcd_auth.h"
#include "etcd_codec.h"
#include "store_etcd.h"

static size_t add(struct etcd_grant *g, size_t n, bool prefix, bool write, const char *fmt,
		  const char *arg)
{
	if (n < ETCD_GRANTS_MAX) {
		snprintf(g[n].key, sizeof(g[n].key), fmt, arg);
		g[n].prefix = prefix;
		g[n].write = write;
		n++;
	}
	return n;
}

size_t etcd_node_grants(const char *node, struct etcd_grant *g)
{
	size_t n = 0;

	n = add(g, n, true, false, "%s", "/petrel/");              /* everything: read */
	n = add(g, n, false, true, "/petrel/nodes/%s", node);      /* its own records */
	n = add(g, n, false, true, "/petrel/alive/%s", node);
	n = add(g, n, true, true, "/petrel/endpoints/%s/", node);
	n = add(g, n, true, true, "/petrel/ports/%s/", node);
	n = add(g, n, true, true, "/petrel/ioam/roles/%s/", node);
	/* What every node takes part in: address blocks, identities and endpoint names
	 * (created only if free), migration claims (compare-and-set between two nodes), and
	 * container records (a container's record moves with it in the commit). */
	n = add(g, n, true, true, "%s", "/petrel/blocks/");
	n = add(g, n, true, true, "%s", "/petrel/identities/");
	n = add(g, n, true, true, "%s", "/petrel/names/");
	n = add(g, n, true, true, "%s", "/petrel/migrations/");
	n = add(g, n, true, true, "%s", "/petrel/containers/");
	return n;
}

size_t etcd_operator_grants(struct etcd_grant *g)
{
	size_t n = 0;

	n = add(g, n, true, false, "%s", "/petrel/");
	n = add(g, n, true, true, "%s", "/petrel/policies/");
	n = add(g, n, true, true, "%s", "/petrel/ioam/namespaces/");
	n = add(g, n, true, true, "%s", "/petrel/ioam/encap/");
	return n;
}

static int request(struct store *s, const char *path, json_t *body, const char *what, char *err,
		   size_t len)
{
	json_t *resp = NULL;
	int ret = store_etcd_request(s, path, body, &resp);

	json_decref(resp);
	if (ret)
		snprintf(err, len, "%s: %s", what, strerror(-ret));
	return ret;
}

static int make_role(struct store *s, const char *role, const struct etcd_grant *g, size_t n,
		     char *err, size_t len)
{
	char what[160];
	int ret;

	snprintf(what, sizeof(what), "adding role %s", role);
	if ((ret = request(s, "/v3/auth/role/add", json_pack("{s:s}", "name", role), what, err, len)))
		return ret;
	for (size_t i = 0; i < n; i++) {
		char end[sizeof(g[i].key)], *k = etcd_b64(g[i].key), *e = NULL;
		json_t *perm = json_pack("{s:s, s:s}", "permType", g[i].write ? "READWRITE" : "READ",
					 "key", k);

		if (g[i].prefix) {
			size_t l = strlen(g[i].key);

			memcpy(end, g[i].key, l + 1);
			end[l - 1]++;                     /* the prefix's range end */
			e = etcd_b64(end);
			json_object_set_new(perm, "range_end", json_string(e));
		}
		snprintf(what, sizeof(what), "granting %s on %s%s", role, g[i].key, g[i].prefix ? "*" : "");
		ret = request(s, "/v3/auth/role/grant", json_pack("{s:s, s:o}", "name", role, "perm", perm),
			      what, err, len);
		free(k);
		free(e);
		if (ret)
			return ret;
	}
	return 0;
}

static int make_user(struct store *s, const char *user, const char *password, const char *role,
		     char *err, size_t len)
{
	char what[160];
	int ret;

	snprintf(what, sizeof(what), "adding user %s", user);
	ret = request(s, "/v3/auth/user/add", json_pack("{s:s, s:s}", "name", user, "password", password),
		      what, err, len);
	snprintf(what, sizeof(what), "giving user %s role %s", user, role);
	return ret ?: request(s, "/v3/auth/user/grant", json_pack("{s:s, s:s}", "user", user, "role", role),
			      what, err, len);
}

int etcd_auth_setup(struct store *s, const struct etcd_user *users, size_t n,
		    const char *root_password, char *err, size_t len)
{
	struct etcd_grant g[ETCD_GRANTS_MAX];
	char role[96];
	bool operator_role = false;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		if (users[i].node) {
			snprintf(role, sizeof(role), "petrel-node-%s", users[i].node);
			ret = make_role(s, role, g, etcd_node_grants(users[i].node, g), err, len);
		} else {
			snprintf(role, sizeof(role), "%s", "petrel-operator");
			if (!operator_role)
				ret = make_role(s, role, g, etcd_operator_grants(g), err, len);
			operator_role = true;
		}
		if (!ret)
			ret = make_user(s, users[i].name, users[i].password, role, err, len);
	}
	/* etcd turns authentication on only with a root user holding the root role. */
	if (!ret)
		ret = make_user(s, "root", root_password, "root", err, len);
	if (!ret)
		ret = request(s, "/v3/auth/enable", json_object(), "enabling authentication", err, len);
	return ret;
}

#define PASSWORD_LEN 32

/* A fresh random password for user into pw (PASSWORD_LEN + 1 of room), in its file. */
static int new_password(const char *dir, const char *user, char *pw)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[PASSWORD_LEN];
	char path[512];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC), ret;
	ssize_t got = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof(raw))
		return -EIO;
	for (int i = 0; i < PASSWORD_LEN; i++)
		pw[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
	pw[PASSWORD_LEN] = 0;
	snprintf(path, sizeof(path), "%s/etcd-%s.password", dir, user);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	ret = fchmod(fd, 0600) == 0 && write(fd, pw, PASSWORD_LEN) == PASSWORD_LEN &&
	      write(fd, "\n", 1) == 1 ? 0 : -EIO;
	close(fd);
	return ret;
}

int etcd_auth_setup_dir(struct store *s, const char *const *nodes, size_t n, const char *dir,
			char *err, size_t len)
{
	struct etcd_user *users = calloc(n + 1, sizeof(*users));
	char (*pw)[PASSWORD_LEN + 1] = calloc(n + 2, sizeof(*pw));
	int ret = users && pw && n <= ETCD_MAX_NODES ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && !ret; i++) {
		users[i] = (struct etcd_user){ nodes[i], pw[i], nodes[i] };
		ret = new_password(dir, nodes[i], pw[i]);
	}
	if (!ret)
		users[n] = (struct etcd_user){ "operator", pw[n], NULL };
	if (!ret && !(ret = new_password(dir, "operator", pw[n])))
		ret = new_password(dir, "root", pw[n + 1]);
	if (ret)
		snprintf(err, len, "cannot write a password file in %s: %s", dir, strerror(-ret));
	else
		ret = etcd_auth_setup(s, users, n + 1, pw[n + 1], err, len);
	if (pw)
		explicit_bzero(pw, (n + 2) * sizeof(*pw));
	free(pw);
	free(users);
	return ret;
}
