/* libFuzzer harness: what an image layout and Podman hand petrel (index.json, manifests,
 * image configs, /etc/passwd texts) must parse or fail cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], d[IMAGE_DIGEST_MAX], *text = malloc(size + 1);
	struct image_manifest m;
	struct image_config ic;
	struct container c = { 0 };
	uint32_t uid, gid;
	json_t *j;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	image_layout_pick(text, NULL, d, err, sizeof(err));
	image_layout_pick(text, "v1", d, err, sizeof(err));
	image_manifest_parse(text, &m, err, sizeof(err));
	j = json_loads(text, 0, NULL);
	if (image_config_parse(j, &ic, err, sizeof(err)) == 0)
		image_apply(&ic, &c, err, sizeof(err));
	json_decref(j);
	image_user_resolve("app:staff", text, text, &uid, &gid, err, sizeof(err));
	free(text);
	return 0;
}
