/* The relay's receiving framing: a zstd stream decodes whole, in any split; a corrupt one
 * is refused; and a small stream that decompresses past the limit stops there, with
 * nothing past the limit handed on (the disk-filling "zstd bomb"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include "harness.h"
#include "relay.h"

static int count(void *ctx, const void *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
	return 0;
}

/* Decode frame in pieces of piece bytes; the first error, or 0. */
static int decode(const void *frame, size_t len, size_t piece, uint64_t max, uint64_t *seen)
{
	static char buf[128 * 1024];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint64_t raw = 0;
	int ret = 0;

	*seen = 0;
	for (size_t off = 0; off < len && !ret; off += piece)
		ret = relay_decode(d, (const char *)frame + off, len - off < piece ? len - off : piece,
				   buf, sizeof(buf), &raw, max, count, seen);
	ZSTD_freeDCtx(d);
	return ret;
}

int main(void)
{
	size_t big = 8 << 20, cap = ZSTD_compressBound(big), len;
	char *zeros = calloc(1, big), *frame = malloc(cap);
	uint64_t seen;

	len = ZSTD_compress(frame, cap, zeros, big, 1);
	CHECK(!ZSTD_isError(len) && len < 4096);            /* 8 MiB of zeros: a tiny frame */
	CHECK(decode(frame, len, len, 0, &seen) == 0 && seen == big);
	CHECK(decode(frame, len, 7, 0, &seen) == 0 && seen == big);
	CHECK(decode(frame, len, 1, 1 << 20, &seen) == -EFBIG && seen <= 1 << 20);
	CHECK(decode(frame, len, len, big, &seen) == 0 && seen == big);
	memset(frame + 4, 0xff, 8);                          /* the frame header, damaged */
	CHECK(decode(frame, len, len, 0, &seen) == -EPROTO);
	free(zeros);
	free(frame);
	return harness_done("test_relay");
}
