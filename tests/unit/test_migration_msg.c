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

int main(void)
{
	test_descriptors();
	test_request();
	return harness_done("test_migration_msg");
}
