/* Endpoint model: JSON codec and request validation (pure; shared by agent, CLI, CNI). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include "endpoint.h"
#include "config.h"

bool ep_label_valid(const char *key, const char *value)
{
	const char *strs[2] = { key, value };

	if (!key || !*key || !value)
		return false;
	for (int i = 0; i < 2; i++) {
		if (strlen(strs[i]) >= EP_LABEL_MAX)
			return false;
		for (const char *p = strs[i]; *p; p++) {
			char c = *p;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' || c == '-'))
				return false;
		}
	}
	return true;
}

const char *ep_proto_str(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

int ep_proto_parse(const char *s, uint8_t *proto)
{
	if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else
		return -EINVAL;
	return 0;
}

static int json_port(json_t *v, uint16_t *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return -EINVAL;
	n = json_integer_value(v);
	if (n < 1 || n > 65535)
		return -ERANGE;
	*out = (uint16_t)n;
	return 0;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

static int parse_labels(json_t *labels, struct ep_label *out, int *n, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	*n = 0;
	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels))
		FAIL("labels: must be an object of strings");
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v))
			FAIL("labels.%s: value must be a string", k);
		if (!ep_label_valid(k, json_string_value(v)))
			FAIL("labels.%s: invalid label (keys and values use A-Z a-z 0-9 . _ / -, under %d chars)",
			     k, EP_LABEL_MAX);
		if (*n >= EP_MAX_LABELS)
			FAIL("labels: more than %d labels", EP_MAX_LABELS);
		snprintf(out[*n].key, sizeof(out[*n].key), "%s", k);
		snprintf(out[*n].value, sizeof(out[*n].value), "%s", json_string_value(v));
		(*n)++;
	}
	return 0;
}

static int parse_publish(json_t *arr, struct ep_publish *out, int *n, char *err, size_t errlen)
{
	size_t i;
	json_t *p;

	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		FAIL("publish: must be an array");
	if (json_array_size(arr) > EP_MAX_PUBLISH)
		FAIL("publish: more than %d ports", EP_MAX_PUBLISH);
	json_array_foreach(arr, i, p) {
		json_t *proto;

		if (!json_is_object(p))
			FAIL("publish[%zu]: must be an object {host_port, port, proto}", i);
		if (json_port(json_object_get(p, "host_port"), &out[i].host_port))
			FAIL("publish[%zu].host_port: must be an integer in 1-65535", i);
		if (json_port(json_object_get(p, "port"), &out[i].port))
			FAIL("publish[%zu].port: must be an integer in 1-65535", i);
		proto = json_object_get(p, "proto");
		out[i].proto = IPPROTO_TCP;
		if (proto && (!json_is_string(proto) ||
			      ep_proto_parse(json_string_value(proto), &out[i].proto)))
			FAIL("publish[%zu].proto: must be \"tcp\" or \"udp\"", i);
		for (size_t j = 0; j < i; j++)
			if (out[j].host_port == out[i].host_port && out[j].proto == out[i].proto)
				FAIL("publish[%zu]: host port %u/%s is listed twice", i,
				     out[i].host_port, ep_proto_str(out[i].proto));
	}
	*n = (int)json_array_size(arr);
	return 0;
}

int ep_request_parse(json_t *body, struct ep_request *req, char *err, size_t errlen)
{
	static const char *known[] = { "name", "labels", "publish", "netns", "ifname", "ipv4", "ipv6",
				       NULL };
	const char *k, *s;
	json_t *v;
	int ret;

	memset(req, 0, sizeof(*req));
	if (!json_is_object(body))
		FAIL("request body must be a JSON object");
	json_object_foreach(body, k, v) {
		int ok = 0;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok)
			FAIL("%s: unknown field", k);
	}
	v = json_object_get(body, "name");
	if (!json_is_string(v))
		FAIL("name: required string");
	s = json_string_value(v);
	if (!name_valid(s))
		FAIL("name: '%s' is invalid (use a-z, 0-9 and '-', start with a letter or digit, at most 63 chars)", s);
	snprintf(req->name, sizeof(req->name), "%s", s);

	v = json_object_get(body, "netns");
	if (v) {
		if (!json_is_string(v) || !*json_string_value(v) ||
		    strlen(json_string_value(v)) >= sizeof(req->netns))
			FAIL("netns: must be a non-empty netns name or path");
		snprintf(req->netns, sizeof(req->netns), "%s", json_string_value(v));
	}
	v = json_object_get(body, "ifname");
	if (v) {
		if (!json_is_string(v) || !*json_string_value(v) ||
		    strlen(json_string_value(v)) >= sizeof(req->container_ifname) ||
		    strchr(json_string_value(v), '/') || strchr(json_string_value(v), ' '))
			FAIL("ifname: must be an interface name of 1-15 characters");
		snprintf(req->container_ifname, sizeof(req->container_ifname), "%s",
			 json_string_value(v));
	}
	v = json_object_get(body, "ipv4");
	if (v && (!json_is_string(v) || ip_parse(json_string_value(v), &req->want4) ||
		  req->want4.family != AF_INET))
		FAIL("ipv4: must be an IPv4 address");
	v = json_object_get(body, "ipv6");
	if (v && (!json_is_string(v) || ip_parse(json_string_value(v), &req->want6) ||
		  req->want6.family != AF_INET6))
		FAIL("ipv6: must be an IPv6 address");
	ret = parse_labels(json_object_get(body, "labels"), req->labels, &req->n_labels, err, errlen);
	if (ret)
		return ret;
	return parse_publish(json_object_get(body, "publish"), req->publish, &req->n_publish, err, errlen);
}

static void mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

json_t *ep_labels_json(const struct ep_label *labels, int n)
{
	json_t *j = json_object();

	for (int i = 0; i < n; i++)
		json_object_set_new(j, labels[i].key, json_string(labels[i].value));
	return j;
}

json_t *ep_publish_json(const struct ep_publish *publish, int n)
{
	json_t *j = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(j, json_pack("{s:i, s:i, s:s}", "host_port", publish[i].host_port,
						   "port", publish[i].port,
						   "proto", ep_proto_str(publish[i].proto)));
	return j;
}

json_t *endpoint_to_json(const struct endpoint *ep)
{
	char b4[IP_STRLEN], b6[IP_STRLEN], mac[18];
	json_t *labels = ep_labels_json(ep->labels, ep->n_labels);
	json_t *publish = ep_publish_json(ep->publish, ep->n_publish);

	mac_str(ep->mac, mac);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:I, s:b, s:b, s:I}",
			 "name", ep->name, "node", ep->node,
			 "ipv4", ep->ip4.family ? ip_str(&ep->ip4, b4) : "",
			 "ipv6", ep->ip6.family ? ip_str(&ep->ip6, b6) : "",
			 "mac", mac, "netns", ep->netns, "ifname", ep->ifname,
			 "labels", labels, "publish", publish, "state", ep->state,
			 "id", (json_int_t)ep->id, "identity", (json_int_t)ep->identity,
			 "netns_owned", ep->netns_owned, "moved", ep->moved, "epoch", (json_int_t)ep->epoch);
}

static int copy_str(json_t *obj, const char *key, char *dst, size_t len, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return required ? -EINVAL : 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= len)
		return -EINVAL;
	memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
	return 0;
}

int endpoint_from_json(json_t *obj, struct endpoint *ep)
{
	char tmp[IP_STRLEN] = "", err[128];
	unsigned int m[6];
	struct ep_request req;
	json_t *sub;

	memset(ep, 0, sizeof(*ep));
	if (!json_is_object(obj))
		return -EINVAL;
	if (copy_str(obj, "name", ep->name, sizeof(ep->name), true) ||
	    copy_str(obj, "node", ep->node, sizeof(ep->node), true) ||
	    copy_str(obj, "netns", ep->netns, sizeof(ep->netns), false) ||
	    copy_str(obj, "ifname", ep->ifname, sizeof(ep->ifname), false) ||
	    copy_str(obj, "state", ep->state, sizeof(ep->state), false))
		return -EINVAL;
	if (!copy_str(obj, "ipv4", tmp, sizeof(tmp), false) && *tmp && ip_parse(tmp, &ep->ip4))
		return -EINVAL;
	*tmp = 0;
	if (!copy_str(obj, "ipv6", tmp, sizeof(tmp), false) && *tmp && ip_parse(tmp, &ep->ip6))
		return -EINVAL;
	*tmp = 0;
	if (!copy_str(obj, "mac", tmp, sizeof(tmp), false) && *tmp) {
		if (sscanf(tmp, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
			return -EINVAL;
		for (int i = 0; i < 6; i++)
			ep->mac[i] = (uint8_t)m[i];
	}
	ep->id = (uint32_t)json_integer_value(json_object_get(obj, "id"));
	ep->identity = (uint32_t)json_integer_value(json_object_get(obj, "identity"));
	ep->netns_owned = json_is_true(json_object_get(obj, "netns_owned"));
	ep->moved = json_is_true(json_object_get(obj, "moved"));
	ep->epoch = (uint32_t)json_integer_value(json_object_get(obj, "epoch"));
	/* Labels and publish share the request validator: stored data obeys the same rules. */
	sub = json_pack("{s:s}", "name", ep->name);
	if (json_object_get(obj, "labels"))
		json_object_set(sub, "labels", json_object_get(obj, "labels"));
	if (json_object_get(obj, "publish"))
		json_object_set(sub, "publish", json_object_get(obj, "publish"));
	if (ep_request_parse(sub, &req, err, sizeof(err))) {
		json_decref(sub);
		return -EINVAL;
	}
	json_decref(sub);
	ep->n_labels = req.n_labels;
	memcpy(ep->labels, req.labels, sizeof(req.labels));
	ep->n_publish = req.n_publish;
	memcpy(ep->publish, req.publish, sizeof(req.publish));
	return 0;
}

char *endpoint_encode(const struct endpoint *ep)
{
	json_t *j = endpoint_to_json(ep);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return s;
}

int endpoint_decode(const char *text, struct endpoint *ep)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	if (!j)
		return -EINVAL;
	ret = endpoint_from_json(j, ep);
	json_decref(j);
	return ret;
}

bool endpoint_has_labels(const struct endpoint *ep, const struct ep_label *sel, int n)
{
	for (int i = 0; i < n; i++) {
		bool found = false;
		for (int j = 0; j < ep->n_labels && !found; j++)
			found = !strcmp(ep->labels[j].key, sel[i].key) &&
				!strcmp(ep->labels[j].value, sel[i].value);
		if (!found)
			return false;
	}
	return true;
}
