/* Tiny unit-test harness: CHECK records a failure and continues; each test binary ends
 * with "N passed, N failed" and exits nonzero on any failure. */
#pragma once
#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed;

#define CHECK(cond) do {                                                        \
	if (cond) { harness_passed++; }                                         \
	else { harness_failed++;                                                \
	       fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(a, b) do {                                                    \
	const char *_a = (a), *_b = (b);                                        \
	if (_a && _b && strcmp(_a, _b) == 0) { harness_passed++; }              \
	else { harness_failed++;                                                \
	       fprintf(stderr, "FAIL %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
		       _a ? _a : "(null)", _b ? _b : "(null)"); }               \
} while (0)

#define HARNESS_SKIP 77   /* exit code for "skipped", decided by capability probes */

static inline int harness_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}
