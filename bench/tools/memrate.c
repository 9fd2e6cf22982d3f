/* This machine's own rates for a migration's memory, to set the migration's rate against:
 * memcpy, and zstd at level 1 in 128 KiB chunks each flushed (as the migration relay does),
 * both over pages filled as tools/memhog.c fills them. The median of ROUNDS runs each.
 * Beside them, memcpy into memory mapped afresh for each run, which first touches every
 * page as a restore does (on some hypervisors many times slower): context, not the target.
 * Prints {"mib": N, "memcpy_mib_s": X, "zstd_mib_s": Y, "memcpy_fresh_mib_s": Z}.
 * Usage: memrate MIB [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <zstd.h>

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

static double zstd_pass(ZSTD_CCtx *c, const unsigned char *src, size_t n, char *out, size_t cap)
{
	double t0 = now();

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

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 0, n = mib << 20;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	unsigned char *src = n ? malloc(n) : NULL, *dst = n ? malloc(n) : NULL;
	size_t cap = ZSTD_CStreamOutSize() > CHUNK ? ZSTD_CStreamOutSize() : CHUNK;
	char *out = malloc(cap);
	double mc[32], zs[32], fr[32];
	ZSTD_CCtx *c = ZSTD_createCCtx();

	if (!src || !dst || !out || !c || rounds < 1 || rounds > 32) {
		fprintf(stderr, "usage: memrate MIB [ROUNDS (1-32)]\n");
		return 2;
	}
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned char)(i * 2654435761u >> 13);
	memset(dst, 1, n);                 /* both touched before any timing */
	for (int r = 0; r < rounds; r++) {
		double t0 = now();

		memcpy(dst, src, n);
		mc[r] = mib / (now() - t0);
		zs[r] = mib / zstd_pass(c, src, n, out, cap);
		fr[r] = fresh_pass(src, n);
		fr[r] = fr[r] > 0 ? mib / fr[r] : 0;
	}
	qsort(mc, (size_t)rounds, sizeof(double), cmp);
	qsort(zs, (size_t)rounds, sizeof(double), cmp);
	qsort(fr, (size_t)rounds, sizeof(double), cmp);
	printf("{\"mib\": %zu, \"memcpy_mib_s\": %.0f, \"zstd_mib_s\": %.0f, "
	       "\"memcpy_fresh_mib_s\": %.0f, \"sink\": %d}\n", mib, mc[rounds / 2], zs[rounds / 2],
	       fr[rounds / 2], dst[n / 2]);
	ZSTD_freeCCtx(c);
	free(src);
	free(dst);
	free(out);
	return 0;
}
