/* Errors of the policy readers (policy.c, policy_import.c): one message naming the file,
 * the policy when known, and the field's path. Internal to lib/policy*.c. */
#pragma once
#include <stddef.h>
#include <jansson.h>

struct policy_error {
	char *buf;
	size_t len;
	const char *file;
	const char *policy;                   /* NULL until the policy's name is read */
};

/* Writes "FILE: policy 'P': FIELD: MESSAGE" into e->buf; returns -EINVAL. */
int policy_fail(struct policy_error *e, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* -EINVAL naming "WHERE.KEY: unknown field" for the first key of obj not in known. */
int policy_check_keys(json_t *obj, const char *const *known, struct policy_error *e, const char *where);
