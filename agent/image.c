/* Images on this node for `petrel run --image`: an OCI image layout directory
 * (oci:DIR[:TAG]), whose layers are unpacked once into the state directory by digest, or
 * an image in Podman's containers-storage, whose layers Podman already keeps unpacked.
 * Either way the layers become the container's read-only overlay lower layers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "agent.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define WHITEOUT ".wh."
#define OPAQUE   ".wh..wh..opq"

/* --- layout layers, unpacked as overlay lower layers ---------------------------------- */

/* An OCI whiteout as overlayfs writes it: a 0/0 character device, or an opaque directory. */
static int whiteout(const char *root, const char *path)
{
	char target[PATH_MAX], dir[PATH_MAX];
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	snprintf(dir, sizeof(dir), "%s/%.*s", root, (int)(base - path), path);
	mkdir_p(dir, 0755);
	if (!strcmp(base, OPAQUE))
		return setxattr(dir, "trusted.overlay.opaque", "y", 1, 0) ? -errno : 0;
	snprintf(target, sizeof(target), "%s%s", dir, base + strlen(WHITEOUT));
	return mknod(target, S_IFCHR | 0000, makedev(0, 0)) && errno != EEXIST ? -errno : 0;
}

static int unpack(const char *blob, const char *root, char *err, size_t len)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *ent;
	int r, ret = 0;

	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
		ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if (archive_read_open_filename(in, blob, 1 << 16) != ARCHIVE_OK) {
		snprintf(err, len, "%s: %s", blob, archive_error_string(in));
		ret = -EIO;
	}
	while (!ret && (r = archive_read_next_header(in, &ent)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(ent), *base, *link;
		char full[PATH_MAX], full_link[PATH_MAX], name[PATH_MAX];

		/* Names are relative to the layer, as tar would extract them: leading "/" and
		 * "./" dropped; ".." anywhere is refused below (SECURE_NODOTDOT). */
		while (path && (path[0] == '/' || (path[0] == '.' && path[1] == '/')))
			path += path[0] == '/' ? 1 : 2;
		if (!path)
			continue;
		snprintf(name, sizeof(name), "%s", path);
		path = name;
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (!*path || !strcmp(path, "."))
			continue;
		if (!strncmp(base, WHITEOUT, strlen(WHITEOUT))) {
			if ((ret = whiteout(root, path)))
				snprintf(err, len, "whiteout %s: %s", path, strerror(-ret));
			continue;
		}
		/* Extract beneath root: libarchive refuses ".." and writing through links. */
		snprintf(full, sizeof(full), "%s/%s", root, path);
		archive_entry_set_pathname(ent, full);
		if ((link = archive_entry_hardlink(ent))) {
			snprintf(full_link, sizeof(full_link), "%s/%s", root, link[0] == '/' ? link + 1 : link);
			archive_entry_set_hardlink(ent, full_link);
		}
		if (archive_write_header(out, ent) < ARCHIVE_WARN) {
			snprintf(err, len, "%s: %s", path, archive_error_string(out));
			ret = -EIO;
			break;
		}
		if (archive_entry_size(ent) > 0) {
			const void *buf;
			size_t size;
			la_int64_t off;

			while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN)
					break;
			if (r < ARCHIVE_WARN && r != ARCHIVE_EOF) {
				snprintf(err, len, "%s: %s", path, archive_error_string(in));
				ret = -EIO;
			}
		}
		archive_write_finish_entry(out);
	}
	if (!ret && r != ARCHIVE_EOF) {
		snprintf(err, len, "%s: %s", blob, archive_error_string(in));
		ret = -EIO;
	}
	archive_read_free(in);
	archive_write_free(out);
	return ret;
}

/* The layer with digest d, unpacked under the state directory (once: a finished layer is
 * renamed into place, so a crash midway leaves only a .tmp to redo). */
