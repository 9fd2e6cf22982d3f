/* Unit tests for OCI image parsing: layout index, manifest, config, User, and how an
 * image's process fields combine with the container's own. */
#include <errno.h>
#include <stdlib.h>
#include "harness.h"
#include "image.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static char err[256];

static void test_layout(void)
{
	char d[IMAGE_DIGEST_MAX];
	const char *one = "{\"manifests\":[{\"digest\":\"" D1 "\",\"annotations\":"
			  "{\"org.opencontainers.image.ref.name\":\"v1\"}}]}";
	const char *two = "{\"manifests\":[{\"digest\":\"" D1 "\",\"annotations\":"
			  "{\"org.opencontainers.image.ref.name\":\"v1\"}},{\"digest\":\"" D2 "\","
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v2\"}}]}";

	CHECK(image_layout_pick(one, NULL, d, err, sizeof(err)) == 0);
	CHECK_STR(d, D1);
	CHECK(image_layout_pick(two, "v2", d, err, sizeof(err)) == 0);
	CHECK_STR(d, D2);
	CHECK(image_layout_pick(two, NULL, d, err, sizeof(err)) == -EINVAL && strstr(err, "several"));
	CHECK(image_layout_pick(two, "v3", d, err, sizeof(err)) == -EINVAL && strstr(err, "'v3'"));
	CHECK(image_layout_pick("{}", NULL, d, err, sizeof(err)) == -EINVAL);
	CHECK(image_layout_pick("{\"manifests\":[{\"digest\":\"sha256:../x\"}]}", NULL, d, err, sizeof(err)) == -EINVAL);
}

static void test_manifest(void)
{
	struct image_manifest m;

	CHECK(image_manifest_parse("{\"config\":{\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":"
				   "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\"},"
				   "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D1 "\"}]}",
				   &m, err, sizeof(err)) == 0);
	CHECK(m.n_layers == 2 && m.layers[0].gzip && !m.layers[1].gzip);
	CHECK_STR(m.config, D1);
	CHECK(image_manifest_parse("{\"config\":{\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":"
				   "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D2 "\"}]}",
				   &m, err, sizeof(err)) == -EINVAL && strstr(err, "zstd"));
	CHECK(image_manifest_parse("{\"layers\":[]}", &m, err, sizeof(err)) == -EINVAL);
	CHECK(!image_digest_valid("sha256:ABC") && image_digest_valid(D1));
}

static void test_config_and_apply(void)
{
	struct image_config ic;
	struct container c = { 0 };
	json_t *j = json_loads("{\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],"
			       "\"Env\":[\"PATH=/bin\",\"GREETING=hello\"],\"WorkingDir\":\"/srv\","
			       "\"User\":\"app:staff\"}", 0, NULL);
	uint32_t uid = 9, gid = 9;

	CHECK(image_config_parse(j, &ic, err, sizeof(err)) == 0);
	json_decref(j);
	CHECK(ic.n_entrypoint == 2 && ic.n_cmd == 1 && ic.n_env == 2);
	CHECK_STR(ic.workdir, "/srv");
	/* no command given: Entrypoint + Cmd; the container's env wins on the same key */
	snprintf(c.env[0], CT_ARG_MAX, "GREETING=bonjour");
	c.n_env = 1;
	CHECK(image_apply(&ic, &c, err, sizeof(err)) == 0);
	CHECK(c.n_cmd == 3);
	CHECK_STR(c.cmd[2], "echo hi");
	CHECK(c.n_env == 2);
	CHECK_STR(c.env[0], "PATH=/bin");
	CHECK_STR(c.env[1], "GREETING=bonjour");
	CHECK_STR(c.cwd, "/srv");
	/* a command given replaces Cmd, after the Entrypoint */
	memset(&c, 0, sizeof(c));
	snprintf(c.cmd[0], CT_ARG_MAX, "echo other");
	c.n_cmd = 1;
	CHECK(image_apply(&ic, &c, err, sizeof(err)) == 0 && c.n_cmd == 3);
	CHECK_STR(c.cmd[2], "echo other");
	/* nothing to run */
	memset(&ic, 0, sizeof(ic));
	memset(&c, 0, sizeof(c));
	CHECK(image_apply(&ic, &c, err, sizeof(err)) == -EINVAL && strstr(err, "no Entrypoint or Cmd"));
	/* User by number, by name from the image's files, and a name it lacks */
	CHECK(image_user_resolve("1000:50", NULL, NULL, &uid, &gid, err, sizeof(err)) == 0 && uid == 1000 && gid == 50);
	CHECK(image_user_resolve("app:staff", "root:x:0:0::/:/bin/sh\napp:x:700:701::/:/bin/sh\n",
				 "staff:x:50:\n", &uid, &gid, err, sizeof(err)) == 0 && uid == 700 && gid == 50);
	CHECK(image_user_resolve("app", "app:x:700:701::/:/bin/sh\n", NULL, &uid, &gid, err, sizeof(err)) == 0 &&
	      uid == 700 && gid == 701);
	CHECK(image_user_resolve("ghost", "app:x:700:701::/:/bin/sh\n", NULL, &uid, &gid, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "ghost"));
	CHECK(image_user_resolve("", NULL, NULL, &uid, &gid, err, sizeof(err)) == 0 && uid == 0 && gid == 0);
	j = json_loads("{\"Env\":[\"not a var\"]}", 0, NULL);
	CHECK(image_config_parse(j, &ic, err, sizeof(err)) == -EINVAL);
	json_decref(j);
	j = json_loads("{\"WorkingDir\":\"relative\"}", 0, NULL);
	CHECK(image_config_parse(j, &ic, err, sizeof(err)) == -EINVAL);
	json_decref(j);
}

int main(void)
{
	test_layout();
	test_manifest();
	test_config_and_apply();
	return harness_done("test_image");
}
