/* Unit tests for the migration protocol's parsers: what a peer may send is taken only
 * when well formed (lib/migration_msg.c). */
#include <errno.h>
#include <stdlib.h>
#include "harness.h"
#include "migration_msg.h"

static int descriptors(const char *hello, char **out)
{
	json_t *j = json_loads(hello, 0, NULL);
	int ret = mig_descriptors_parse(j, out);

	json_decref(j);
	return ret;
}

static void test_descriptors(void)
{
	char *out = NULL;

	CHECK(descriptors("{\"descriptors\":[\"/dev/null\",\"pipe:[2432240]\",\"pipe:[2432241]\"]}",
			  &out) == 0);
	CHECK_STR(out, "[\"/dev/null\",\"pipe:[2432240]\",\"pipe:[2432241]\"]");
	free(out);
	CHECK(descriptors("{\"op\":\"migrate\"}", &out) == -ENOENT && !out);
	CHECK(descriptors("{\"descriptors\":\"pipe:[1]\"}", &out) == -EINVAL && !out);
	CHECK(descriptors("{\"descriptors\":[1]}", &out) == -EINVAL);
	CHECK(descriptors("{\"descriptors\":[\"\"]}", &out) == -EINVAL);
	CHECK(descriptors("{\"descriptors\":[\"a\\nb\"]}", &out) == -EINVAL);
	CHECK(descriptors("{\"descriptors\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
			  "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}", &out) == -EINVAL);
	CHECK(descriptors("{\"descriptors\":[]}", &out) == 0);
	CHECK_STR(out, "[]");
	free(out);
}

static void test_request(void)
{
	json_t *j = json_loads("{\"op\":\"migrate\",\"id\":\"web-node1-1-2\",\"lazy\":true,"
			       "\"container\":{\"name\":\"web\"}}", 0, NULL);
	char id[MIG_ID_MAX], name[EP_NAME_MAX];
	bool lazy = false;

	CHECK(mig_request_parse(j, id, &lazy, name) == 0);
	CHECK_STR(id, "web-node1-1-2");
	CHECK_STR(name, "web");
	CHECK(lazy);
	json_object_set_new(j, "id", json_string("../etc"));
	CHECK(mig_request_parse(j, id, &lazy, name) == -EINVAL);
	json_decref(j);
}

static void test_memory(void)
{
	const uint64_t mib = 1 << 20;
	json_t *j = json_loads("{\"op\":\"migrate\"}", 0, NULL);
	uint64_t bytes = 7;

	CHECK(mig_memory_parse(j, &bytes) == 0 && bytes == 0);         /* an older source */
	json_object_set_new(j, "memory_bytes", json_integer(536870912));
	CHECK(mig_memory_parse(j, &bytes) == 0 && bytes == 512 * mib);
	json_object_set_new(j, "memory_bytes", json_integer(-1));
	CHECK(mig_memory_parse(j, &bytes) == -EINVAL);
	json_object_set_new(j, "memory_bytes", json_string("512M"));
	CHECK(mig_memory_parse(j, &bytes) == -EINVAL);
	json_decref(j);

	/* Unknown: half of what is available. */
	CHECK(mig_images_tmpfs_size(4096 * mib, 0) == 2048 * mib);
	/* Room for both: all that the restored copy leaves. */
	CHECK(mig_images_tmpfs_size(4096 * mib, 512 * mib) == 3584 * mib);
	/* The images, with their margin, and the copy: 1000 + 250 + 64 + 1000 = 2314 MiB. */
	CHECK(mig_images_tmpfs_size(2314 * mib, 1000 * mib) == 1314 * mib);
	CHECK(mig_images_tmpfs_size(2313 * mib, 1000 * mib) == 0);
	CHECK(mig_images_tmpfs_size(512 * mib, 1024 * mib) == 0);      /* larger than all */
}

int main(void)
{
	test_memory();
	test_descriptors();
	test_request();
	return harness_done("test_migration_msg");
}
