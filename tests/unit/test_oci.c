/* Unit tests for the OCI config of a petrel container (lib/oci.c). */
#include <stdlib.h>
#include "harness.h"
#include "oci.h"

static struct container ct;

static json_t *find(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(json_object_get(v, key)) ?: "", value))
			return v;
	return NULL;
}

static bool has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(v) ?: "", s))
			return true;
	return false;
}

static void base(void)
{
	memset(&ct, 0, sizeof(ct));
	snprintf(ct.name, sizeof(ct.name), "web");
	ct.n_cmd = 2;
	snprintf(ct.cmd[0], CT_ARG_MAX, "httpd");
	snprintf(ct.cmd[1], CT_ARG_MAX, "-f");
}

static void test_config(void)
{
	struct oci_opts o = { .netns_path = "/run/netns/lab-ep-web", .cgroups_path = "/petrel/node1/web",
			      .latency_dir = "/var/lib/petrel/latency",
			      .criu_config = "/var/lib/petrel/containers/web/criu.conf" };
	json_t *c, *p, *lx, *ns, *m;

	base();
	c = oci_config(&ct, &o);
	CHECK(c != NULL);
	/* runc hands this file to CRIU: how a migration turns CRIU's network lock off */
	CHECK_STR(json_string_value(json_object_get(json_object_get(c, "annotations"), "org.criu.config")),
		  "/var/lib/petrel/containers/web/criu.conf");
	CHECK_STR(json_string_value(json_object_get(c, "ociVersion")), "1.0.2-dev");
	CHECK_STR(json_string_value(json_object_get(c, "hostname")), "web");
	CHECK_STR(json_string_value(json_object_get(json_object_get(c, "root"), "path")), "rootfs");
	CHECK(json_is_false(json_object_get(json_object_get(c, "root"), "readonly")));

	p = json_object_get(c, "process");
	CHECK(json_is_false(json_object_get(p, "terminal")));
	CHECK(json_array_size(json_object_get(p, "args")) == 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(p, "args"), 1)), "-f");
	CHECK(has_string(json_object_get(p, "env"), OCI_DEFAULT_PATH));
	CHECK(has_string(json_object_get(p, "env"), "HOSTNAME=web"));
	CHECK(json_integer_value(json_object_get(json_object_get(p, "user"), "uid")) == 0);
	json_t *rl = find(json_object_get(p, "rlimits"), "type", "RLIMIT_NOFILE");
	CHECK(rl && json_integer_value(json_object_get(rl, "soft")) == OCI_NOFILE &&
	      json_integer_value(json_object_get(rl, "hard")) == OCI_NOFILE);
	CHECK(has_string(json_object_get(json_object_get(p, "capabilities"), "bounding"), "CAP_NET_BIND_SERVICE"));
	CHECK(!has_string(json_object_get(json_object_get(p, "capabilities"), "bounding"), "CAP_SYS_ADMIN"));
	CHECK(json_is_true(json_object_get(p, "noNewPrivileges")));

	lx = json_object_get(c, "linux");
	ns = json_object_get(lx, "namespaces");
	CHECK(json_array_size(ns) == 5);
	CHECK(find(ns, "type", "pid") && find(ns, "type", "ipc") && find(ns, "type", "uts") &&
	      find(ns, "type", "mount"));
	CHECK(!find(ns, "type", "user") && !find(ns, "type", "cgroup"));
	CHECK_STR(json_string_value(json_object_get(find(ns, "type", "network"), "path")), "/run/netns/lab-ep-web");
	CHECK_STR(json_string_value(json_object_get(lx, "cgroupsPath")), "/petrel/node1/web");
	CHECK(!json_object_get(json_object_get(lx, "resources"), "memory"));
	CHECK(has_string(json_object_get(lx, "maskedPaths"), "/proc/kcore"));
	CHECK(has_string(json_object_get(lx, "readonlyPaths"), "/proc/sys"));

	m = json_object_get(c, "mounts");
	CHECK_STR(json_string_value(json_object_get(find(m, "destination", "/proc"), "type")), "proc");
	/* No tmpfs at all: CRIU would tar each one inside a migration's freeze. */
	CHECK(!find(m, "destination", "/dev") && !find(m, "destination", "/dev/shm"));
	for (size_t i = 0; i < json_array_size(m); i++)
		CHECK(strcmp(json_string_value(json_object_get(json_array_get(m, i), "type")), "tmpfs"));
	CHECK(has_string(json_object_get(lx, "maskedPaths"), "/proc/acpi"));
	for (int i = 0; oci_masked_dirs[i]; i++)
		CHECK(has_string(json_object_get(lx, "maskedPaths"), oci_masked_dirs[i]));
	CHECK_STR(json_string_value(json_object_get(find(m, "destination", "/dev/pts"), "type")), "devpts");
	json_t *sys = find(m, "destination", "/sys");
	CHECK(sys && has_string(json_object_get(sys, "options"), "ro"));
	json_t *run = find(m, "destination", "/run/petrel");
	CHECK(run && !strcmp(json_string_value(json_object_get(run, "type")), "bind"));
	CHECK_STR(json_string_value(json_object_get(run, "source")), "/var/lib/petrel/latency");
	CHECK(has_string(json_object_get(run, "options"), "ro") && has_string(json_object_get(run, "options"), "rbind"));
	json_decref(c);
}

static void test_options(void)
{
	struct oci_opts o = { .netns_path = "/run/netns/x" };
	json_t *c, *env;

	base();
	ct.memory = 64 << 20;
	ct.n_env = 2;
	snprintf(ct.env[0], CT_ARG_MAX, "PATH=/opt/bin");
	snprintf(ct.env[1], CT_ARG_MAX, "MODE=echo");
	c = oci_config(&ct, &o);
	env = json_object_get(json_object_get(c, "process"), "env");
	CHECK(has_string(env, "PATH=/opt/bin") && !has_string(env, OCI_DEFAULT_PATH));
	CHECK(has_string(env, "MODE=echo"));
	CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(c, "linux"),
			"resources"), "memory"), "limit")) == 64 << 20);
	CHECK(!find(json_object_get(c, "mounts"), "destination", "/run/petrel"));
	CHECK(!json_object_get(json_object_get(c, "linux"), "cgroupsPath"));
	json_decref(c);

	o.netns_path = NULL;
	CHECK(oci_config(&ct, &o) == NULL);
}

int main(void)
{
	test_config();
	test_options();
	return harness_done("test_oci");
}
