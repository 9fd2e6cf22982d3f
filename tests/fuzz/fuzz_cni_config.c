/* libFuzzer harness: the CNI network config parser accepts or rejects any input cleanly,
 * and whatever it accepts (labels, prevResult, valid attachments) is safe to build a
 * request and a result from, check against, and garbage-collect with. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_conf c;
	struct cni_error e;
	struct cni_env env = { .command = "ADD", .container_id = "x", .netns = "/n", .ifname = "eth0" };
	struct endpoint ep = { .name = "cni-0", .node = "n1" };
	struct cni_ns_state st = { .link_found = true, .link_up = true, .n_addrs = 1 };

	if (cni_conf_parse((const char *)data, size, &c, &e))
		return 0;
	ip_parse("10.0.0.1", &ep.ip4);
	ip_parse("fd00::1", &ep.ip6);
	memcpy(ep.mac, "\x02\x00\x00\x00\x00\x01", 6);
	cidr_parse("10.0.0.1/32", &st.addrs[0]);
	json_decref(cni_add_request(&c, &env));
	json_decref(cni_result(&c, &env, &ep, &e));
	cni_check(&c, &env, &ep, &st, &e);
	cni_gc_stale(&c, "n1", &ep);
	cni_conf_apply_args(&c, "K8S_POD_NAME=a;K8S_POD_NAMESPACE=b", &e);
	cni_conf_free(&c);
	return 0;
}
