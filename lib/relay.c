/* fd <-> TLS relay with zstd streaming compression (see relay.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <zstd.h>
#include "relay.h"
#include "tls.h"

/* Reads from fd take up to IN_MAX at once: CRIU's page stream arrives in megabytes, and
 * fewer, larger compression calls cost less per byte. */
#define IN_MAX (1024 * 1024)
#define CHUNK (128 * 1024)

struct relay {
	int fd;
	SSL *ssl;
	const struct relay_opts *o;
	struct relay_stats *st;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	char *in, *out;
	size_t outcap;
};

static int write_fd_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send what was read from fd. mode: ZSTD_e_end finishes the compressed frame (fd reached
 * EOF); ZSTD_e_flush pushes everything out, used whenever fd has nothing more queued so a
 * request or reply is never held back; ZSTD_e_continue lets a bulk stream compress in
 * whole blocks while more of it waits to be read. */
static int send_out(struct relay *r, const char *data, size_t n, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, n, 0 };
	size_t left;

	r->st->raw_out += n;
	if (!r->o->compress_out) {
		r->st->wire_out += n;
		return n ? tls_write_all(r->ssl, data, n) : 0;
	}
	do {
		ZSTD_outBuffer out = { r->out, r->outcap, 0 };

		left = ZSTD_compressStream2(r->cctx, &out, &in, mode);
		if (ZSTD_isError(left))
			return -EPROTO;
		if (out.pos && tls_write_all(r->ssl, r->out, out.pos))
			return -EIO;
		r->st->wire_out += out.pos;
		/* with e_continue, left is only a size hint, never zero */
	} while ((mode != ZSTD_e_continue && left) || in.pos < in.size);
	return 0;
}

int relay_decode(struct ZSTD_DCtx_s *dctx, const void *data, size_t n, void *buf, size_t cap,
		 uint64_t *raw, uint64_t max, int (*sink)(void *ctx, const void *p, size_t n),
		 void *ctx)
{
	ZSTD_inBuffer in = { data, n, 0 };
	bool full = false;
	int ret;

	/* A call that fills buf may leave decoded bytes inside dctx with all input consumed:
	 * call again until one returns short, or the last of a stream (a page server's closing
	 * command) would wait for input that only its answer would bring. */
	while (in.pos < in.size || full) {
		ZSTD_outBuffer out = { buf, cap, 0 };
		size_t left = ZSTD_decompressStream(dctx, &out, &in);

		if (ZSTD_isError(left))
			return -EPROTO;   /* a corrupt or truncated stream */
		full = out.pos == out.size;
		*raw += out.pos;
		if (max && *raw > max)
			return -EFBIG;    /* checked before writing: nothing past the limit lands */
		if (out.pos && (ret = sink(ctx, buf, out.pos)))
			return ret;
	}
	return 0;
}

static int sink_fd(void *ctx, const void *p, size_t n)
{
	return write_fd_all(*(int *)ctx, p, n);
}

static int recv_in(struct relay *r, const char *data, size_t n)
{
	r->st->wire_in += n;
	if (!r->o->decompress_in) {
		r->st->raw_in += n;
		if (r->o->max_in && r->st->raw_in > r->o->max_in)
			return -EFBIG;
		return write_fd_all(r->fd, data, n);
	}
	return relay_decode(r->dctx, data, n, r->out, r->outcap, &r->st->raw_in, r->o->max_in,
			    sink_fd, &r->fd);
}

/* A socket is half-closed; a pipe's reader sees EOF when the caller closes it after
 * relay_run returns (a pipe is only ever used in one direction). */
static void fd_shut_write(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
		shutdown(fd, SHUT_WR);
}

int relay_run(int fd, SSL *ssl, const struct relay_opts *o, struct relay_stats *st)
{
	struct relay r = { .fd = fd, .ssl = ssl, .o = o, .st = st };
	bool fd_open = o->read_fd, ssl_open = true, fd_writable = o->write_fd;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	/* With poll on a blocking socket, SSL_read must return after a non-data record (e.g.
	 * a TLS 1.3 session ticket) instead of waiting for data that may never come. */
	SSL_clear_mode(ssl, SSL_MODE_AUTO_RETRY);
	r.in = malloc(IN_MAX);
	r.outcap = ZSTD_CStreamOutSize() > CHUNK ? ZSTD_CStreamOutSize() : CHUNK;
	r.out = malloc(r.outcap);
	r.cctx = ZSTD_createCCtx();
	r.dctx = ZSTD_createDCtx();
	if (!r.in || !r.out || !r.cctx || !r.dctx) {
		ret = -ENOMEM;
		goto out;
	}
	/* Level 1: the link, not the CPU, should be the limit. */
	ZSTD_CCtx_setParameter(r.cctx, ZSTD_c_compressionLevel, 1);
	/* A one-way sender is done once its side closed: the peer may still answer on the
	 * connection (a status line), which is the caller's to read. */
	while (fd_open || (ssl_open && fd_writable)) {
		struct pollfd p[2] = {
			{ .fd = fd_open ? fd : -1, .events = POLLIN },
			{ .fd = ssl_open ? SSL_get_fd(ssl) : -1, .events = POLLIN },
		};

		if (!(ssl_open && SSL_pending(ssl))) {
			int n = poll(p, 2, o->idle_ms ? o->idle_ms : -1);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				ret = n ? -errno : -ETIMEDOUT;   /* a peer that went quiet for good */
				break;
			}
		}
		if (fd_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(fd, r.in, IN_MAX);
			int queued = 0;

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fd_open = false;
				if ((ret = send_out(&r, NULL, 0, ZSTD_e_end)))
					break;
				SSL_shutdown(ssl);       /* close_notify: end of our direction */
			} else if ((ret = send_out(&r, r.in, (size_t)n,
						   ioctl(fd, FIONREAD, &queued) == 0 && queued > 0 ?
						   ZSTD_e_continue : ZSTD_e_flush))) {
				break;
			}
			if (o->progress)
				*o->progress = st->raw_out + st->raw_in;
		}
		if (ssl_open && (SSL_pending(ssl) || (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
			int n = SSL_read(ssl, r.in, CHUNK);

			if (n <= 0) {
				int e = SSL_get_error(ssl, n);

				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					continue;
				ssl_open = false;
				if (e != SSL_ERROR_ZERO_RETURN) {
					ret = -EIO;     /* the peer vanished without closing */
					break;
				}
				if (fd_writable)
					fd_shut_write(fd);
				fd_writable = false;
			} else if (!fd_writable) {
				ret = -EPROTO;          /* data where none was expected */
				break;
			} else if ((ret = recv_in(&r, r.in, (size_t)n))) {
				break;
			}
			if (o->progress)
				*o->progress = st->raw_out + st->raw_in;
		}
	}
out:
	free(r.in);
	free(r.out);
	ZSTD_freeCCtx(r.cctx);
	ZSTD_freeDCtx(r.dctx);
	return ret;
}
