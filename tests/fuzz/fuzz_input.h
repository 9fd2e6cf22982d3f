/* For harnesses whose first input byte picks a parser: the rest as a NUL-terminated
 * string (caller frees), or NULL when the input is empty or too large to be interesting. */
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > 1 << 16 || !(text = malloc(size)))
		return NULL;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	return text;
}
