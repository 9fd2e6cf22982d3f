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

static const struct args_opt *args_find(const struct args_opt *opts, const char *word)
{
	for (; opts->name; opts++)
		if (!strcmp(word, opts->name) || (opts->alias && !strcmp(word, opts->alias)))
			return opts;
	return NULL;
}

/* One option's value into cfg; 0 or -EINVAL with err set. */
static int args_take(const struct args_opt *o, const char *word, const char *v, void *cfg,
		     char *err, size_t errlen)
{
	void *dst = (char *)cfg + o->off;
	long n;

	switch (o->kind) {
	case ARGS_FLAG:
		*(bool *)dst = true;
		return 0;
	case ARGS_STRING:
		if (o->valid && !o->valid(v))
			break;
		*(const char **)dst = v;
		return 0;
	case ARGS_LONG:
		if (args_uint(v, o->lo, o->hi, &n))
			break;
		*(long *)dst = n;
		return 0;
	case ARGS_EACH:
		return o->each(v, dst, err, errlen) ? -EINVAL : 0;
	case ARGS_PAIR:
		break;          /* taken by args_parse */
	}
	snprintf(err, errlen, "%s '%s' is not %s", word, v, o->what ? o->what : "valid");
	return -EINVAL;
}

int args_parse(const struct args_opt *opts, void *cfg, int argc, char **argv,
	       const char **pos, int npos, int *rest, char *err, size_t errlen)
{
	int npositional = 0;

	if (rest)
		*rest = argc;
	for (int i = 0; i < argc; i++) {
		const struct args_opt *o = args_find(opts, argv[i]);

		if (!strcmp(argv[i], "--") && !o) {
			if (!rest) {
				snprintf(err, errlen, "unexpected argument '--'");
				return -EINVAL;
			}
			*rest = i + 1;
			return 0;
		}
		if (!o) {
			if (argv[i][0] == '-' || npositional >= npos) {
				snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
				return -EINVAL;
			}
			pos[npositional++] = argv[i];
			continue;
		}
		if (o->kind == ARGS_PAIR) {
			if (i + 2 >= argc || !strcmp(argv[i + 1], "--") || !strcmp(argv[i + 2], "--")) {
				snprintf(err, errlen, "%s needs two values", argv[i]);
				return -EINVAL;
			}
			((const char **)((char *)cfg + o->off))[0] = argv[i + 1];
			((const char **)((char *)cfg + o->off))[1] = argv[i + 2];
			i += 2;
			continue;
		}
		if (o->kind != ARGS_FLAG && (i + 1 >= argc || !strcmp(argv[i + 1], "--"))) {
			snprintf(err, errlen, "%s needs a value", argv[i]);
			return -EINVAL;
		}
		if (args_take(o, argv[i], o->kind == ARGS_FLAG ? NULL : argv[i + 1], cfg, err, errlen))
			return -EINVAL;
		i += o->kind != ARGS_FLAG;
	}
	return 0;
}
