/* Mutual TLS for the agent-to-agent channel: OpenSSL contexts, handshakes, line I/O. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "tls.h"

static void ssl_error(char *err, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, len, "%s%s%s", what, *buf ? ": " : "", buf);
	ERR_clear_error();
}

SSL_CTX *tls_context(const struct tls_files *f, int server, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (!f->ca || !*f->ca || !f->cert || !*f->cert || !f->key || !*f->key) {
		snprintf(err, errlen, "tls-ca, tls-cert and tls-key must all be configured");
		return NULL;
	}
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		ssl_error(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1) {
		ssl_error(err, errlen, "cannot load tls-ca");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1) {
		ssl_error(err, errlen, "cannot load tls-cert");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, errlen, "tls-key cannot be loaded or does not match tls-cert");
		goto fail;
	}
	/* No session tickets: connections are few and long, and a ticket arriving after the
	 * handshake would only wake up readers that wait for data. */
	if (server)
		SSL_CTX_set_num_tickets(ctx, 0);
	/* Both directions: a node only talks to nodes the cluster CA vouches for. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL *tls_connect(SSL_CTX *ctx, int fd, const char *expect_node, char *err, size_t errlen)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl) {
		ssl_error(err, errlen, "SSL_new");
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, expect_node) != 1 || SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);

		if (v != X509_V_OK)
			snprintf(err, errlen, "TLS handshake with %s failed: %s", expect_node,
				 X509_verify_cert_error_string(v));
		else
			ssl_error(err, errlen, "TLS handshake failed");
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

SSL *tls_accept(SSL_CTX *ctx, int fd, char *peer, size_t peerlen, char *err, size_t errlen)
{
	SSL *ssl = SSL_new(ctx);
	X509 *cert;

	if (!ssl) {
		ssl_error(err, errlen, "SSL_new");
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1) {
		ssl_error(err, errlen, "TLS handshake failed");
		SSL_free(ssl);
		return NULL;
	}
	cert = SSL_get1_peer_certificate(ssl);
	*peer = 0;
	if (cert) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, peer, (int)peerlen);
		X509_free(cert);
	}
	return ssl;
}

void tls_keepalive(int fd)
{
	int on = 1, idle = 5, intvl = 2, cnt = 3;
	unsigned int user_timeout = 20000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

static int dial(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
	char service[8];
	struct pollfd pfd;
	int fd, ret, one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	snprintf(service, sizeof(service), "%u", port);
	if ((ret = getaddrinfo(host, service, &hints, &ai))) {
		snprintf(err, errlen, "bad address %s: %s", host, gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	ret = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ret && errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	ret = poll(&pfd, 1, timeout_ms);
	if (ret == 0)
		errno = ETIMEDOUT;
	if (ret <= 0)
		goto fail;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		errno = soerr;
		goto fail;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tls_keepalive(fd);
	return fd;
fail:
	ret = -errno;
	snprintf(err, errlen, "cannot connect to %s port %u: %s", host, port, strerror(-ret));
	close(fd);
	return ret;
}

SSL *tls_dial(SSL_CTX *ctx, const char *host, uint16_t port, const char *expect_node,
	      int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	int fd = dial(host, port, timeout_ms, err, errlen);
	SSL *ssl;

	if (fd < 0)
		return NULL;
	/* Bounded handshake; callers set their own timeouts for the transfer afterwards. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = tls_connect(ctx, fd, expect_node, err, errlen);
	if (!ssl) {
		close(fd);
		return NULL;
	}
	tv = (struct timeval){ 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return ssl;
}

void tls_close(SSL *ssl)
{
	int fd;

	if (!ssl)
		return;
	fd = SSL_get_fd(ssl);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
}

int tls_write_all(SSL *ssl, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		int n = SSL_write(ssl, p, len > 1 << 30 ? 1 << 30 : (int)len);

		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tls_read_line(SSL *ssl, char *buf, size_t len)
{
	size_t n = 0;

	/* Byte at a time: control lines are short and rare, and nothing past the newline
	 * may be consumed (a data stream can follow it on the same connection). */
	while (n + 1 < len) {
		char ch;

		if (SSL_read(ssl, &ch, 1) != 1)
			return -EIO;
		if (ch == '\n') {
			buf[n] = 0;
			return 0;
		}
		buf[n++] = ch;
	}
	return -E2BIG;
}
