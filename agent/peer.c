/* The agent-to-agent channel: a mutual-TLS listener on the node's underlay address, and
 * dialing another node by name. Each connection opens with one JSON line naming its
 * operation ({"op":"..."}); the matching handler then owns the connection. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "agent.h"
#include "cluster_cache.h"
#include "log.h"
#include "tls.h"

struct peer {
	SSL_CTX *server, *client;
	int fd;
	pthread_t thread;
};

struct conn {
	struct agent *a;
	int fd;
};

/* Connections not yet authenticated, and all of them: a flood of handshakes or of open
 * connections costs a bounded number of threads. */
#define MAX_PREAUTH 32
#define MAX_CONNS   256
static _Atomic int n_preauth, n_conns;

/* A peer is a node cluster state knows: a certificate from the cluster CA for a name no
 * node registered (a retired node's, say) is not enough. */
static bool registered_node(struct agent *a, const char *name)
{
	char key[128], *v = NULL;
	bool known;

	if (!*name || !name_valid(name))
		return false;
	if (cluster_get(a, CC_NODE, name, &v) == 0) {
		free(v);
		return true;
	}
	snprintf(key, sizeof(key), KEY_NODES "%s", name);
	known = store_get(a->store, key, &v, NULL) == 0;
	free(v);
	return known;
}

/* What other agents may ask of this one, by operation: registered by the subsystems that
 * serve them (migration) before peer_start. */
#define MAX_PEER_OPS 8
static struct {
	const char *op;
	peer_handler fn;
} handlers[MAX_PEER_OPS];
static size_t n_handlers;

int peer_register(const char *op, peer_handler fn)
{
	if (n_handlers == MAX_PEER_OPS)
		return -ENOSPC;
	handlers[n_handlers].op = op;
	handlers[n_handlers++].fn = fn;
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct agent *a = c->a;
	struct timeval tv = { .tv_sec = 10 };
	char peer[64], err[256], line[65536];
	json_t *hello = NULL;
	const char *op;
	SSL *ssl;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = tls_accept(a->peer->server, c->fd, peer, sizeof(peer), err, sizeof(err));
	if (ssl && !registered_node(a, peer)) {
		snprintf(err, sizeof(err), "certificate of '%s', which is no registered node", peer);
		tls_close(ssl);
		ssl = NULL;
	}
	if (!ssl) {
		log_warn("peer connection refused: %s", err);
		n_preauth--;
		close(c->fd);
		goto out;
	}
	if (tls_read_line(ssl, line, sizeof(line)) == 0)
		hello = json_loads(line, 0, NULL);
	n_preauth--;
	tv.tv_sec = 0;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	op = json_string_value(json_object_get(hello, "op"));
	for (size_t i = 0; op && i < n_handlers; i++)
		if (!strcmp(op, handlers[i].op)) {
			handlers[i].fn(a, ssl, peer, hello);
			op = NULL;
			break;
		}
	if (op)
		peer_reply_error(ssl, "unknown operation '%s'", op);
	json_decref(hello);
	tls_close(ssl);
out:
	n_conns--;
	free(c);
	return NULL;
}

