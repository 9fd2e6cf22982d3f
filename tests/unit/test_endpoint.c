/* Unit tests for the endpoint model: request validation and the JSON round trip. */
#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include "harness.h"
#include "endpoint.h"

static int parse(const char *text, struct ep_request *req, char *err)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret = ep_request_parse(j, req, err, 256);

	json_decref(j);
	return ret;
}

static void test_requests(void)
{
	struct ep_request req;
	char err[256];

	CHECK(parse("{\"name\":\"web\"}", &req, err) == 0);
	CHECK_STR(req.name, "web");
	CHECK(req.n_labels == 0 && req.n_publish == 0);

	CHECK(parse("{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"},"
		    "\"publish\":[{\"host_port\":8080,\"port\":80},{\"host_port\":53,\"port\":53,\"proto\":\"udp\"}]}",
		    &req, err) == 0);
	CHECK(req.n_labels == 2 && req.n_publish == 2);
	CHECK(req.publish[0].proto == IPPROTO_TCP && req.publish[0].host_port == 8080);
	CHECK(req.publish[1].proto == IPPROTO_UDP && req.publish[1].port == 53);

	CHECK(parse("{\"name\":\"web\",\"ipv4\":\"10.244.0.7\",\"ipv6\":\"fd00:244::7\"}", &req, err) == 0);
	CHECK(req.want4.family == AF_INET && req.want6.family == AF_INET6);
	CHECK(parse("{\"name\":\"web\",\"ipv4\":\"fd00::1\"}", &req, err) == -EINVAL && strstr(err, "ipv4"));
	CHECK(parse("{\"name\":\"web\",\"ipv6\":\"10.0.0.1\"}", &req, err) == -EINVAL && strstr(err, "ipv6"));
	CHECK(parse("[]", &req, err) == -EINVAL);
	CHECK(parse("{}", &req, err) == -EINVAL && strstr(err, "name"));
	CHECK(parse("{\"name\":\"Web!\"}", &req, err) == -EINVAL && strstr(err, "name"));
	CHECK(parse("{\"name\":\"web\",\"colour\":1}", &req, err) == -EINVAL && strstr(err, "colour"));
	CHECK(parse("{\"name\":\"web\",\"labels\":{\"app\":3}}", &req, err) == -EINVAL && strstr(err, "labels.app"));
	CHECK(parse("{\"name\":\"web\",\"labels\":{\"\":\"x\"}}", &req, err) == -EINVAL);
	CHECK(parse("{\"name\":\"web\",\"labels\":{\"a b\":\"x\"}}", &req, err) == -EINVAL);
	CHECK(parse("{\"name\":\"web\",\"publish\":[{\"host_port\":0,\"port\":80}]}", &req, err) == -EINVAL
	      && strstr(err, "publish[0].host_port"));
	CHECK(parse("{\"name\":\"web\",\"publish\":[{\"host_port\":80,\"port\":65536}]}", &req, err) == -EINVAL
	      && strstr(err, "publish[0].port"));
	CHECK(parse("{\"name\":\"web\",\"publish\":[{\"host_port\":80,\"port\":80,\"proto\":\"sctp\"}]}", &req, err) == -EINVAL
	      && strstr(err, "proto"));
	CHECK(parse("{\"name\":\"web\",\"publish\":[{\"host_port\":80,\"port\":80},{\"host_port\":80,\"port\":81}]}", &req, err) == -EINVAL
	      && strstr(err, "twice"));
	/* Same host port over TCP and UDP is fine. */
	CHECK(parse("{\"name\":\"web\",\"publish\":[{\"host_port\":80,\"port\":80},{\"host_port\":80,\"port\":80,\"proto\":\"udp\"}]}", &req, err) == 0);
	CHECK(parse("{\"name\":\"web\",\"ifname\":\"eth0/x\"}", &req, err) == -EINVAL);
	CHECK(parse("{\"name\":\"web\",\"netns\":\"\"}", &req, err) == -EINVAL);
}

static void test_round_trip(void)
{
	struct endpoint ep = { 0 }, back;
	char *text;

	snprintf(ep.name, sizeof(ep.name), "web");
	snprintf(ep.node, sizeof(ep.node), "node2");
	snprintf(ep.netns, sizeof(ep.netns), "lab-ep-web");
	snprintf(ep.ifname, sizeof(ep.ifname), "lxc12345678");
	snprintf(ep.state, sizeof(ep.state), "ready");
	ip_parse("10.244.1.2", &ep.ip4);
	ip_parse("fd00:244:0:1::2", &ep.ip6);
	memcpy(ep.mac, "\x02\x50\xaa\xbb\xcc\xdd", 6);
	ep.id = 65538;
	ep.netns_owned = true;
	ep.n_labels = 1;
	snprintf(ep.labels[0].key, EP_LABEL_MAX, "app");
	snprintf(ep.labels[0].value, EP_LABEL_MAX, "web");
	ep.n_publish = 1;
	ep.publish[0] = (struct ep_publish){ IPPROTO_UDP, 5353, 53 };

	text = endpoint_encode(&ep);
	CHECK(text != NULL);
	CHECK(endpoint_decode(text, &back) == 0);
	CHECK_STR(back.name, "web");
	CHECK_STR(back.node, "node2");
	CHECK(ip_equal(&back.ip4, &ep.ip4) && ip_equal(&back.ip6, &ep.ip6));
	CHECK(memcmp(back.mac, ep.mac, 6) == 0);
	CHECK(back.id == 65538 && back.netns_owned);
	CHECK(back.n_labels == 1 && !strcmp(back.labels[0].value, "web"));
	CHECK(back.n_publish == 1 && back.publish[0].proto == IPPROTO_UDP && back.publish[0].host_port == 5353);
	CHECK(endpoint_has_labels(&back, ep.labels, 1));
	free(text);

	CHECK(endpoint_decode("{\"name\":\"x\"}", &back) == -EINVAL);   /* no node */
	CHECK(endpoint_decode("not json", &back) == -EINVAL);
	CHECK(endpoint_decode("{\"name\":\"x\",\"node\":\"n\",\"ipv4\":\"300.1.1.1\"}", &back) == -EINVAL);
}

int main(void)
{
	test_requests();
	test_round_trip();
	return harness_done("test_endpoint");
}
