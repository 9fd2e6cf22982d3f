/* Command-line value parsers (pure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "args.h"

int args_uint(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int args_publish(const char *s, struct ep_publish *out, char *err, size_t errlen)
{
	char buf[64], *colon, *slash;
	long hp, p;

	if (!s || strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "'%s' is not HOSTPORT:PORT[/tcp|udp]", s ? s : "");
		return -EINVAL;
	}
	strcpy(buf, s);
	out->proto = IPPROTO_TCP;
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		if (ep_proto_parse(slash + 1, &out->proto)) {
			snprintf(err, errlen, "'%s': protocol '%s' is not tcp or udp", s, slash + 1);
			return -EINVAL;
		}
	}
	colon = strchr(buf, ':');
	if (!colon) {
		snprintf(err, errlen, "'%s' is not HOSTPORT:PORT[/tcp|udp]", s);
		return -EINVAL;
	}
	*colon = 0;
	if (args_uint(buf, 1, 65535, &hp) || args_uint(colon + 1, 1, 65535, &p)) {
		snprintf(err, errlen, "'%s': ports must be numbers in 1-65535", s);
		return -EINVAL;
	}
	out->host_port = (uint16_t)hp;
	out->port = (uint16_t)p;
	return 0;
}

int args_label(const char *s, struct ep_label *out, char *err, size_t errlen)
{
	const char *eq = s ? strchr(s, '=') : NULL;
	char key[EP_LABEL_MAX * 2];

	if (!eq || eq == s || (size_t)(eq - s) >= sizeof(key)) {
		snprintf(err, errlen, "label '%s' is not key=value", s ? s : "");
		return -EINVAL;
	}
	memcpy(key, s, (size_t)(eq - s));
	key[eq - s] = 0;
	if (!ep_label_valid(key, eq + 1)) {
		snprintf(err, errlen, "label '%s': use A-Z a-z 0-9 . _ / - (under %d characters each)",
			 s, EP_LABEL_MAX);
		return -EINVAL;
	}
	snprintf(out->key, sizeof(out->key), "%s", key);
	snprintf(out->value, sizeof(out->value), "%s", eq + 1);
	return 0;
}
