/* libFuzzer harness: the parsers of ping output and of latency records never crash, and
 * what they accept is consistent (a parsed reply has an RTT, a parsed record a direction). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "latency.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lat_record_view v;
	char addr[64], *s = malloc(size + 1);
	uint64_t rtt;
	uint32_t seq;
	json_t *j;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (!lat_ping_parse_reply(s, &seq, &rtt) && !strstr(s, "time="))
		abort();
	if (!lat_ping_parse_header(s, addr, sizeof(addr)) && strlen(addr) == 0)
		abort();
	j = json_loads(s, JSON_DECODE_ANY, NULL);
	if (j && !lat_record_parse(j, &v) && v.dir != 0 && v.dir != 1)
		abort();
	json_decref(j);
	free(s);
	return 0;
}
