/* This machine's own rates for a migration's memory, to set the migration's rate against:
 * memcpy, and zstd at level 1 in 128 KiB chunks each flushed (as the migration relay does),
 * both over the pages tools/memhog.c holds: its pattern, starting where malloc puts
 * memhog's buffer in its first page (16 bytes in, with glibc). That offset matters: zstd
 * compressed the pattern started at a page's first byte about 3x faster (5000 against 1490
 * MiB/s here), so pages filled from offset 0 are not the pages a migration carries. The
 * median of ROUNDS runs each.
 * Beside them, memcpy into memory mapped afresh for each run, which first touches every
 * page as a restore does (on some hypervisors many times slower): context, not the target.
 * Given DIR (a tmpfs, as the destination's images are), also the ceiling of a streamed
 * page dump here, with no CRIU, TLS or TCP in it: one thread reads another process's pages
 * (process_vm_readv, as a dump reads a frozen task) and compresses them as the relay does,
 * a second decompresses them from a socket pair into a file in DIR; after two passes
 * untimed.
 * Given PAGES, a pages image of CRIU's own dump of such a memhog, also zstd's rate over
 * that file: the same figure taken from the pages CRIU actually wrote, as a check.
 * Prints {"mib": N, "page_offset": O, "memcpy_mib_s": X, "zstd_mib_s": Y,
 * "memcpy_fresh_mib_s": Z, "stream_ceiling_mib_s": C, "zstd_criu_pages_mib_s": P} (C is 0
 * without DIR, P without PAGES).
 * Usage: memrate MIB [ROUNDS] [DIR] [PAGES] */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <zstd.h>
#include "relay.h"

#define CHUNK (128 * 1024)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One pass in a frame of its own, as each migration's relay starts one: a frame carried on
 * from the pass before compressed these pages about 1.6x as fast here. */
static double zstd_pass(ZSTD_CCtx *c, const unsigned char *src, size_t n, char *out, size_t cap)
{
	double t0;

	ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
	t0 = now();

	for (size_t off = 0; off < n; off += CHUNK) {
		ZSTD_inBuffer in = { src + off, n - off < CHUNK ? n - off : CHUNK, 0 };
		size_t left;

		do {
			ZSTD_outBuffer o = { out, cap, 0 };

			left = ZSTD_compressStream2(c, &o, &in, ZSTD_e_flush);
			if (ZSTD_isError(left))
				return -1;
		} while (left || in.pos < in.size);
	}
	return now() - t0;
}

/* memcpy into n bytes mapped just now: seconds, or -1 */
static double fresh_pass(const unsigned char *src, size_t n)
{
	unsigned char *dst = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0 = now(), t;

	if (dst == MAP_FAILED)
		return -1;
	memcpy(dst, src, n);
	t = now() - t0;
	munmap(dst, n);
	return t;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

struct sink {
	int sk, fd, err;
};

static int sink_file(void *ctx, const void *p, size_t n)
{
	return write_all(*(int *)ctx, p, n);
}

/* The destination's half: decompress the socket's stream into the file, with the relay's
 * own decoder. */
static void *sink_main(void *arg)
{
	struct sink *k = arg;
	size_t cap = ZSTD_DStreamInSize();
	char *in = malloc(cap), *out = malloc(CHUNK);
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint64_t raw = 0;
	ssize_t r;

	k->err = !in || !out || !d;
	while (!k->err && (r = read(k->sk, in, cap)) > 0)
		k->err = relay_decode(d, in, (size_t)r, out, CHUNK, &raw, 0, sink_file, &k->fd) != 0;
	if (k->err)
		shutdown(k->sk, SHUT_RDWR);   /* so the sender stops too */
	ZSTD_freeDCtx(d);
	free(in);
	free(out);
	return NULL;
}

/* One streamed dump of n bytes at addr in pid into DIR/memrate.img: seconds, or -1. */
static double stream_pass(ZSTD_CCtx *c, pid_t pid, const unsigned char *addr, size_t n,
			  const char *dir, unsigned char *buf, char *out, size_t cap)
{
	char path[4096];
	int sk[2];
	struct sink k = { .fd = -1 };
	struct stat st;
	pthread_t t;
	double t0, secs = -1;
	int err = 0;

	snprintf(path, sizeof(path), "%s/memrate.img", dir);
	ZSTD_CCtx_reset(c, ZSTD_reset_session_only);   /* a frame of its own */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk))
		return -1;
	k.sk = sk[1];
	k.fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	t0 = now();
	if (k.fd < 0 || pthread_create(&t, NULL, sink_main, &k))
		goto out;
	for (size_t off = 0; off < n && !err; off += CHUNK) {
		size_t len = n - off < CHUNK ? n - off : CHUNK;
		struct iovec local = { buf, len }, remote = { (void *)(addr + off), len };
		ZSTD_inBuffer in = { buf, len, 0 };
		size_t left;

		err = process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)len;
		do {
			ZSTD_outBuffer o = { out, cap, 0 };

			left = ZSTD_compressStream2(c, &o, &in, ZSTD_e_flush);
			err = err || ZSTD_isError(left) || write_all(sk[0], out, o.pos);
		} while (!err && (left || in.pos < in.size));
	}
	shutdown(sk[0], SHUT_WR);
	pthread_join(t, NULL);
	if (!err && !k.err)
		secs = now() - t0;
	/* all of it landed, or the rate means nothing */
	if (secs > 0 && (fstat(k.fd, &st) || (size_t)st.st_size != n))
		secs = -1;