static void *listen_main(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		struct pollfd p = { .fd = a->peer->fd, .events = POLLIN };
		struct conn *c;
		pthread_t t;
		int fd, one = 1;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(a->peer->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tls_keepalive(fd);
		if (n_preauth >= MAX_PREAUTH || n_conns >= MAX_CONNS) {
			log_warn("peer connection dropped: %d handshakes and %d connections open",
				 (int)n_preauth, (int)n_conns);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		n_preauth++;
		n_conns++;
		c->a = a;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_main, c)) {
			n_preauth--;
			n_conns--;
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

int peer_start(struct agent *a)
{
	struct tls_files f = { a->cfg.tls_ca, a->cfg.tls_cert, a->cfg.tls_key };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(a->cfg.peer_port) };
	char err[256];
	int one = 1;

	if (!*a->cfg.tls_ca) {
		log_info("no tls-ca configured: migration to and from this node is disabled");
		return 0;
	}
	a->peer = calloc(1, sizeof(*a->peer));
	if (!a->peer)
		return -ENOMEM;
	a->peer->fd = -1;
	a->peer->server = tls_context(&f, 1, err, sizeof(err));
	if (a->peer->server)
		a->peer->client = tls_context(&f, 0, err, sizeof(err));
	if (!a->peer->client)
		goto fail;
	memcpy(&sin.sin_addr, &a->cfg.underlay4.v4, 4);
	a->peer->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(a->peer->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->peer->fd < 0 || bind(a->peer->fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(a->peer->fd, 64)) {
		snprintf(err, sizeof(err), "cannot listen on port %d: %s", a->cfg.peer_port,
			 strerror(errno));
		goto fail;
	}
	if (pthread_create(&a->peer->thread, NULL, listen_main, a)) {
		snprintf(err, sizeof(err), "cannot start the listener thread");
		goto fail;
	}
	log_info("peer channel: mutual TLS on port %d", a->cfg.peer_port);
	return 0;
fail:
	log_err("peer channel: %s", err);
	peer_stop(a);
	return -EINVAL;
}

void peer_stop(struct agent *a)
{
	struct peer *p = a->peer;

	if (!p)
		return;
	if (p->fd >= 0 && p->thread) {
		a->stopping = 1;
		pthread_join(p->thread, NULL);
	}
	if (p->fd >= 0)
		close(p->fd);
	SSL_CTX_free(p->server);
	SSL_CTX_free(p->client);
	free(p);
	a->peer = NULL;
}

int peer_node_address(struct agent *a, const char *node, char *ip, size_t len)
{
	char key[128], *value = NULL;
	json_t *j;
	const char *s;
	int ret;

	snprintf(key, sizeof(key), KEY_NODES "%s", node);
	ret = store_get(a->store, key, &value, NULL);
	if (ret)
		return ret;
	j = json_loads(value, 0, NULL);
	free(value);
	s = json_string_value(json_object_get(j, "ipv4"));
	ret = s ? 0 : -EINVAL;
	if (s)
		snprintf(ip, len, "%s", s);
	json_decref(j);
	return ret;
}

SSL *peer_dial(struct agent *a, const char *node, const json_t *hello, struct api_error *e)
{
	char ip[64], err[256];
	SSL *ssl;
	int ret;

	if (!a->peer) {
		api_fail(e, 409, "configure tls-ca, tls-cert and tls-key (petrel lab up does this)",
			 "migration is disabled on node %s: no TLS configured", a->cfg.node);
		return NULL;
	}
	ret = peer_node_address(a, node, ip, sizeof(ip));
	if (ret) {
		api_fail(e, ret == -ENOENT ? 404 : 503, "see `petrel node status`",
			 "node '%s' %s", node, ret == -ENOENT ? "does not exist" : "has no address");
		return NULL;
	}
	ssl = tls_dial(a->peer->client, ip, (uint16_t)a->cfg.peer_port, node, 5000, err, sizeof(err));
	if (!ssl) {
		api_fail(e, 502, "is petreld running on that node, with TLS configured?",
			 "cannot reach node %s: %s", node, err);
		return NULL;
	}
	if (peer_send(ssl, json_incref((json_t *)hello))) {
		tls_close(ssl);
		api_fail(e, 502, NULL, "node %s closed the connection", node);
		return NULL;
	}
	return ssl;
}

int peer_send(SSL *ssl, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int ret = text ? tls_write_all(ssl, text, strlen(text)) : -ENOMEM;

	if (!ret)
		ret = tls_write_all(ssl, "\n", 1);
	free(text);
	json_decref(msg);
	return ret;
}

json_t *peer_recv(SSL *ssl)
{
	static __thread char line[1 << 20];

	if (tls_read_line(ssl, line, sizeof(line)))
		return NULL;
	return json_loads(line, 0, NULL);
}

int peer_reply_error(SSL *ssl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return peer_send(ssl, json_pack("{s:s}", "error", msg));
}
