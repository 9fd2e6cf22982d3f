/* Unit tests for CHECK's verdict (namespace state against the agent's endpoint and the
 * prevResult) and for GC's choice of stale attachments. */
#include <stdlib.h>
#include <netinet/in.h>
#include "harness.h"
#include "cni.h"

static const struct cni_env env = { .command = "CHECK", .container_id = "abc", .netns = "/run/netns/x",
				    .ifname = "eth0" };

static struct endpoint sample_endpoint(void)
{
	struct endpoint ep = { .name = "cni-0", .node = "node1" };

	ip_parse("10.244.0.5", &ep.ip4);
	ip_parse("fd00:244::5", &ep.ip6);
	memcpy(ep.mac, "\x02\x50\x00\x00\x00\x01", 6);
	return ep;
}

static void add_route(struct cni_ns_state *st, const char *dst, const char *gw)
{
	struct cni_ns_route *r = &st->routes[st->n_routes++];

	cidr_parse(dst, &r->dst);
	cidr_normalize(&r->dst);
	if (gw)
		ip_parse(gw, &r->gw);
}

/* The namespace exactly as the agent sets it up. */
static struct cni_ns_state healthy(void)
{
	struct cni_ns_state st = { .link_found = true, .link_up = true };

	memcpy(st.mac, "\x02\x50\x00\x00\x00\x01", 6);
	cidr_parse("10.244.0.5/32", &st.addrs[st.n_addrs++]);
	cidr_parse("fe80::50:ff:fe00:1/64", &st.addrs[st.n_addrs++]);
	cidr_parse("fd00:244::5/128", &st.addrs[st.n_addrs++]);
	add_route(&st, "0.0.0.0/0", CNI_GW4);
	add_route(&st, "fe80::/64", NULL);
	add_route(&st, "::/0", CNI_GW6);
	return st;
}

static int check(struct cni_conf *c, const struct endpoint *ep, const struct cni_ns_state *st,
		 struct cni_error *e)
{
	memset(e, 0, sizeof(*e));
	return cni_check(c, &env, ep, st, e) ? e->code : 0;
}

static void load_conf(struct cni_conf *c, const char *text)
{
	struct cni_error e;

	CHECK(cni_conf_parse(text, strlen(text), c, &e) == 0);
}

