/* Small file-system and time helpers. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "util.h"

int exe_sibling(const char *name, char *buf, size_t len)
{
	char self[4096], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = 0;
	if (!(slash = strrchr(self, '/')))
		return -ENOENT;
	*slash = 0;
	if ((size_t)snprintf(buf, len, "%s/%s", self, name) >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) ? -errno : 0;
}

int mkdir_p(const char *path, unsigned int mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == 0) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, mode) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	size_t len = 0, cap = 4096;
	char *buf, *nbuf;

	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
		if (len + 1 >= cap) {
			nbuf = realloc(buf, cap *= 2);
			if (!nbuf)
				free(buf);
			buf = nbuf;
		}
	}
	fclose(f);
	if (!buf)
		return -ENOMEM;
	buf[len] = 0;
	*out = buf;
	return 0;
}

/* The rename itself lasts only once the directory holding it is on disk too. */
static int fsync_parent(const char *path)
{
	char dir[4200], *slash;
	int fd, ret = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int write_file_atomic(const char *path, const char *data)
{
	char tmp[4200];
	size_t len = strlen(data);
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd))
		ret = -errno ? -errno : -EIO;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return fsync_parent(path);
}

uint32_t fnv1a32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void deadline_after_ms(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int growbuf_append(struct growbuf *b, const void *p, size_t n)
{
	char *nd = realloc(b->data, b->len + n + 1);

	if (!nd)
		return -ENOMEM;
	memcpy(nd + b->len, p, n);
	b->data = nd;
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

void growbuf_consume(struct growbuf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	b->len -= n;
	memmove(b->data, b->data + n, b->len + 1);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

bool is_mountpoint(const char *path)
{
	struct stat st, parent;
	char *up;
	bool ret;

	if (asprintf(&up, "%s/..", path) < 0)
		return false;
	ret = !stat(path, &st) && !stat(up, &parent) && st.st_dev != parent.st_dev;
	free(up);
	return ret;
}

int rm_tree(const char *dir)
{
	if (access(dir, F_OK))
		return 0;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) && errno != ENOENT ? -errno : 0;
}

/* openat2 beneath dirfd, never through a link; glibc 2.36 has no wrapper. */
static int open_beneath(int dirfd, const char *name, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int mkdir_beneath(const char *dir, const char *relpath, unsigned int mode)
{
	char path[4096], *save = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s", relpath);
	for (char *part = strtok_r(path, "/", &save); part && !ret; part = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(part, "..") || !strcmp(part, ".")) {
			ret = -EXDEV;
			break;
		}
		if (mkdirat(fd, part, mode) && errno != EEXIST) {
			ret = -errno;
			break;
		}
		next = open_beneath(fd, part, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
		if (fd < 0)
			ret = fd == -ENOTDIR ? -ELOOP : fd;
	}
	/* The last component's mode, on the descriptor: no path, so no link to follow. */
	if (!ret && fchmod(fd, mode))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}