out:
	if (k.fd >= 0)
		close(k.fd);
	unlink(path);
	close(sk[0]);
	close(sk[1]);
	return secs;
}

/* A process holding the same pages (forked: its copy of src is at the same address), with
 * all of them mapped, as a running container's are. Returns once it has mapped them. */
static pid_t page_holder(const unsigned char *src, size_t n)
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		volatile unsigned char sum = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (size_t i = 0; i < n; i += 4096)
			sum += src[i];
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

/* zstd's rate over the file at path (MiB/s, the median of rounds), or 0. */
static double zstd_file_rate(ZSTD_CCtx *c, const char *path, int rounds, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t len = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	unsigned char *p = len > 0 ? mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED | MAP_POPULATE,
					  fd, 0) : MAP_FAILED;
	double r[32];

	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return 0;
	for (int i = 0; i < rounds; i++)
		r[i] = (double)len / 1048576 / zstd_pass(c, p, (size_t)len, out, cap);
	munmap(p, (size_t)len);
	qsort(r, (size_t)rounds, sizeof(double), cmp);
	return r[rounds / 2];
}

/* Where malloc puts an n-byte buffer in its first page, as memhog's is. */
static size_t malloc_page_offset(size_t n)
{
	void *p = malloc(n);
	size_t off = (uintptr_t)p & 4095;

	free(p);
	return off;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 0, n = mib << 20;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	const char *dir = argc > 3 && *argv[3] ? argv[3] : NULL, *pages = argc > 4 ? argv[4] : NULL;
	size_t off = n ? malloc_page_offset(n) : 0;
	pid_t holder = -1;
	/* src shared, so that the holder forked below reads the same pages and neither side's
	 * writes meet copy-on-write; dst is allocated after the fork for the same reason */
	unsigned char *src = n ? mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				      -1, 0) : NULL, *dst;
	size_t cap = ZSTD_CStreamOutSize() > CHUNK ? ZSTD_CStreamOutSize() : CHUNK;
	char *out = malloc(cap);
	double mc[32], zs[32], fr[32], st[32] = { 0 };
	ZSTD_CCtx *c = ZSTD_createCCtx();

	if (!src || src == MAP_FAILED || !out || !c || rounds < 1 || rounds > 32) {
		fprintf(stderr, "usage: memrate MIB [ROUNDS (1-32)] [TMPFS_DIR] [PAGES_IMAGE]\n");
		return 2;
	}
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	/* memhog's loop, shifted to where its buffer starts in its page */
	for (size_t i = 0; i + off < n; i++)
		src[i + off] = (unsigned char)(i * 2654435761u >> 13);
	signal(SIGPIPE, SIG_IGN);
	if (dir && (holder = page_holder(src, n)) < 0) {
		perror("memrate: fork");
		return 1;
	}
	dst = malloc(n);
	if (!dst)
		return 1;
	memset(dst, 1, n);                 /* both touched before any timing */
	/* Two streamed passes untimed: on a hypervisor the first ones pay for memory the host
	 * has not backed yet (several times slower here), and a ceiling is the warm rate. */
	for (int w = 0; dir && w < 2; w++)
		stream_pass(c, holder, src, n, dir, dst, out, cap);
	for (int r = 0; r < rounds; r++) {
		double t0 = now();

		memcpy(dst, src, n);
		mc[r] = mib / (now() - t0);
		zs[r] = mib / zstd_pass(c, src, n, out, cap);
		st[r] = dir ? stream_pass(c, holder, src, n, dir, dst, out, cap) : 1;
		if (st[r] <= 0) {
			fprintf(stderr, "memrate: streamed dump into %s failed\n", dir);
			kill(holder, SIGKILL);
			return 1;
		}
		st[r] = dir ? mib / st[r] : 0;
	}
	/* last: each maps and frees n bytes, which would disturb the passes above */
	for (int r = 0; r < rounds; r++) {
		fr[r] = fresh_pass(src, n);
		fr[r] = fr[r] > 0 ? mib / fr[r] : 0;
	}
	qsort(mc, (size_t)rounds, sizeof(double), cmp);
	qsort(zs, (size_t)rounds, sizeof(double), cmp);
	qsort(fr, (size_t)rounds, sizeof(double), cmp);
	qsort(st, (size_t)rounds, sizeof(double), cmp);
	if (holder > 0) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	printf("{\"mib\": %zu, \"page_offset\": %zu, \"memcpy_mib_s\": %.0f, \"zstd_mib_s\": %.0f, "
	       "\"memcpy_fresh_mib_s\": %.0f, \"stream_ceiling_mib_s\": %.0f, "
	       "\"zstd_criu_pages_mib_s\": %.0f, \"sink\": %d}\n",
	       mib, off, mc[rounds / 2], zs[rounds / 2], fr[rounds / 2], st[rounds / 2],
	       pages ? zstd_file_rate(c, pages, rounds, out, cap) : 0.0, dst[n / 2]);
	ZSTD_freeCCtx(c);
	munmap(src, n);
	free(dst);
	free(out);
	return 0;
}
