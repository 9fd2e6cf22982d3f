/* libFuzzer harness: CLI value parsers and the option-table matcher never crash on any
 * string or word list. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"

struct fuzz_opts {
	bool flag;
	const char *str, *pair[2];
	long num;
	int labels;
};

/* Refuses every other value, so both of each's outcomes are reached. */
static int every_other(const char *v, void *dst, char *err, size_t len)
{
	snprintf(err, len, "refused '%s'", v);
	return (*(int *)dst)++ % 2 ? -1 : 0;
}

static const struct args_opt fuzz_table[] = {
	ARGS_OPT_FLAG("--flag", "-f", struct fuzz_opts, flag),
	ARGS_OPT_STRING("--str", NULL, struct fuzz_opts, str, NULL, "x"),
	ARGS_OPT_LONG("--num", "-n", struct fuzz_opts, num, 0, 100, "0-100"),
	ARGS_OPT_EACH("--label", NULL, struct fuzz_opts, labels, every_other),
	ARGS_OPT_PAIR("--pair", struct fuzz_opts, pair),
	ARGS_OPT_END
};

/* The input's space-separated words as argv. */
static void parse_words(char *s)
{
	char *argv[64], *save = NULL;
	const char *pos[3];
	struct fuzz_opts o = { 0 };
	char err[256];
	int argc = 0, rest;

	for (char *t = strtok_r(s, " ", &save); t && argc < 64; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	args_parse(fuzz_table, &o, argc, argv, pos, 3, &rest, err, sizeof(err));
	args_parse(fuzz_table, &o, argc, argv, pos, 0, NULL, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_publish p;
	struct ep_label l;
	char err[256], *s = malloc(size + 1);
	long v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	args_publish(s, &p, err, sizeof(err));
	args_label(s, &l, err, sizeof(err));
	args_uint(s, 0, 65535, &v);
	parse_words(s);
	free(s);
	return 0;
}
