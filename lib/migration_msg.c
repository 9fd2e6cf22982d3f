/* Migration protocol messages (see migration_msg.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "config.h"
#include "migration_msg.h"

bool mig_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n && n < MIG_ID_MAX && id[0] != '-' &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int mig_stream_parse(json_t *hello, char id[MIG_ID_MAX], enum mig_stream_kind *kind)
{
	static const char *kinds[] = { [MIG_PAGES] = "pages", [MIG_IMAGES] = "images",
				       [MIG_BUNDLE] = "bundle", [MIG_LAZY] = "lazy" };
	const char *i = str(hello, "id"), *k = str(hello, "kind");

	if (!mig_id_valid(i) || !k)
		return -EINVAL;
	for (size_t j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++)
		if (!strcmp(k, kinds[j])) {
			snprintf(id, MIG_ID_MAX, "%s", i);
			*kind = (enum mig_stream_kind)j;
			return 0;
		}
	return -EINVAL;
}

int mig_request_parse(json_t *hello, char id[MIG_ID_MAX], bool *lazy, char name[EP_NAME_MAX])
{
	const char *i = str(hello, "id"), *n = str(json_object_get(hello, "container"), "name");
	json_t *l = json_object_get(hello, "lazy");

	if (!mig_id_valid(i) || !n || !name_valid(n) || (l && !json_is_boolean(l)))
		return -EINVAL;
	snprintf(id, MIG_ID_MAX, "%s", i);
	snprintf(name, EP_NAME_MAX, "%s", n);
	*lazy = json_is_true(l);
	return 0;
}

int mig_descriptors_parse(json_t *hello, char **out)
{
	json_t *fds = json_object_get(hello, "descriptors"), *v;
	size_t i;

	*out = NULL;
	if (!fds)
		return -ENOENT;
	if (!json_is_array(fds) || json_array_size(fds) > MIG_DESCRIPTORS_MAX)
		return -EINVAL;
	json_array_foreach(fds, i, v) {
		const char *s = json_string_value(v);

		if (!s || !*s || strlen(s) > 128)
			return -EINVAL;
		for (const char *c = s; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				return -EINVAL;
	}
	*out = json_dumps(fds, JSON_COMPACT);
	return *out ? 0 : -ENOMEM;
}

int mig_memory_parse(json_t *hello, uint64_t *bytes)
{
	json_t *v = json_object_get(hello, "memory_bytes");

	*bytes = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*bytes = (uint64_t)json_integer_value(v);
	return 0;
}

uint64_t mig_images_tmpfs_size(uint64_t available, uint64_t memory)
{
	const uint64_t slack = 64ULL << 20;     /* the other images, and a little growth */
	uint64_t need;

	if (!memory)
		return available / 2;
	if (memory > available)
		return 0;
	need = memory + memory / 4 + slack;
	return available - memory >= need ? available - memory : 0;
}

int mig_claim_parse(const char *text, struct mig_claim *out)
{
	json_t *j = json_loads(text, 0, NULL);
	const char *id = str(j, "id"), *from = str(j, "from"), *to = str(j, "to");
	const char *state = str(j, "state");
	int ret = -EINVAL;

	if (mig_id_valid(id) && from && name_valid(from) && to && name_valid(to) &&
	    (!state || !strcmp(state, "claimed") || !strcmp(state, "committed") ||
	     !strcmp(state, "aborted"))) {
		snprintf(out->id, sizeof(out->id), "%s", id);
		snprintf(out->from, sizeof(out->from), "%s", from);
		snprintf(out->to, sizeof(out->to), "%s", to);
		snprintf(out->state, sizeof(out->state), "%s", state ? state : "claimed");
		ret = 0;
	}
	json_decref(j);
	return ret;
}

static int port_of(json_t *f, const char *k, uint16_t *out)
{
	json_t *v = json_object_get(f, k);

	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return -EINVAL;
	*out = (uint16_t)json_integer_value(v);
	return 0;
}

int mig_flow_parse(json_t *f, struct mig_flow *out)
{
	json_t *proto = json_object_get(f, "proto");
	const char *n6 = str(f, "node6");

	memset(out, 0, sizeof(*out));
	if (!json_is_integer(proto) || (json_integer_value(proto) != IPPROTO_TCP &&
					json_integer_value(proto) != IPPROTO_UDP))
		return -EINVAL;
	out->proto = (uint8_t)json_integer_value(proto);
	if (port_of(f, "ep_port", &out->ep_port) || port_of(f, "peer_port", &out->peer_port) ||
	    ip_parse(str(f, "ep") ?: "", &out->ep) || ip_parse(str(f, "peer") ?: "", &out->peer) ||
	    ip_parse(str(f, "node4") ?: "", &out->node4) || out->node4.family != AF_INET ||
	    out->ep.family != out->peer.family)
		return -EINVAL;
	if (n6 && *n6 && (ip_parse(n6, &out->node6) || out->node6.family != AF_INET6))
		return -EINVAL;
	return 0;
}
