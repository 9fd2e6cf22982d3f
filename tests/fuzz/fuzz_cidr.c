/* libFuzzer harness: cidr_parse must reject junk cleanly, and what it accepts must print,
 * re-parse to the same prefix and survive the prefix arithmetic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[128], buf[CIDR_STRLEN];
	struct cidr c, d, sub;
	struct ip_addr a;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (cidr_parse(text, &c))
		return 0;
	cidr_str(&c, buf);
	if (cidr_parse(buf, &d) || !ip_equal(&c.addr, &d.addr) || c.prefixlen != d.prefixlen)
		abort();
	if (cidr_normalize(&d) || !cidr_contains(&d, &c.addr) || !cidr_overlaps(&c, &d))
		abort();
	for (unsigned int len = c.prefixlen; len <= (c.addr.family == AF_INET ? 32u : 128u); len += 7) {
		uint64_t n = cidr_count(&c, (uint8_t)len);

		if (!n || cidr_subnet(&c, (uint8_t)len, n - 1, &sub) || !cidr_overlaps(&c, &sub))
			abort();
		if (n != UINT64_MAX && cidr_subnet(&c, (uint8_t)len, n, &sub) == 0)
			abort();
	}
	if (cidr_host(&d, 0, &a) || !ip_equal(&a, &d.addr))
		abort();
	return 0;
}
