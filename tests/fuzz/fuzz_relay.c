/* libFuzzer harness: the relay's receiving framing (a zstd stream from another agent, in
 * pieces as TLS hands them over) decodes or fails cleanly, and never lets more than its
 * limit through: a small stream that would decompress to far more is stopped. */
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>
#include "relay.h"

#define LIMIT (1 << 20)

static int count(void *ctx, const void *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[128 * 1024];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint64_t raw = 0, seen = 0;
	size_t piece;

	if (!d || size < 1)
		goto out;
	/* The first byte sets the piece size, as TLS records would split the stream. */
	piece = (size_t)data[0] * 64 + 1;
	for (size_t off = 1; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		if (relay_decode(d, data + off, n, buf, sizeof(buf), &raw, LIMIT, count, &seen))
			break;
	}
	if (seen > LIMIT || seen > raw)
		abort();
out:
	ZSTD_freeDCtx(d);
	return 0;
}
