/* The cluster state cache: deltas as (old, new), per-key coalescing of bursts, stale
 * changes ignored, a re-list that removes what disappeared and adds what appeared, and
 * per-node records of one name shown as the current one (highest epoch). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"
#include "cluster_cache.h"

static const struct cc_prefix prefixes[] = {
	{ "/petrel/nodes/", CC_NODE, false },
	{ "/petrel/endpoints/", CC_ENDPOINT, true },
	{ "/petrel/policies/", CC_POLICY, false },
};

struct seen {
	int adds, changes, removes, batches;
	char last[64];
	char last_node[64];
	int nodes_known_at_endpoint;     /* endpoint deltas that found their node cached */
	struct cluster_cache *cc;
};

static void changed(void *ctx, const struct cc_entry *old, const struct cc_entry *new)
{
	struct seen *s = ctx;
	const struct cc_entry *e = new ? new : old;

	if (!old)
		s->adds++;
	else if (!new)
		s->removes++;
	else
		s->changes++;
	snprintf(s->last, sizeof(s->last), "%s", e->name);
	if (e->kind == CC_ENDPOINT && new) {
		snprintf(s->last_node, sizeof(s->last_node), "%s", new->u.ep.node);
		s->nodes_known_at_endpoint += cc_find(s->cc, CC_NODE, new->u.ep.node) != NULL;
	}
}

static void batch_end(void *ctx)
{
	((struct seen *)ctx)->batches++;
}

static char *ep_record_at(const char *name, const char *node, int host, int epoch)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"name\":\"%s\",\"node\":\"%s\",\"netns\":\"petrel-%s\",\"ifname\":\"pe%d\","
		 "\"state\":\"ready\",\"ipv4\":\"10.244.0.%d\",\"ipv6\":\"fd00:244::%x\","
		 "\"mac\":\"02:00:00:00:00:01\",\"id\":%d,\"identity\":%d,\"labels\":{\"app\":\"web\"},"
		 "\"publish\":[],\"epoch\":%d}", name, node, name, host, host, host, host, 256 + host, epoch);
	return buf;
}

static char *ep_record(const char *name, const char *node, int host)
{
	return ep_record_at(name, node, host, 0);
}

static const char *node_record(int i)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "{\"ipv4\":\"198.18.0.%d\",\"ipv6\":\"fd00:198:18::%d\","
		 "\"block4\":\"10.244.%d.0/24\",\"block6\":\"fd00:244:0:%d::/64\"}", i, i, i, i);
	return buf;
}

static void fresh(struct cluster_cache **cc, struct seen *s)
{
	struct cc_listener l = { .name = "test", .kinds = CC_BIT(CC_NODE) | CC_BIT(CC_ENDPOINT),
				 .changed = changed, .batch_end = batch_end, .ctx = s };

	CHECK(cc_new(cc, prefixes, 3) == 0);
	memset(s, 0, sizeof(*s));
	s->cc = *cc;
	CHECK(cc_subscribe(*cc, &l) == 0);
}

static void test_deltas(void)
{
	struct cluster_cache *cc;
	struct seen s;
	const struct cc_entry *e;

	fresh(&cc, &s);
	CHECK(cc_stage_put(cc, "/petrel/endpoints/node1/web", ep_record("web", "node1", 2), 5) == 0);
	CHECK(cc_pending(cc) == 1);
	CHECK(cc_apply(cc, 100) == 1);
	CHECK(s.adds == 1 && s.changes == 0 && s.removes == 0 && s.batches == 1);
	CHECK_STR(s.last, "web");
	CHECK(cc_revision(cc) == 5);
	e = cc_find(cc, CC_ENDPOINT, "web");
	CHECK(e && e->u.ep.identity == 258 && !strcmp(e->u.ep.node, "node1"));
	CHECK(e && e->u.ep.ip4.family == AF_INET);

	/* The same record again is no delta; a changed one is a change with both sides. */
	cc_stage_put(cc, "/petrel/endpoints/node1/web", ep_record("web", "node1", 2), 6);
	cc_apply(cc, 100);
	CHECK(s.changes == 0);
	CHECK(cc_revision(cc) == 6);
	cc_stage_put(cc, "/petrel/endpoints/node1/web", ep_record("web", "node1", 3), 7);
	cc_apply(cc, 100);
	CHECK(s.changes == 1);
	CHECK(cc_find(cc, CC_ENDPOINT, "web")->u.ep.identity == 259);

	/* An older change than the cached one is ignored. */
	cc_stage_put(cc, "/petrel/endpoints/node1/web", ep_record("web", "node1", 4), 4);
	cc_apply(cc, 100);
	CHECK(cc_find(cc, CC_ENDPOINT, "web")->u.ep.identity == 259);

	/* Keys outside the prefixes are not kept, yet move the revision. */
	cc_stage_put(cc, "/petrel/containers/web", "{}", 9);
	CHECK(cc_pending(cc) == 0);
	CHECK(cc_revision(cc) == 9);
	CHECK(cc_wait_revision(cc, 9, 10) == 0);
	CHECK(cc_wait_revision(cc, 10, 10) == -ETIMEDOUT);

	/* A malformed record counts as absent: the valid one it replaces is removed. */
	cc_stage_put(cc, "/petrel/endpoints/node1/web", "not json", 11);
	cc_apply(cc, 100);
	CHECK(s.removes == 1);
	CHECK(cc_find(cc, CC_ENDPOINT, "web") == NULL);
	CHECK(cc_count(cc, CC_ENDPOINT) == 0);
	cc_free(cc);
}

