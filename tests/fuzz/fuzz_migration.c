/* libFuzzer harness: what another agent sends in a migration (a stream's or a migrate
 * request's opening line and its stdio list, a restore request's flows) and the claim records in cluster
 * state must parse into checked values or be refused, never crash. The first byte picks
 * the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_input.h"
#include "migration_msg.h"

#define AVAIL (16ULL << 30)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, id[MIG_ID_MAX], name[EP_NAME_MAX], *fds = NULL;
	enum mig_stream_kind kind;
	struct mig_claim claim;
	struct mig_flow flow;
	json_t *j, *f;
	uint64_t mem, tmpfs;
	bool lazy;
	size_t i;

	if (!(text = fuzz_text(data, size)))
		return 0;
	j = json_loads(text, 0, NULL);
	switch (data[0] % 5) {
	case 0:
		if (mig_stream_parse(j, id, &kind) == 0 && (!mig_id_valid(id) || kind > MIG_LAZY))
			abort();
		break;
	case 1:
		if (mig_request_parse(j, id, &lazy, name) == 0 && !mig_id_valid(id))
			abort();
		/* Whatever memory a source claims, the images' tmpfs and the copy fit. */
		if (mig_memory_parse(j, &mem) == 0 && (tmpfs = mig_images_tmpfs_size(AVAIL, mem)) &&
		    (mem > AVAIL || tmpfs > AVAIL - mem))
			abort();
		break;
	case 2:
		if (mig_claim_parse(text, &claim) == 0 && !mig_id_valid(claim.id))
			abort();
		break;
	case 3:
		if (mig_descriptors_parse(j, &fds) == 0 && (!fds || fds[0] != '['))
			abort();
		free(fds);
		break;
	default:
		json_array_foreach(json_object_get(j, "flows"), i, f)
			if (mig_flow_parse(f, &flow) == 0 && (!flow.ep_port || !flow.peer_port))
				abort();
		break;
	}
	json_decref(j);
	free(text);
	return 0;
}
