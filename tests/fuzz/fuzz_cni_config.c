/* libFuzzer harness: the CNI network config parser accepts or rejects any input cleanly. */
#include <stdint.h>
#include <stddef.h>
#include "cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_conf c;
	struct cni_error e;
	struct cni_env env = { .command = "ADD", .container_id = "x", .netns = "/n", .ifname = "eth0" };

	if (cni_conf_parse((const char *)data, size, &c, &e) == 0) {
		json_t *r = cni_add_request(&c, &env);
		json_decref(r);
		cni_conf_free(&c);
	}
	return 0;
}
