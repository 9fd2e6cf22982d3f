/* Mutual TLS between petreld agents (OpenSSL). Both sides present a certificate signed by
 * the cluster CA; the client also checks that the server's certificate names the node it
 * meant to reach, and the server learns the client's node name from its certificate. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct tls_files {
	const char *ca, *cert, *key;
};

/* A context for one role; NULL with err set when a file is missing or does not match. */
SSL_CTX *tls_context(const struct tls_files *f, int server, char *err, size_t errlen);
/* Handshake over a connected socket. tls_connect verifies that the peer is expect_node;
 * tls_accept writes the client's node name (certificate CN) into peer. NULL on failure. */
SSL *tls_connect(SSL_CTX *ctx, int fd, const char *expect_node, char *err, size_t errlen);
SSL *tls_accept(SSL_CTX *ctx, int fd, char *peer, size_t peerlen, char *err, size_t errlen);
/* TCP keepalives every 2 s after 5 s of silence, and a 20 s limit on unacknowledged data:
 * a peer that dies or drops off the network breaks the connection in about 11-20 s, even
 * when nothing is being sent (a control channel waiting through a restore). */
void tls_keepalive(int fd);
/* Connect a TCP socket to host:port with a timeout, then tls_connect. */
SSL *tls_dial(SSL_CTX *ctx, const char *host, uint16_t port, const char *expect_node,
	      int timeout_ms, char *err, size_t errlen);
void tls_close(SSL *ssl);           /* shutdown, free, close the socket */

int tls_write_all(SSL *ssl, const void *buf, size_t len);          /* 0 or -EIO */
/* One '\n'-terminated line (without the newline); -EIO on EOF/error, -E2BIG if too long. */
int tls_read_line(SSL *ssl, char *buf, size_t len);
