/* petrel's etcd roles: a node's grants cover its own keys and the shared allocations, read
 * everything, and write nothing of another node's or an operator's; the operator's grants
 * write policies and IOAM configuration only. */
#include <stdio.h>
#include <string.h>
#include "harness.h"
#include "etcd_auth.h"

/* Whether grants g[0..n) let their holder write key. */
static bool may_write(const struct etcd_grant *g, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].write && (g[i].prefix ? !strncmp(key, g[i].key, strlen(g[i].key)) :
				   !strcmp(key, g[i].key)))
			return true;
	return false;
}

static bool may_read(const struct etcd_grant *g, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].prefix ? !strncmp(key, g[i].key, strlen(g[i].key)) : !strcmp(key, g[i].key))
			return true;
	return false;
}

int main(void)
{
	struct etcd_grant g[ETCD_GRANTS_MAX];
	size_t n = etcd_node_grants("node1", g);

	CHECK(n > 0 && n <= ETCD_GRANTS_MAX);
	/* its own */
	CHECK(may_write(g, n, "/petrel/nodes/node1"));
	CHECK(may_write(g, n, "/petrel/alive/node1"));
	CHECK(may_write(g, n, "/petrel/endpoints/node1/web"));
	CHECK(may_write(g, n, "/petrel/ports/node1/tcp/8080"));
	CHECK(may_write(g, n, "/petrel/ioam/roles/node1/eth0"));
	/* shared */
	CHECK(may_write(g, n, "/petrel/blocks/000003"));
	CHECK(may_write(g, n, "/petrel/identities/next"));
	CHECK(may_write(g, n, "/petrel/names/web"));
	CHECK(may_write(g, n, "/petrel/migrations/web"));
	CHECK(may_write(g, n, "/petrel/containers/web"));
	/* another node's, with a name that starts like its own, and an operator's */
	CHECK(!may_write(g, n, "/petrel/nodes/node10"));
	CHECK(!may_write(g, n, "/petrel/nodes/node2"));
	CHECK(!may_write(g, n, "/petrel/alive/node2"));
	CHECK(!may_write(g, n, "/petrel/endpoints/node10/web"));
	CHECK(!may_write(g, n, "/petrel/endpoints/node2/web"));
	CHECK(!may_write(g, n, "/petrel/ports/node2/tcp/80"));
	CHECK(!may_write(g, n, "/petrel/ioam/roles/node2/eth0"));
	CHECK(!may_write(g, n, "/petrel/policies/p"));
	CHECK(!may_write(g, n, "/petrel/ioam/namespaces/1"));
	CHECK(!may_write(g, n, "/petrel/ioam/encap/1"));
	CHECK(!may_write(g, n, "/other"));
	CHECK(may_read(g, n, "/petrel/endpoints/node2/web") && !may_read(g, n, "/other"));

	n = etcd_operator_grants(g);
	CHECK(may_write(g, n, "/petrel/policies/p"));
	CHECK(may_write(g, n, "/petrel/ioam/namespaces/1"));
	CHECK(may_write(g, n, "/petrel/ioam/encap/1"));
	CHECK(!may_write(g, n, "/petrel/nodes/node1"));
	CHECK(!may_write(g, n, "/petrel/endpoints/node1/web"));
	CHECK(!may_write(g, n, "/petrel/ioam/roles/node1/eth0"));
	CHECK(may_read(g, n, "/petrel/nodes/node1"));
	return harness_done("test_etcd_auth");
}
