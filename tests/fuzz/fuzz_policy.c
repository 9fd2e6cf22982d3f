/* libFuzzer harness: policy files must parse or fail cleanly, and compile without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_label l[] = { { "app", "web" } };
	struct policy_subject s[] = { { 1, l, 1 } };
	struct identity_ref ids[] = { { .identity = 300, .labels = l, .n_labels = 1 } };
	struct policy_compiled c;
	struct policy *p;
	char err[512], *text = malloc(size + 1);
	size_t n;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (policy_parse(text, "fuzz", &p, &n, err, sizeof(err)) == 0) {
		if (policy_compile(p, n, s, 1, ids, 1, &c) == 0)
			policy_compiled_free(&c);
		policy_free(p, n);
	}
	free(text);
	return 0;
}
