/* libFuzzer harness for lib/ioam.c: the value parsers must reject junk cleanly; traces
 * from the wire (any type, NodeLen, RemainingLen, data) must decode or be refused without
 * reading past the data; accepted specs must build templates that are well-formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ioam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[64], err[256];
	struct ioam_hop hops[64];
	static struct ioam_encap enc;
	struct ioam_opt_spec spec[IOAM_MAX_OPTS];
	uint32_t t, k, n;
	uint16_t id;
	uint64_t v;
	size_t nh, nspec = 0;

	if (size < 8)
		return 0;
	/* text parsers on the first bytes */
	memcpy(text, data, size < sizeof(text) ? size : sizeof(text) - 1);
	text[size < sizeof(text) ? size : sizeof(text) - 1] = 0;
	if (ioam_type_parse(text, &t, err, sizeof(err)) == 0 && (t & ~IOAM_SUPPORTED_MASK || !t))
		abort();
	if (ioam_freq_parse(text, &k, &n, err, sizeof(err)) == 0 && (k < 1 || k > n))
		abort();
	ioam_ns_parse(text, &id, err, sizeof(err));
	ioam_value_parse(text, 32, &v, err, sizeof(err));
	/* a trace: type, NodeLen, RemainingLen from the first 5 bytes, the rest as data */
	{
		uint32_t type = (uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2];
		size_t len = (size - 5) & ~(size_t)3;
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, data + 5, len);
		if (ioam_trace_decode(type, data[3] & 31, data[4] & 127, copy, len, hops, 64, &nh) == 0) {
			for (size_t i = 0; i < nh; i++) {
				json_t *j = ioam_hop_json(&hops[i], type);
				uint64_t ns;

				json_decref(j);
				ioam_hop_time(&hops[i], type, &ns);
			}
		}
		free(copy);
	}
	/* templates from (type, size) pairs */
	for (size_t i = 0; i + 4 <= size && nspec < IOAM_MAX_OPTS; i += 4) {
		spec[nspec].ns = (uint16_t)(data[i] | nspec << 8);
		spec[nspec].type = ((uint32_t)data[i + 1] << 16 | (uint32_t)data[i + 2] << 8) & IOAM_SUPPORTED_MASK;
		spec[nspec].size = data[i + 3];
		nspec++;
	}
	if (ioam_template_build(spec, nspec, &enc, err, sizeof(err)) == 0) {
		if (enc.len % 8 || enc.len > IOAM_TPL_MAX || enc.tpl[1] != enc.len / 8 - 1)
			abort();
		for (size_t i = 0; i < enc.nopts; i++)
			if (enc.opt[i].fill + enc.opt[i].nodelen * 4 > enc.len || enc.tpl[enc.opt[i].fill - 12 - (spec[i].size - enc.opt[i].nodelen * 4)] != 0x31)
				abort();
	}
	return 0;
}