static int layer_dir(struct agent *a, const char *layout, const char *d, char *dir, size_t dlen,
		     char *err, size_t len)
{
	char blob[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int ret;

	snprintf(dir, dlen, "%s/images/layers/%s", a->cfg.state_dir, d + 7);
	if (!stat(dir, &st))
		return 0;
	snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", layout, d + 7);
	snprintf(tmp, sizeof(tmp), "%s.tmp", dir);
	rm_tree(tmp);
	if ((ret = mkdir_p(tmp, 0755))) {
		snprintf(err, len, "cannot create %s: %s", tmp, strerror(-ret));
		return ret;
	}
	log_info("image: unpacking layer %.19s from %s", d, layout);
	if ((ret = unpack(blob, tmp, err, len)) || rename(tmp, dir)) {
		if (!ret)
			snprintf(err, len, "cannot move %s into place: %s", tmp, strerror(errno));
		rm_tree(tmp);
		return ret ? ret : -EIO;
	}
	return 0;
}

static char *read_blob(const char *layout, const char *d)
{
	char path[PATH_MAX], *text = NULL;

	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, d + 7);
	return read_file(path, &text) ? NULL : text;
}

/* The text of path inside the first layer (top first) that has it; NULL if none. */
static char *layer_file(const char *lower, const char *path)
{
	char copy[IMAGE_LOWER_MAX], full[PATH_MAX], *save = NULL, *text = NULL;

	snprintf(copy, sizeof(copy), "%s", lower);
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(full, sizeof(full), "%s/%s", dir, path);
		if (!access(full, F_OK))
			return read_file(full, &text) ? NULL : text;
	}
	return NULL;
}

static int resolve_layout(struct agent *a, const char *ref, struct image_info *out, char *err, size_t len)
{
	char dir[CT_PATH_MAX], path[PATH_MAX], manifest_d[IMAGE_DIGEST_MAX], *tag, *text = NULL, *cfg;
	struct image_manifest m;
	json_t *j;
	int ret;

	snprintf(dir, sizeof(dir), "%s", ref + 4);
	tag = strrchr(dir, ':');
	if (tag && !strchr(tag, '/'))
		*tag++ = 0;
	else
		tag = NULL;
	if (dir[0] != '/' || !container_path_valid(dir))
		return snprintf(err, len, "'%s' is not an absolute directory", dir), -EINVAL;
	snprintf(path, sizeof(path), "%s/index.json", dir);
	if ((ret = read_file(path, &text)))
		return snprintf(err, len, "%s: %s (is %s an OCI image layout?)", path, strerror(-ret), dir), ret;
	ret = image_layout_pick(text, tag, manifest_d, err, len);
	free(text);
	if (ret)
		return ret;
	if (!(text = read_blob(dir, manifest_d)))
		return snprintf(err, len, "manifest %.19s missing from %s", manifest_d, dir), -ENOENT;
	ret = image_manifest_parse(text, &m, err, len);
	free(text);
	if (ret)
		return ret;
	if (!(cfg = read_blob(dir, m.config)))
		return snprintf(err, len, "config %.19s missing from %s", m.config, dir), -ENOENT;
	j = json_loads(cfg, 0, NULL);
	free(cfg);
	ret = image_config_parse(json_object_get(j, "config"), &out->cfg, err, len);
	json_decref(j);
	if (ret)
		return ret;
	snprintf(out->id, sizeof(out->id), "%s", m.config);
	out->lower[0] = 0;
	for (int i = m.n_layers - 1; i >= 0; i--) {       /* overlay wants the top first */
		char ldir[PATH_MAX];
		size_t n = strlen(out->lower);

		if ((ret = layer_dir(a, dir, m.layers[i].digest, ldir, sizeof(ldir), err, len)))
			return ret;
		if (n + strlen(ldir) + 2 > sizeof(out->lower))
			return snprintf(err, len, "too many layers for one overlay mount"), -E2BIG;
		snprintf(out->lower + n, sizeof(out->lower) - n, "%s%s", n ? ":" : "", ldir);
	}
	if (!m.n_layers)
		return snprintf(err, len, "the image has no layers"), -EINVAL;
	return 0;
}

/* --- containers-storage, through Podman -------------------------------------------------- */

