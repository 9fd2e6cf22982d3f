/* The relay's receiving framing: a zstd stream decodes whole, in any split; a flushed
 * stream not yet ended hands on every byte flushed, even when one piece holds more than
 * the scratch buffer; a corrupt one is refused; and a small stream that decompresses past
 * the limit stops there, with nothing past the limit handed on (the disk-filling "zstd
 * bomb"). */
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

/* The sender's shape: ZSTD_e_continue over a bulk stream, then ZSTD_e_flush once its
 * side had nothing queued. The receiver has every byte then, with no frame end: the
 * peer (a page server) answers it before the stream goes on. */
static void flushed_stream_whole(void)
{
	size_t big = 3 << 20, cap = ZSTD_compressBound(big);
	char *src = malloc(big), *frame = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_outBuffer out = { frame, cap, 0 };
	ZSTD_inBuffer in = { src, big / 2, 0 };
	unsigned x = 1;
	uint64_t seen;

	for (size_t i = 0; i < big; i++) {     /* pages of text with a little noise */
		x = x * 1103515245 + 12345;
		src[i] = i % 4096 < 200 ? (char)(x >> 16) : (char)('a' + i % 7);
	}
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	CHECK(!ZSTD_isError(ZSTD_compressStream2(c, &out, &in, ZSTD_e_continue)));
	in.size = big;
	CHECK(ZSTD_compressStream2(c, &out, &in, ZSTD_e_flush) == 0);
	CHECK(decode(frame, out.pos, out.pos, 0, &seen) == 0 && seen == big);
	CHECK(decode(frame, out.pos, 65536, 0, &seen) == 0 && seen == big);
	ZSTD_freeCCtx(c);
	free(src);
	free(frame);
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
	flushed_stream_whole();
	return harness_done("test_relay");
}