static void test_check(void)
{
	struct cni_conf c, noprev;
	struct cni_error e;
	struct endpoint ep = sample_endpoint();
	struct cni_ns_state st;
	json_t *res;
	char *text;

	/* prevResult exactly as ADD produced it. */
	load_conf(&noprev, "{\"cniVersion\":\"1.0.0\",\"name\":\"x\"}");
	res = cni_result(&noprev, &env, &ep, &e);
	text = json_dumps(json_pack("{s:s, s:s, s:O}", "cniVersion", "1.0.0", "name", "x", "prevResult", res),
			  JSON_COMPACT);
	load_conf(&c, text);
	free(text);
	json_decref(res);

	st = healthy();
	CHECK(check(&c, &ep, &st, &e) == 0);
	CHECK(check(&noprev, &ep, &st, &e) == CNI_ERR_INVALID_CONFIG);

	st = healthy();
	st.link_found = false;
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "no interface eth0"));
	st = healthy();
	st.link_up = false;
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "down"));
	st = healthy();
	st.mac[5] = 9;
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "MAC"));
	st = healthy();
	st.addrs[0] = st.addrs[--st.n_addrs];            /* IPv4 address gone */
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "10.244.0.5/32"));
	st = healthy();
	st.addrs[0].prefixlen = 24;                       /* right address, wrong prefix */
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK);
	st = healthy();
	st.n_addrs = 2;                                   /* IPv6 address gone */
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "fd00:244::5"));
	st = healthy();
	st.routes[0] = st.routes[--st.n_routes];          /* IPv4 default route gone */
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, CNI_GW4));
	st = healthy();
	st.n_routes = 2;                                  /* IPv6 default route gone */
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, CNI_GW6));
	st = healthy();
	ip_parse("169.254.1.2", &st.routes[0].gw);        /* default route via someone else */
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK);
	st = healthy();
	add_route(&st, "10.0.0.0/8", "169.254.1.1");      /* extra routes (a later plugin's) are fine */
	CHECK(check(&c, &ep, &st, &e) == 0);

	/* The endpoint the agent has now differs from what prevResult recorded. */
	st = healthy();
	ep = sample_endpoint();
	ip_parse("10.244.0.6", &ep.ip4);
	cidr_parse("10.244.0.6/32", &st.addrs[0]);
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "prevResult"));
	ep = sample_endpoint();
	ep.mac[5] = 7;
	st.mac[5] = 7;
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "prevResult has MAC"));
	cni_conf_free(&c);

	/* prevResult naming another sandbox, or a route of ours that is missing. */
	ep = sample_endpoint();
	st = healthy();
	load_conf(&c, "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"prevResult\":{\"interfaces\":"
		  "[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/other\"}]}}");
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "prevResult lists no interface"));
	cni_conf_free(&c);
	load_conf(&c, "{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"prevResult\":{\"interfaces\":"
		  "[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/x\"}],"
		  "\"routes\":[{\"dst\":\"10.0.0.0/8\",\"gw\":\"169.254.1.1\"},{\"dst\":\"192.168.0.0/16\",\"gw\":\"10.9.9.9\"}]}}");
	CHECK(check(&c, &ep, &st, &e) == CNI_ERR_CHECK && strstr(e.details, "10.0.0.0/8"));
	add_route(&st, "10.0.0.1/8", CNI_GW4);            /* normalised: 10.0.0.0/8 */
	CHECK(check(&c, &ep, &st, &e) == 0);              /* 192.168/16 via 10.9.9.9 is not ours */
	cni_conf_free(&c);
	cni_conf_free(&noprev);
}

static struct endpoint cni_endpoint(const char *network, const char *id, const char *node)
{
	struct endpoint ep = { 0 };

	cni_endpoint_name(network, id, "eth0", ep.name);
	snprintf(ep.node, sizeof(ep.node), "%s", node);
	ep.n_labels = 2;
	snprintf(ep.labels[0].key, EP_LABEL_MAX, CNI_LABEL_MARK);
	snprintf(ep.labels[0].value, EP_LABEL_MAX, "true");
	snprintf(ep.labels[1].key, EP_LABEL_MAX, CNI_LABEL_NETWORK);
	snprintf(ep.labels[1].value, EP_LABEL_MAX, "%s", network);
	return ep;
}

static void test_gc(void)
{
	struct cni_conf c;
	struct endpoint ep;

	load_conf(&c, "{\"cniVersion\":\"1.1.0\",\"name\":\"petrel\",\"cni.dev/valid-attachments\":"
		  "[{\"containerID\":\"keep\",\"ifname\":\"eth0\"}]}");
	ep = cni_endpoint("petrel", "keep", "node1");
	CHECK(!cni_gc_stale(&c, "node1", &ep));                      /* still valid */
	ep = cni_endpoint("petrel", "gone", "node1");
	CHECK(cni_gc_stale(&c, "node1", &ep));                       /* stale */
	CHECK(!cni_gc_stale(&c, "node2", &ep));                      /* another node's */
	ep = cni_endpoint("other", "gone", "node1");
	CHECK(!cni_gc_stale(&c, "node1", &ep));                      /* another network's */
	ep = cni_endpoint("petrel", "gone", "node1");
	ep.n_labels = 1;
	CHECK(!cni_gc_stale(&c, "node1", &ep));                      /* no network label */
	memset(&ep, 0, sizeof(ep));
	snprintf(ep.name, sizeof(ep.name), "web");
	snprintf(ep.node, sizeof(ep.node), "node1");
	CHECK(!cni_gc_stale(&c, "node1", &ep));                      /* not a CNI endpoint */
	cni_conf_free(&c);
}

int main(void)
{
	test_check();
	test_gc();
	return harness_done("test_cni_check");
}
