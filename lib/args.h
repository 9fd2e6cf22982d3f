/* Pure parsers for command-line values, shared by the CLI and unit-tested on their own. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "endpoint.h"

/* "HOSTPORT:PORT[/tcp|udp]" → publish entry. -EINVAL with a message in err. */
int args_publish(const char *s, struct ep_publish *out, char *err, size_t errlen);
/* "key=value" → label. */
int args_label(const char *s, struct ep_label *out, char *err, size_t errlen);
/* Decimal integer within [lo, hi]. */
int args_uint(const char *s, long lo, long hi, long *out);

/* A command's options as a table, after xdp-tools' prog_option: each entry says where its
 * value lands in the command's own options struct, so a command declares what it takes
 * and args_parse does the matching, the value checks and the error messages. */
enum args_kind {
	ARGS_FLAG,      /* bool, no value */
	ARGS_STRING,    /* const char *, checked by valid when given */
	ARGS_LONG,      /* long within [lo, hi] */
	ARGS_EACH,      /* every occurrence calls each with its value (labels, ports) */
	ARGS_PAIR,      /* two values into const char *[2] (--between NODE NODE) */
};

struct args_opt {
	const char *name, *alias;    /* "--timeout", "-t" (or NULL); keywords ("wide") too */
	enum args_kind kind;
	size_t off;                  /* of the value in the options struct */
	long lo, hi;                 /* ARGS_LONG */
	bool (*valid)(const char *v);                                 /* ARGS_STRING */
	int (*each)(const char *v, void *dst, char *err, size_t len); /* ARGS_EACH */
	const char *what;            /* the value, for errors: "a number of seconds in 0-3600" */
};

#define ARGS_OPT_FLAG(n, a, T, f) \
	{ .name = (n), .alias = (a), .kind = ARGS_FLAG, .off = offsetof(T, f) }
#define ARGS_OPT_STRING(n, a, T, f, ok, w) \
	{ .name = (n), .alias = (a), .kind = ARGS_STRING, .off = offsetof(T, f), .valid = (ok), .what = (w) }
#define ARGS_OPT_LONG(n, a, T, f, l, h, w) \
	{ .name = (n), .alias = (a), .kind = ARGS_LONG, .off = offsetof(T, f), .lo = (l), .hi = (h), .what = (w) }
#define ARGS_OPT_EACH(n, a, T, f, fn) \
	{ .name = (n), .alias = (a), .kind = ARGS_EACH, .off = offsetof(T, f), .each = (fn) }
#define ARGS_OPT_PAIR(n, T, f) \
	{ .name = (n), .kind = ARGS_PAIR, .off = offsetof(T, f) }
#define ARGS_OPT_END { .name = NULL }

/* Match argv against opts, filling cfg. Other words fill pos[0..npos-1] in order (fewer is
 * fine: the caller checks what it needs). "--" ends the options: *rest gets the index after
 * it, or argc when there is none; with rest NULL a "--" is an error. 0, or -EINVAL with
 * the message in err ("unexpected argument 'x'", "--timeout needs a value", ...). */
int args_parse(const struct args_opt *opts, void *cfg, int argc, char **argv,
	       const char **pos, int npos, int *rest, char *err, size_t errlen);
