/* Shared by the policy unit tests: parse a text as file POLICY_TEST_FILE, and expect an
 * error that names the file and contains a given part. */
#pragma once
#include <errno.h>
#include "harness.h"
#include "policy.h"

static char err[512];

static int parse(const char *text, struct policy **p, size_t *n)
{
	return policy_parse(text, POLICY_TEST_FILE, p, n, err, sizeof(err));
}

static void expect_error(const char *text, const char *needle)
{
	struct policy *p;
	size_t n;
	int ret = parse(text, &p, &n);

	CHECK(ret == -EINVAL);
	if (ret == 0)
		policy_free(p, n);
	if (ret == 0 || !strstr(err, needle)) {
		fprintf(stderr, "error '%s' lacks '%s'\n", ret ? err : "(none)", needle);
		harness_failed++;
	}
	CHECK(ret == 0 || strstr(err, POLICY_TEST_FILE) != NULL);
}
