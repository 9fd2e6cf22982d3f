/* libFuzzer harness: what etcd's gateway sends (a range reply, a watch stream line, a
 * base64 string) must decode or be refused cleanly, never read or write out of bounds.
 * The first byte picks the decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_input.h"
#include "etcd_codec.h"

static int count_event(const struct store_event *ev, void *arg)
{
	(*(size_t *)arg) += strlen(ev->key) + (ev->value ? strlen(ev->value) : 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (!(text = fuzz_text(data, size)))
		return 0;
	switch (data[0] % 3) {
	case 0: {
		char *plain = etcd_unb64(text), *again, *back;

		if (plain) {
			/* what decodes survives encoding and decoding again (base64 has
			 * non-canonical spellings, so the text itself need not come back) */
			again = etcd_b64(plain);
			back = again ? etcd_unb64(again) : NULL;
			if (!back || strcmp(back, plain))
				abort();
			free(again);
			free(back);
		}
		free(plain);
		break;
	}
	case 1: {
		json_t *resp = json_loads(text, 0, NULL);
		struct store_kv *kvs = NULL;
		size_t n = 0;
		int64_t rev = 0;

		if (resp && etcd_decode_range(resp, &kvs, &n, &rev) == 0)
			store_kvs_free(kvs, n);
		json_decref(resp);
		break;
	}
	default: {
		size_t total = 0;
		int err = 0;

		etcd_watch_line(text, strlen(text), count_event, &total, &err);
		break;
	}
	}
	free(text);
	return 0;
}
