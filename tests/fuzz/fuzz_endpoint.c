/* libFuzzer harness: endpoint create requests and stored records must never crash. */
#include <stdint.h>
#include <stddef.h>
#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_request req;
	struct endpoint ep;
	char err[256];
	json_t *j = json_loadb((const char *)data, size, 0, NULL);

	if (j) {
		ep_request_parse(j, &req, err, sizeof(err));
		endpoint_from_json(j, &ep);
		json_decref(j);
	}
	return 0;
}