static void test_coalescing(void)
{
	struct cluster_cache *cc;
	struct seen s;
	char key[64], name[32];

	fresh(&cc, &s);
	/* 10000 events on 100 keys: one batch, one delta per key, the last value winning. */
	for (int round = 0; round < 100; round++)
		for (int k = 0; k < 100; k++) {
			snprintf(name, sizeof(name), "ep%d", k);
			snprintf(key, sizeof(key), "/petrel/endpoints/node1/%s", name);
			cc_stage_put(cc, key, ep_record(name, "node1", round == 99 ? k + 101 : k + 1),
				     1 + round * 100 + k);
		}
	CHECK(cc_pending(cc) == 100);
	CHECK(cc_apply(cc, 100000) == 100);
	CHECK(s.adds == 100 && s.changes == 0 && s.batches == 1);
	CHECK(cc_find(cc, CC_ENDPOINT, "ep7")->u.ep.identity == 256 + 108);

	/* A put then a delete of a new key in one burst: nothing to tell. */
	cc_stage_put(cc, "/petrel/endpoints/node1/brief", ep_record("brief", "node1", 200), 20000);
	cc_stage_delete(cc, "/petrel/endpoints/node1/brief", 20001);
	cc_apply(cc, 100);
	CHECK(s.adds == 100 && s.removes == 0);

	/* Batches are bounded; nodes come first, so endpoints find their node. */
	for (int k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "x%d", k);
		snprintf(key, sizeof(key), "/petrel/endpoints/node7/%s", name);
		cc_stage_put(cc, key, ep_record(name, "node7", 100 + k), 30000 + k);
	}
	cc_stage_put(cc, "/petrel/nodes/node7", node_record(7), 30100);
	CHECK(cc_apply(cc, 4) == 4);
	CHECK(cc_find(cc, CC_NODE, "node7") != NULL);
	CHECK(cc_revision(cc) < 30100);    /* not all applied yet */
	while (cc_apply(cc, 4))
		;
	CHECK(s.nodes_known_at_endpoint >= 10);
	CHECK(cc_revision(cc) == 30100);
	CHECK(cc_count(cc, CC_ENDPOINT) == 110);
	cc_free(cc);
}

static void test_relist(void)
{
	struct cluster_cache *cc;
	struct seen s;
	struct store_kv kvs[3];

	fresh(&cc, &s);
	cc_stage_put(cc, "/petrel/endpoints/node1/gone", ep_record("gone", "node1", 2), 3);
	cc_stage_put(cc, "/petrel/endpoints/node1/kept", ep_record("kept", "node1", 3), 4);
	cc_stage_put(cc, "/petrel/endpoints/node1/changed", ep_record("changed", "node1", 4), 5);
	cc_apply(cc, 100);
	/* Staged but never applied before the watch broke: the listing decides. */
	cc_stage_put(cc, "/petrel/endpoints/node1/staged-gone", ep_record("staged-gone", "node1", 5), 6);

	/* The watch was compacted; a re-list at revision 50 finds this ("changed" moved to
	 * node2, whose record outranks node1's, which is gone). */
	kvs[0] = (struct store_kv){ "/petrel/endpoints/node1/kept", ep_record("kept", "node1", 3), 4 };
	kvs[0].value = strdup(kvs[0].value);
	kvs[1] = (struct store_kv){ "/petrel/endpoints/node2/changed", ep_record_at("changed", "node2", 4, 1), 40 };
	kvs[1].value = strdup(kvs[1].value);
	kvs[2] = (struct store_kv){ "/petrel/endpoints/node2/new", ep_record("new", "node2", 6), 45 };
	kvs[2].value = strdup(kvs[2].value);
	memset(&s, 0, offsetof(struct seen, cc));
	CHECK(cc_stage_snapshot(cc, kvs, 3, 50) == 0);
	while (cc_apply(cc, 100))
		;
	CHECK(s.adds == 1);                 /* new */
	CHECK(s.changes == 1);              /* changed moved to node2 */
	CHECK(s.removes == 1);              /* gone; staged-gone was never told */
	CHECK(cc_find(cc, CC_ENDPOINT, "gone") == NULL);
	CHECK(cc_find(cc, CC_ENDPOINT, "staged-gone") == NULL);
	CHECK(cc_find(cc, CC_ENDPOINT, "kept") != NULL);
	CHECK_STR(cc_find(cc, CC_ENDPOINT, "changed")->u.ep.node, "node2");
	CHECK(cc_count(cc, CC_ENDPOINT) == 3);
	CHECK(cc_revision(cc) == 50);
	for (int i = 0; i < 3; i++)
		free(kvs[i].value);
	cc_free(cc);
}

