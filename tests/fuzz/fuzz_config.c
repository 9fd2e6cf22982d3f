/* libFuzzer harness: petreld's config parser must accept or reject any text cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct petreld_config c;
	char err[512], *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	config_defaults(&c);
	if (config_parse(&c, text, err, sizeof(err)) == 0)
		config_validate(&c, err, sizeof(err));
	free(text);
	return 0;
}
