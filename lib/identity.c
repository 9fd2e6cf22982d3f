/* Canonical label sets for identities (pure). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "identity.h"

static int cmp_label(const void *a, const void *b)
{
	const struct ep_label *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

int identity_canonical(const struct ep_label *labels, int n, char *buf, size_t len)
{
	struct ep_label sorted[EP_MAX_LABELS];
	size_t off = 0;

	if (n < 0 || n > EP_MAX_LABELS)
		return -EINVAL;
	memcpy(sorted, labels, (size_t)n * sizeof(*labels));
	qsort(sorted, (size_t)n, sizeof(*sorted), cmp_label);
	if (len == 0)
		return -ENOSPC;
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", sorted[i].key,
				 sorted[i].value);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

int identity_parse(const char *canonical, struct ep_label *labels, int max, int *n)
{
	char buf[EP_MAX_LABELS * (2 * EP_LABEL_MAX + 2)], *save = NULL, *tok;

	*n = 0;
	if (strlen(canonical) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, canonical);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq || *n >= max)
			return -EINVAL;
		*eq = 0;
		if (!ep_label_valid(tok, eq + 1))
			return -EINVAL;
		snprintf(labels[*n].key, EP_LABEL_MAX, "%s", tok);
		snprintf(labels[*n].value, EP_LABEL_MAX, "%s", eq + 1);
		(*n)++;
	}
	return 0;
}

const char *identity_reserved_name(uint32_t id)
{
	switch (id) {
	case IDENTITY_HOST:  return "host";
	case IDENTITY_WORLD: return "world";
	default:             return NULL;
	}
}