/* A moved endpoint's records: each node writes its own; the highest epoch is current. */
static void test_per_node(void)
{
	struct cluster_cache *cc;
	struct seen s;

	fresh(&cc, &s);
	cc_stage_put(cc, "/petrel/endpoints/node1/web", ep_record_at("web", "node1", 2, 0), 5);
	cc_apply(cc, 100);
	CHECK(s.adds == 1);
	/* The destination's record (epoch 1) before the source removes its own. */
	cc_stage_put(cc, "/petrel/endpoints/node2/web", ep_record_at("web", "node2", 2, 1), 6);
	cc_apply(cc, 100);
	CHECK(s.adds == 1 && s.changes == 1);
	CHECK_STR(s.last_node, "node2");
	CHECK_STR(cc_find(cc, CC_ENDPOINT, "web")->u.ep.node, "node2");
	CHECK(cc_count(cc, CC_ENDPOINT) == 1);
	/* The source removes its outranked record: nothing changes for anyone. */
	cc_stage_delete(cc, "/petrel/endpoints/node1/web", 7);
	cc_apply(cc, 100);
	CHECK(s.changes == 1 && s.removes == 0);
	/* Back to node1 (epoch 2): its new record is current, even in the same batch as a
	 * late write of node2's (epoch 1). */
	cc_stage_put(cc, "/petrel/endpoints/node1/web", ep_record_at("web", "node1", 2, 2), 8);
	cc_stage_put(cc, "/petrel/endpoints/node2/web", ep_record_at("web", "node2", 3, 1), 9);
	cc_apply(cc, 100);
	CHECK_STR(cc_find(cc, CC_ENDPOINT, "web")->u.ep.node, "node1");
	CHECK(cc_find(cc, CC_ENDPOINT, "web")->u.ep.epoch == 2);
	/* A record under node3's key that names node1 is no one's; so are keys without a node
	 * or with more than one '/'. */
	cc_stage_put(cc, "/petrel/endpoints/node3/web", ep_record_at("web", "node1", 2, 9), 10);
	cc_stage_put(cc, "/petrel/endpoints/web", ep_record_at("web", "node1", 2, 9), 11);
	cc_stage_put(cc, "/petrel/endpoints/node1/a/web", ep_record_at("web", "node1", 2, 9), 12);
	cc_apply(cc, 100);
	CHECK(cc_find(cc, CC_ENDPOINT, "web")->u.ep.epoch == 2);
	CHECK(cc_find(cc, CC_ENDPOINT, "a/web") == NULL);
	/* The current record gone: the next one is current again, told as a change. */
	s.changes = 0;
	cc_stage_delete(cc, "/petrel/endpoints/node1/web", 13);
	cc_apply(cc, 100);
	CHECK(s.changes == 1 && s.removes == 0);
	CHECK_STR(cc_find(cc, CC_ENDPOINT, "web")->u.ep.node, "node2");
	/* A re-list without node2's record: the name goes. */
	CHECK(cc_stage_snapshot(cc, NULL, 0, 20) == 0);
	cc_apply(cc, 100);
	CHECK(s.removes == 1);
	CHECK(cc_find(cc, CC_ENDPOINT, "web") == NULL && cc_count(cc, CC_ENDPOINT) == 0);
	cc_free(cc);
}

static void test_node_decode(void)
{
	struct cc_node n;

	CHECK(cc_node_decode(node_record(3), &n) == 0);
	CHECK(n.ip4.family == AF_INET && n.ip6.family == AF_INET6);
	CHECK(n.block4.prefixlen == 24 && n.block6.prefixlen == 64);
	CHECK(cc_node_decode("{\"ipv6\":\"fd00::1\"}", &n) == -EINVAL);
	CHECK(cc_node_decode("garbage", &n) == -EINVAL);
}

int main(void)
{
	test_deltas();
	test_coalescing();
	test_relist();
	test_per_node();
	test_node_decode();
	return harness_done("test_cluster_cache");
}