int podman_argv(struct agent *a, char **argv)
{
	int n = 0;

	argv[n++] = "podman";
	if (*a->cfg.storage_root) {
		argv[n++] = "--root";
		argv[n++] = a->cfg.storage_root;
	}
	if (*a->cfg.storage_runroot) {
		argv[n++] = "--runroot";
		argv[n++] = a->cfg.storage_runroot;
	}
	return n;
}

static int resolve_storage(struct agent *a, const char *ref, struct image_info *out, char *err, size_t len)
{
	char *argv[12], *text = NULL;
	int n = 0, status;
	json_t *j, *img, *data;
	const char *id, *upper, *lower, *driver;

	n = podman_argv(a, argv);
	argv[n++] = "image";
	argv[n++] = "inspect";
	argv[n++] = "--";
	argv[n++] = (char *)ref;
	argv[n] = NULL;
	status = proc_output(argv, &text, 30000);
	if (status) {
		char *nl = text ? strchr(text, '\n') : NULL;

		if (nl)
			*nl = 0;
		if (text && !strcmp(text, "[]"))      /* podman's empty answer says nothing more */
			*text = 0;
		snprintf(err, len, "no image '%s' in this node's containers-storage%s%s", ref,
			 text && *text ? ": " : "", text ? text : "");
		free(text);
		return status < 0 ? status : -ENOENT;
	}
	j = json_loads(text, 0, NULL);
	free(text);
	img = json_array_get(j, 0);
	id = json_string_value(json_object_get(img, "Id"));
	data = json_object_get(json_object_get(img, "GraphDriver"), "Data");
	driver = json_string_value(json_object_get(json_object_get(img, "GraphDriver"), "Name"));
	upper = json_string_value(json_object_get(data, "UpperDir"));
	lower = json_string_value(json_object_get(data, "LowerDir"));
	if (!id || strlen(id) != 64 || !upper || !driver || strcmp(driver, "overlay")) {
		json_decref(j);
		snprintf(err, len, "image '%s': podman's answer lacks its id or overlay layers "
			 "(storage driver %s; petrel needs overlay)", ref, driver ? driver : "unknown");
		return -EINVAL;
	}
	snprintf(out->id, sizeof(out->id), "sha256:%s", id);
	if (snprintf(out->lower, sizeof(out->lower), "%s%s%s", upper, lower ? ":" : "", lower ?: "") >=
	    (int)sizeof(out->lower)) {
		json_decref(j);
		return snprintf(err, len, "too many layers for one overlay mount"), -E2BIG;
	}
	status = image_config_parse(json_object_get(img, "Config"), &out->cfg, err, len);
	json_decref(j);
	return status;
}

int image_resolve(struct agent *a, const char *ref, struct image_info *out, char *err, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (!strncmp(ref, "oci:", 4))
		return resolve_layout(a, ref, out, err, len);
	return resolve_storage(a, ref, out, err, len);
}

int image_prepare(struct agent *a, struct container *c, char *lower, size_t llen, char *err,
		  size_t len)
{
	struct image_info info;
	char *passwd, *group;
	int ret = image_resolve(a, c->image, &info, err, len);

	if (ret)
		return ret;
	snprintf(c->image_id, sizeof(c->image_id), "%s", info.id);
	if ((ret = image_apply(&info.cfg, c, err, len)))
		return ret;
	snprintf(lower, llen, "%s", info.lower);
	passwd = layer_file(info.lower, "etc/passwd");
	group = layer_file(info.lower, "etc/group");
	ret = image_user_resolve(info.cfg.user, passwd, group, &c->uid, &c->gid, err, len);
	free(passwd);
	free(group);
	return ret;
}

int image_lower(struct agent *a, const struct container *c, char *lower, size_t llen, char *err, size_t len)
{
	struct image_info info;
	int ret = image_resolve(a, c->image, &info, err, len);

	if (ret)
		return ret;
	if (strcmp(info.id, c->image_id))
		return snprintf(err, len, "image '%s' here is %.19s, not the container's %.19s", c->image,
				info.id, c->image_id), -ESTALE;
	snprintf(lower, llen, "%s", info.lower);
	return 0;
}
