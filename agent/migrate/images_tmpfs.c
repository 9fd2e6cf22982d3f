/* A destination's checkpoint images on a tmpfs of their own. CRIU's page server writes the
 * container's whole memory there, and the restore reads it straight back: on the state
 * directory's disk file system each page is allocated, journalled and later written back
 * (512 MiB of disk writes for a 512 MiB container) for nothing. The tmpfs holds as much as
 * this node can spare beside the restored copy (mig_images_tmpfs_size), which also bounds
 * what a source may send (proto.c's budget reads it); a container too large for both goes
 * through the disk as before. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include "migration.h"
#include "log.h"
#include "util.h"

/* MemAvailable in KiB, or 0 when /proc does not say. */
static unsigned long long mem_available_kib(void)
{
	unsigned long long kib = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int images_tmpfs_mount(const char *dir, const char *id, uint64_t memory)
{
	uint64_t avail = mem_available_kib() << 10, size = mig_images_tmpfs_size(avail, memory);
	char opts[64];

	if (!size) {
		log_warn("migration %s: its %llu MiB and their images would not both fit in the "
			 "%llu MiB available here: images on disk", id,
			 (unsigned long long)(memory >> 20), (unsigned long long)(avail >> 20));
		return -ENOSPC;
	}
	snprintf(opts, sizeof(opts), "size=%lluk,mode=0700", (unsigned long long)(size >> 10));
	if (mount("petrel-images", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)) {
		int err = errno;

		log_warn("migration %s: images on disk: cannot mount a tmpfs (%s)", id,
			 strerror(err));
		return -err;
	}
	log_debug("migration %s: images on a %llu MiB tmpfs, for %llu MiB of memory", id,
		  (unsigned long long)(size >> 20), (unsigned long long)(memory >> 20));
	return 0;
}

void images_tmpfs_unmount(const char *migration_dir)
{
	char images[MIGRATION_DIR_MAX + 8];

	snprintf(images, sizeof(images), "%s/images", migration_dir);
	/* Detached: a CRIU killed a moment ago may not have let go of its files yet. */
	if (is_mountpoint(images) && umount2(images, MNT_DETACH))
		log_warn("cannot unmount %s: %s", images, strerror(errno));
}

void images_tmpfs_sweep(struct agent *a)
{
	char dir[CONFIG_STR + 16], entry[MIGRATION_DIR_MAX], images[MIGRATION_DIR_MAX + 8];
	struct dirent *de;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/migrations", a->cfg.state_dir);
	if (!(dh = opendir(dir)))
		return;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.' || !mig_id_valid(de->d_name))
			continue;
		snprintf(entry, sizeof(entry), "%s/%s", dir, de->d_name);
		snprintf(images, sizeof(images), "%s/images", entry);
		/* Only a destination mounts one, and no destination outlives its agent. */
		if (is_mountpoint(images)) {
			log_warn("migration %s: removing the images a previous run left here",
				 de->d_name);
			remove_dir(a, entry);
		}
	}
	closedir(dh);
}
