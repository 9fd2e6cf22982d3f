/* libFuzzer harness: container run requests and stored records must never crash, and a
 * record that decodes must encode, decode and encode to the same text (labels come back
 * sorted, so structs may differ in label order only); any bytes of container output
 * become a JSON string. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "container.h"

static struct container a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	json_t *log = container_log_string(data, size);   /* any bytes become a valid string */

	if (!log)
		abort();
	json_decref(log);
	if (!j)
		return 0;
	container_request_parse(j, &a, err, sizeof(err));
	if (container_from_json(j, &a) == 0) {
		char *text = container_encode(&a), *again = NULL;
		if (!text || container_decode(text, &b) || !(again = container_encode(&b)) ||
		    strcmp(text, again))
			abort();
		free(text);
		free(again);
	}
	json_decref(j);
	return 0;
}
