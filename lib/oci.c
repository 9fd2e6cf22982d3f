/* OCI config.json for petrel containers. Shaped after `runc spec`'s defaults, with the
 * network namespace joined by path (the petrel endpoint's), no user namespace, modest
 * rlimits and the usual masked/read-only paths. Every fd the process gets is a pipe, so
 * CRIU can checkpoint it (see docs/containers.md). */
#include <string.h>
#include "oci.h"

static const char *caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL,
};

/* runc's usual masked paths: files (hidden under /dev/null) and directories. */
static const char *masked_files[] = {
	"/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
	"/proc/timer_stats", "/proc/sched_debug", NULL,
};

const char *const oci_masked_dirs[] = { "/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware", NULL };

static const char *readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static json_t *str_array(const char *const *v)
{
	json_t *a = json_array();

	for (int i = 0; v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mount(const char *dst, const char *type, const char *src, const char *const *opts)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
			 "options", str_array(opts));
}

static json_t *mounts(const struct oci_opts *o)
{
	static const char *proc[] = { NULL };
	static const char *pts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL };
	static const char *mq[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *sys[] = { "nosuid", "noexec", "nodev", "ro", NULL };
	static const char *bind_ro[] = { "rbind", "ro", "nosuid", "nodev", NULL };
	json_t *m = json_array();

	/* No tmpfs on /dev or /dev/shm: CRIU dumps and restores every tmpfs with a tar and
	 * a gzip of its own, 3-4 ms each way inside a migration's freeze. runc makes the
	 * device nodes in the writable layer instead, and /dev/shm is a directory there (see
	 * container_write_bundle), which the migration carries with the rest of the layer. */
	json_array_append_new(m, mount("/proc", "proc", "proc", proc));
	json_array_append_new(m, mount("/dev/pts", "devpts", "devpts", pts));
	json_array_append_new(m, mount("/dev/mqueue", "mqueue", "mqueue", mq));
	json_array_append_new(m, mount("/sys", "sysfs", "sysfs", sys));
	if (o->latency_dir)
		json_array_append_new(m, mount("/run/petrel", "bind", o->latency_dir, bind_ro));
	return m;
}

static json_t *process(const struct container *c)
{
	json_t *args = json_array(), *env = json_array(), *capset = str_array(caps);
	bool has_path = false;

	for (int i = 0; i < c->n_cmd; i++)
		json_array_append_new(args, json_string(c->cmd[i]));
	for (int i = 0; i < c->n_env; i++)
		has_path |= !strncmp(c->env[i], "PATH=", 5);
	if (!has_path)
		json_array_append_new(env, json_string(OCI_DEFAULT_PATH));
	json_array_append_new(env, json_sprintf("HOSTNAME=%s", c->name));
	for (int i = 0; i < c->n_env; i++)
		json_array_append_new(env, json_string(c->env[i]));
	return json_pack("{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:{s:o, s:o, s:o, s:o}, "
			 "s:[{s:s, s:i, s:i}], s:b}",
			 "terminal", 0, "user", "uid", (json_int_t)c->uid, "gid", (json_int_t)c->gid,
			 "args", args, "env", env, "cwd", *c->cwd ? c->cwd : "/",
			 "capabilities", "bounding", json_deep_copy(capset), "effective",
			 json_deep_copy(capset), "permitted", json_deep_copy(capset), "ambient", capset,
			 "rlimits", "type", "RLIMIT_NOFILE", "hard", OCI_NOFILE, "soft", OCI_NOFILE,
			 "noNewPrivileges", 1);
}

static json_t *linux_section(const struct container *c, const struct oci_opts *o)
{
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s, s:s}]", "type", "pid",
			       "type", "ipc", "type", "uts", "type", "mount",
			       "type", "network", "path", o->netns_path);
	json_t *res = json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm");
	json_t *masked = str_array(masked_files), *dirs = str_array(oci_masked_dirs), *lx;

	json_array_extend(masked, dirs);
	json_decref(dirs);
	if (c->memory)
		json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)c->memory));
	lx = json_pack("{s:o, s:o, s:o, s:o}", "namespaces", ns, "resources", res,
		       "maskedPaths", masked, "readonlyPaths", str_array(readonly));
	if (lx && o->cgroups_path)
		json_object_set_new(lx, "cgroupsPath", json_string(o->cgroups_path));
	return lx;
}

json_t *oci_config(const struct container *c, const struct oci_opts *o)
{
	json_t *cfg;

	if (!o->netns_path)
		return NULL;
	cfg = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}",
			"ociVersion", "1.0.2-dev", "process", process(c),
			"root", "path", "rootfs", "readonly", 0, "hostname", c->name,
			"mounts", mounts(o), "linux", linux_section(c, o));
	/* runc passes this file to CRIU on checkpoint and restore; a missing file is ignored. */
	if (cfg && o->criu_config)
		json_object_set_new(cfg, "annotations",
				    json_pack("{s:s}", "org.criu.config", o->criu_config));
	return cfg;
}
