/* A container's OCI bundle: config.json, the overlay over its rootfs (upper/, work/,
 * rootfs/) and its mount state; container.c runs what it describes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "agent.h"
#include "image.h"
#include "log.h"
#include "netns.h"
#include "oci.h"
#include "runc.h"
#include "util.h"

int container_write_config(struct agent *a, const struct container *c, struct api_error *e)
{
	char dir[CONFIG_STR + 128], path[CONFIG_STR + 256], latency[CONFIG_STR + EP_NAME_MAX + 16];
	char netns[300], cgroups[400], criu_conf[CONFIG_STR + 256];
	struct oci_opts o = { .netns_path = netns, .cgroups_path = cgroups, .latency_dir = latency,
			      .criu_config = criu_conf };
	static const char *subdirs[] = { "upper", "work", "rootfs" };
	json_t *cfg;
	char *text;
	int ret;

	if ((ret = container_bundle_dir(a, c->name, dir, sizeof(dir))))
		return api_fail(e, 400, NULL, "bundle path of '%s': %s", c->name, strerror(-ret));
	/* Only its own record socket's directory: never another endpoint's stream. */
	latency_dir(a, c->name, latency, sizeof(latency));
	container_bundle_file(a, c->name, CT_CRIU_CONF, criu_conf, sizeof(criu_conf));
	snprintf(netns, sizeof(netns), NETNS_RUN_DIR "/%s", c->netns);
	container_cgroup_path(a, c, cgroups, sizeof(cgroups));
	if ((ret = mkdir_p(latency, 0755)))
		return api_fail(e, 500, NULL, "cannot create %s: %s", latency, strerror(-ret));
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if ((ret = mkdir_p(path, 0755)))
			return api_fail(e, 500, NULL, "cannot create %s: %s", path, strerror(-ret));
	}
	cfg = oci_config(c, &o);
	text = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
	json_decref(cfg);
	if (!text)
		return api_fail(e, 500, NULL, "cannot build the OCI config of '%s'", c->name);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	ret = write_file_atomic(path, text);
	free(text);
	if (ret)
		return api_fail(e, 500, NULL, "cannot write %s: %s", path, strerror(-ret));
	return 0;
}

int container_write_bundle(struct agent *a, const struct container *c, const char *lower,
			   struct api_error *e)
{
	char dir[CONFIG_STR + 128], path[CONFIG_STR + 256];
	char opts[IMAGE_LOWER_MAX + 2 * (CONFIG_STR + 256)], resolved[IMAGE_LOWER_MAX], err[512];
	int ret;

	if (container_write_config(a, c, e))
		return -1;
	container_bundle_dir(a, c->name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	if (is_mountpoint(path))
		return 0;
	/* The lower layers: the rootfs, or the image's layers as this node has them. */
	if (*c->image && !lower) {
		if (image_lower(a, c, resolved, sizeof(resolved), err, sizeof(err)))
			return api_fail(e, 409, "load the image on this node", "image %s: %s", c->image, err);
		lower = resolved;
	}
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work",
		 *c->image ? lower : c->rootfs, dir, dir);
	if (mount("overlay", path, "overlay", 0, opts))
		return api_fail(e, 500, "the rootfs must be on a file system overlayfs accepts as a lower layer",
				"cannot mount the overlay of '%s' on %s: %s", c->name, path, strerror(errno));
	/* POSIX shared memory lives in the writable layer, not in a tmpfs (see lib/oci.c).
	 * The layer is the container's: its /dev/shm may be a link to anywhere on this host,
	 * so the directory is made and chmod-ed beneath the rootfs, following no link. A
	 * container that put a link there keeps it, and no host file changes mode. */
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	if ((ret = mkdir_beneath(path, "dev/shm", 01777)) == -ELOOP || ret == -EXDEV)
		log_warn("container %s: its /dev/shm is a link; left as it is", c->name);
	else if (ret)
		return api_fail(e, 500, NULL, "cannot create %s/dev/shm: %s", path, strerror(-ret));
	return 0;
}

bool container_mounted(struct agent *a, const char *name)
{
	char path[CONFIG_STR + 256];

	container_bundle_file(a, name, "rootfs", path, sizeof(path));
	return is_mountpoint(path);
}

int container_unmount(struct agent *a, const char *name)
{
	char path[CONFIG_STR + 256];

	container_bundle_file(a, name, "rootfs", path, sizeof(path));
	if (!is_mountpoint(path))
		return 0;
	if (umount2(path, 0) == 0)
		return 0;
	log_warn("container %s: unmount %s: %s; detaching it", name, path, strerror(errno));
	return umount2(path, MNT_DETACH) ? -errno : 0;
}

/* Remove the bundle directory; never crosses into a still-mounted rootfs. */
int container_remove_bundle(struct agent *a, const char *name)
{
	char dir[CONFIG_STR + 128], root[CONFIG_STR + 256];

	container_bundle_dir(a, name, dir, sizeof(dir));
	container_bundle_file(a, name, "rootfs", root, sizeof(root));
	if (is_mountpoint(root))
		return -EBUSY;
	return rm_tree(dir);
}

