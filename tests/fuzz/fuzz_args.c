/* libFuzzer harness: CLI value parsers never crash on any string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"

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
	free(s);
	return 0;
}
