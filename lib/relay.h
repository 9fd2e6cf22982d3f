/* Byte relay between a local descriptor and a TLS connection, with zstd streaming
 * compression on the way out and decompression on the way in, so CRIU's page stream and
 * the image and filesystem tarballs cross the network compressed and authenticated,
 * without ever being staged on the source's disk. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct relay_stats {
	uint64_t raw_out, wire_out;    /* from fd, and what went on the wire for it */
	uint64_t raw_in, wire_in;      /* to fd, and what came off the wire for it */
};

struct relay_opts {
	bool compress_out;     /* compress fd -> ssl */
	bool decompress_in;    /* decompress ssl -> fd */
	bool read_fd;          /* fd is readable (socket or pipe read end) */
	bool write_fd;         /* fd is writable */
	volatile uint64_t *progress;   /* optional: raw bytes moved so far (both ways) */
	int idle_ms;           /* give up with -ETIMEDOUT after this long without a byte (0: never) */
	uint64_t max_in;       /* give up with -EFBIG past this many bytes to fd (0: no limit), so
				* a small compressed stream cannot fill a disk */
};

/* The receiving half of the framing, on its own (for the relay and its fuzzer): feed n
 * bytes of a zstd stream through dctx into sink, buf (cap bytes) as scratch; *raw counts
 * what came out, and past max (0: no limit) it stops with -EFBIG before the sink sees it.
 * -EPROTO on a corrupt stream; a sink's error is returned as is. */
struct ZSTD_DCtx_s;
int relay_decode(struct ZSTD_DCtx_s *dctx, const void *data, size_t n, void *buf, size_t cap,
		 uint64_t *raw, uint64_t max, int (*sink)(void *ctx, const void *p, size_t n),
		 void *ctx);

/* Run until both directions are finished (EOF on each, or the directions not in use).
 * When fd reaches EOF the peer sees a TLS close_notify; when the peer closes, fd is shut
 * for writing. Returns 0, or -EIO/-EPROTO (corrupt stream), -ETIMEDOUT or -EFBIG on failure. */
int relay_run(int fd, SSL *ssl, const struct relay_opts *o, struct relay_stats *st);
