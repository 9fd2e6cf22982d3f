/* etcd store backend through etcd's v3 JSON gateway (libcurl + jansson). Keys and values
 * travel base64-encoded and int64s as strings, as the gateway expects. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include "etcd_codec.h"
#include "store_etcd.h"
#include "store_impl.h"
#include "util.h"

#define MAX_ENDPOINTS 8

struct store_etcd {
	struct store base;
	char *endpoints[MAX_ENDPOINTS];
	int n_endpoints;
	atomic_int preferred;          /* the endpoint that answered last */
	atomic_int stop_watch;
	struct store_tls tls;          /* https:// endpoints: CA, client certificate and key */
	pthread_mutex_t token_lock;
	char token[256];               /* with tls.user: etcd's token for it, "" before one */
	/* Connections and TLS sessions kept between calls: a new mutual-TLS handshake for
	 * every call cost several ms (a migration's commit waited ~10 ms for its one). */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)c;
	(void)access;
	pthread_mutex_lock(&((struct store_etcd *)ctx)->share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ctx)
{
	(void)c;
	pthread_mutex_unlock(&((struct store_etcd *)ctx)->share_locks[data]);
}

static void share_init(struct store_etcd *e)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&e->share_locks[i], NULL);
	if (!(e->share = curl_share_init()))
		return;
	curl_share_setopt(e->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(e->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(e->share, CURLSHOPT_USERDATA, e);
	curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

/* Every connection to etcd: its certificate checked against the CA, ours presented. */
static void tls_opts(const struct store_etcd *e, CURL *c)
{
	if (*e->tls.ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->tls.ca);
	if (*e->tls.cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, e->tls.cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, e->tls.key);
	}
}

#define ET(s) ((struct store_etcd *)(s))

/* A reply, or a watch line, past this is refused (the call fails) rather than filling
 * memory: a full listing of 262144 endpoints is about 250 MiB of base64. */
#define REPLY_MAX ((size_t)512 << 20)

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct growbuf *b = arg;

	if (b->len + size * n > REPLY_MAX)
		return 0;
	return growbuf_append(b, p, size * n) ? 0 : size * n;
}

/* One call's limit; an API request's deadline (store_deadline_set) may cut it shorter. */
#define CALL_TIMEOUT_MS 10000L

/* The Authorization header for a request, or NULL (no user, or no token yet). */
static struct curl_slist *auth_header(struct store_etcd *e)
{
	char h[300];

	pthread_mutex_lock(&e->token_lock);
	snprintf(h, sizeof(h), "Authorization: %s", e->token);
	pthread_mutex_unlock(&e->token_lock);
	return h[15] ? curl_slist_append(NULL, h) : NULL;
}

/* POST text to path on the first endpoint that answers; *resp gets the parsed reply and
 * *status the HTTP status. */
static int post(struct store_etcd *e, const char *path, const char *text, bool auth, json_t **resp,
		long *status)
{
	char url[512];
	int ret = -ECONNREFUSED, first = atomic_load(&e->preferred);
	struct curl_slist *hdr = auth ? auth_header(e) : NULL;

	*resp = NULL;
	for (int k = 0; k < e->n_endpoints; k++) {
		int i = (first + k) % e->n_endpoints;
		struct growbuf b = { 0 };
		long left = store_deadline_left(CALL_TIMEOUT_MS);
		CURL *c;
		CURLcode rc;

		if (left <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		c = curl_easy_init();
		if (!c) {
			ret = -ENOMEM;
			break;
		}
		snprintf(url, sizeof(url), "%s%s", e->endpoints[i], path);
		curl_easy_setopt(c, CURLOPT_URL, url);
		tls_opts(e, c);
		if (e->share)
			curl_easy_setopt(c, CURLOPT_SHARE, e->share);
		if (hdr)
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left < 2000 ? left : 2000L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		rc = curl_easy_perform(c);
		*status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		curl_easy_cleanup(c);
		if (rc != CURLE_OK) {
			free(b.data);
			ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
			continue;
		}
		atomic_store(&e->preferred, i);
		*resp = b.data ? json_loads(b.data, 0, NULL) : NULL;
		free(b.data);
		ret = 0;
		break;
	}
	curl_slist_free_all(hdr);
	return ret;
}

/* A token for tls.user from etcd (a password check: bcrypt, tens of ms on etcd's side). */
static int authenticate(struct store_etcd *e)
{
	json_t *body = json_pack("{s:s, s:s}", "name", e->tls.user, "password", e->tls.password);
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *resp = NULL;
	const char *token;
	long status = 0;
	int ret = text ? post(e, "/v3/auth/authenticate", text, false, &resp, &status) : -ENOMEM;

	json_decref(body);
	free(text);
	token = json_string_value(json_object_get(resp, "token"));
	if (!ret && (status != 200 || !token || strlen(token) >= sizeof(e->token)))
		ret = status == 200 ? -EPROTO : -EACCES;   /* unknown user, or wrong password */
	if (!ret) {
		pthread_mutex_lock(&e->token_lock);
		snprintf(e->token, sizeof(e->token), "%s", token);
		pthread_mutex_unlock(&e->token_lock);
	}
	json_decref(resp);
	return ret;
}

/* POST body to path on the first endpoint that answers; *resp gets the parsed reply. A
 * token etcd no longer knows (simple tokens expire after 5 idle minutes) is renewed once. */
static int call(struct store_etcd *e, const char *path, json_t *body, json_t **resp)
{
	char *text = json_dumps(body, JSON_COMPACT);
	long status = 0;
	int ret;

	json_decref(body);
	if (!text)
		return -ENOMEM;
	ret = *e->tls.user && !*e->token ? authenticate(e) : 0;
	if (!ret)
		ret = post(e, path, text, true, resp, &status);
	if (!ret && status == 401 && *e->tls.user) {
		json_decref(*resp);
		*resp = NULL;
		ret = authenticate(e) ?: post(e, path, text, true, resp, &status);
	}
	free(text);
	if (ret)
		return ret;
	if (status != 200) {
		json_decref(*resp);
		*resp = NULL;
		return status == 404 ? -ENOTSUP : status == 403 || status == 401 ? -EACCES : -EIO;
	}
	if (!*resp)
		return -EPROTO;
	/* Every write's reply carries the revision it made (reads' are not ours). */
	if (!strncmp(path, "/v3/kv/", 7) && strcmp(path, "/v3/kv/range"))
		store_note_write_revision(etcd_int(json_object_get(json_object_get(*resp, "header"),
								   "revision")));
	return 0;
}

static json_t *kv_obj(const char *key, const char *value, int64_t lease)
{
	char *k = etcd_b64(key), *v = etcd_b64(value), id[24];
	json_t *o = json_pack("{s:s, s:s}", "key", k, "value", v);

	if (lease) {
		snprintf(id, sizeof(id), "%lld", (long long)lease);
		json_object_set_new(o, "lease", json_string(id));
	}
	free(k);
	free(v);
	return o;
}

static int et_put(struct store *s, const char *key, const char *value, int64_t lease)
{
	json_t *resp = NULL;
	int ret = call(ET(s), "/v3/kv/put", kv_obj(key, value, lease), &resp);

	json_decref(resp);
	return ret;
}

/* Transaction: if every comparison holds, put key=value; `failure` otherwise. */
static int txn_put(struct store *s, json_t *compare, const char *key, const char *value,
		   int64_t lease, int failure)
{
	json_t *resp = NULL;
	int ret;

	ret = call(ET(s), "/v3/kv/txn", json_pack("{s:o, s:[{s:o}]}", "compare", compare,
						  "success", "request_put", kv_obj(key, value, lease)),
		   &resp);
	if (!ret && !json_is_true(json_object_get(resp, "succeeded")))
		ret = failure;
	json_decref(resp);
	return ret;
}

static int et_create(struct store *s, const char *key, const char *value, int64_t lease)
{
	char *k = etcd_b64(key);
	json_t *cmp = json_pack("[{s:s, s:s, s:s, s:s}]", "key", k, "target", "CREATE",
				"result", "EQUAL", "create_revision", "0");

	free(k);
	return txn_put(s, cmp, key, value, lease, -EEXIST);
}

static int et_cas(struct store *s, const char *key, const char *value, int64_t expected)
{
	char *k = etcd_b64(key), rev[24];
	json_t *cmp;

	snprintf(rev, sizeof(rev), "%lld", (long long)expected);
	/* An absent key compares with mod_revision 0; the existence check keeps CAS from ever
	 * creating a key, as with SQLite's UPDATE (store_create is for that). */
	cmp = json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
			"key", k, "target", "MOD", "result", "EQUAL", "mod_revision", rev,
			"key", k, "target", "CREATE", "result", "GREATER", "create_revision", "0");
	free(k);
	return txn_put(s, cmp, key, value, 0, -EAGAIN);
}

static int et_txn_if(struct store *s, const char *key, int64_t expected, const struct store_op *ops,
		     size_t n)
{
	char *k = key ? etcd_b64(key) : NULL, rev[24];
	json_t *cmp, *success = json_array(), *resp = NULL;
	int ret;

	snprintf(rev, sizeof(rev), "%lld", (long long)expected);
	cmp = !key ? json_array() : json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
			"key", k, "target", "MOD", "result", "EQUAL", "mod_revision", rev,
			"key", k, "target", "CREATE", "result", "GREATER", "create_revision", "0");
	free(k);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].value) {
			json_array_append_new(success, json_pack("{s:o}", "request_put",
								 kv_obj(ops[i].key, ops[i].value, 0)));
		} else {
			char *dk = etcd_b64(ops[i].key);

			json_array_append_new(success, json_pack("{s:{s:s}}", "request_delete_range",
								 "key", dk));
			free(dk);
		}
	}
	ret = call(ET(s), "/v3/kv/txn", json_pack("{s:o, s:o}", "compare", cmp, "success", success),
		   &resp);
	if (!ret && !json_is_true(json_object_get(resp, "succeeded")))
		ret = -EAGAIN;
	json_decref(resp);
	return ret;
}

static int et_del(struct store *s, const char *key)
{
	char *k = etcd_b64(key);
	json_t *resp = NULL;
	int ret = call(ET(s), "/v3/kv/deleterange", json_pack("{s:s}", "key", k), &resp);

	free(k);
	json_decref(resp);
	return ret;
}

/* Base64 key and range_end covering every key that starts with prefix. The empty prefix
 * is etcd's "all keys": key and range_end both "\0". */
static int prefix_range(const char *prefix, char **k, char **en)
{
	char end[512];

	if (!*prefix) {
		*k = strdup("AA==");
		*en = strdup("AA==");
	} else {
		if (store_prefix_end(prefix, end, sizeof(end)))
			return -EINVAL;
		*k = etcd_b64(prefix);
		*en = etcd_b64(end);
	}
	if (!*k || !*en) {
		free(*k);
		free(*en);
		return -ENOMEM;
	}
	return 0;
}

/* Range read of one key (en NULL) or of [k, en); both already base64. */
static int range(struct store *s, const char *k, const char *en, json_t **resp)
{
	json_t *req = json_pack("{s:s}", "key", k);

	if (en)
		json_object_set_new(req, "range_end", json_string(en));
	return call(ET(s), "/v3/kv/range", req, resp);
}

static int et_get(struct store *s, const char *key, char **value, int64_t *rev)
{
	json_t *resp = NULL, *kv;
	char *k = etcd_b64(key);
	int ret;

	if (!k)
		return -ENOMEM;
	ret = range(s, k, NULL, &resp);
	free(k);
	if (ret)
		return ret;
	kv = json_array_get(json_object_get(resp, "kvs"), 0);
	if (!kv) {
		ret = -ENOENT;
	} else {
		*value = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "");
		if (rev)
			*rev = etcd_int(json_object_get(kv, "mod_revision"));
		ret = *value ? 0 : -EPROTO;
	}
	json_decref(resp);
	return ret;
}

static int et_list(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev)
{
	json_t *resp = NULL;
	struct store_kv *v;
	char *k, *en;
	int ret;

	*n = 0;
	if ((ret = prefix_range(prefix, &k, &en)))
		return ret;
	ret = range(s, k, en, &resp);
	free(k);
	free(en);
	if (ret)
		return ret;
	ret = etcd_decode_range(resp, &v, n, rev);
	json_decref(resp);
	if (ret)
		return ret;
	*out = v;   /* etcd returns ranges sorted by key */
	return 0;
}

static int et_lease_grant(struct store *s, int ttl, int64_t *lease)
{
	json_t *resp = NULL;
	int ret = call(ET(s), "/v3/lease/grant", json_pack("{s:i}", "TTL", ttl), &resp);

	if (!ret) {
		*lease = etcd_int(json_object_get(resp, "ID"));
		ret = *lease ? 0 : -EPROTO;
	}
	json_decref(resp);
	return ret;
}

static int et_lease_keepalive(struct store *s, int64_t lease)
{
	char id[24];
	json_t *resp = NULL, *result;
	int ret;

	snprintf(id, sizeof(id), "%lld", (long long)lease);
	ret = call(ET(s), "/v3/lease/keepalive", json_pack("{s:s}", "ID", id), &resp);
	if (!ret) {
		/* An expired lease answers with TTL 0 (or no TTL at all). */
		result = json_object_get(resp, "result");
		if (etcd_int(json_object_get(result ? result : resp, "TTL")) <= 0)
			ret = -ENOENT;
	}
	json_decref(resp);
	return ret;
}

struct watch_ctx {
	struct store_etcd *e;
	struct growbuf b;
	size_t scanned;         /* bytes of b known to hold no newline */
	store_watch_cb cb;
	void *arg;
	int stopped;            /* the callback asked to stop */
	int err;                /* the server ended the watch: -ESTALE (compacted) or -EIO */
	bool got_data;          /* the endpoint answered: no failover after this */
};

static int deliver(struct watch_ctx *w, const char *line)
{
	if (etcd_watch_line(line, strlen(line), w->cb, w->arg, &w->err) && !w->err)
		w->stopped = 1;
	return w->stopped || w->err;
}

static size_t watch_data(char *p, size_t size, size_t n, void *arg)
{
	struct watch_ctx *w = arg;
	char *nl;

	w->got_data = true;
	if (!collect(p, size, n, &w->b))
		return 0;
	/* The gateway streams one JSON object per line; a line of ten thousand events comes in
	 * hundreds of pieces, so only the new bytes are searched for its end. */
	while ((nl = memchr(w->b.data + w->scanned, '\n', w->b.len - w->scanned))) {
		*nl = 0;
		w->scanned = 0;
		if (deliver(w, w->b.data))
			return 0;
		growbuf_consume(&w->b, (size_t)(nl + 1 - w->b.data));
	}
	w->scanned = w->b.len;
	return size * n;
}

static int watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct watch_ctx *w = arg;

	return atomic_load(&w->e->stop_watch) ? 1 : 0;
}

/* One watch attempt against endpoint i; curl's result. */
static CURLcode watch_once(struct watch_ctx *w, int i, const char *text, long *status)
{
	char url[512];
	CURL *c = curl_easy_init();
	struct curl_slist *hdr;
	CURLcode rc;

	if (!c)
		return CURLE_OUT_OF_MEMORY;
	hdr = auth_header(w->e);
	snprintf(url, sizeof(url), "%s/v3/watch", w->e->endpoints[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	tls_opts(w->e, c);
	if (hdr)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	/* libcurl calls the progress function about once a second even on an idle stream,
	 * which is how store_watch_stop() reaches a watch blocked in curl_easy_perform(). */
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	/* A silent connection for 60 s is dead: the caller re-syncs and watches again. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	return rc;
}

static int et_watch(struct store *s, const char *prefix, int64_t start_rev, store_watch_cb cb, void *arg)
{
	struct store_etcd *e = ET(s);
	struct watch_ctx w = { .e = e, .cb = cb, .arg = arg };
	char rev[24], *k, *en, *text;
	int first = atomic_load(&e->preferred), ret = -ECONNREFUSED;
	json_t *req;

	if ((ret = prefix_range(prefix, &k, &en)))
		return ret;
	snprintf(rev, sizeof(rev), "%lld", (long long)start_rev);
	req = json_pack("{s:{s:s, s:s, s:s}}", "create_request", "key", k, "range_end", en,
			"start_revision", rev);
	free(k);
	free(en);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return -ENOMEM;
	/* A watch checks its token once, when it starts: start with a fresh one (watches
	 * start rarely: at the agent's start and after a lost stream). */
	if (*e->tls.user && (ret = authenticate(e))) {
		free(text);
		return ret;
	}
	/* Endpoints in order from the one that answered last; move on only while none answers. */
	for (int n = 0; n < e->n_endpoints && !atomic_load(&e->stop_watch); n++) {
		int i = (first + n) % e->n_endpoints;
		long status;
		CURLcode rc = watch_once(&w, i, text, &status);

		if (w.stopped || atomic_load(&e->stop_watch)) {
			ret = 0;
			break;
		}
		if (w.err) {
			ret = w.err;
			break;
		}
		if (w.got_data || (rc == CURLE_OK && status)) {
			atomic_store(&e->preferred, i);
			ret = status && status != 200 ? -EIO : -ECONNRESET;
			break;
		}
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		w.b.len = 0;
		w.scanned = 0;
	}
	if (atomic_load(&e->stop_watch))
		ret = 0;
	/* The stop request is used up by this watch; a stop that came before the watch started
	 * still ends it at once, so the caller's stop cannot get lost in a race. */
	atomic_store(&e->stop_watch, 0);
	free(text);
	free(w.b.data);
	return ret;
}

static void et_watch_stop(struct store *s)
{
	atomic_store(&ET(s)->stop_watch, 1);
}

static void et_close(struct store *s)
{
	for (int i = 0; i < ET(s)->n_endpoints; i++)
		free(ET(s)->endpoints[i]);
	pthread_mutex_destroy(&ET(s)->token_lock);
	if (ET(s)->share)
		curl_share_cleanup(ET(s)->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&ET(s)->share_locks[i]);
	explicit_bzero(ET(s)->tls.password, sizeof(ET(s)->tls.password));
	free(s);
}

static const struct store_ops etcd_ops = {
	.name = "etcd", .close = et_close, .get = et_get, .put = et_put, .create = et_create,
	.cas = et_cas, .txn_if = et_txn_if, .del = et_del, .list = et_list, .lease_grant = et_lease_grant,
	.lease_keepalive = et_lease_keepalive, .watch = et_watch, .watch_stop = et_watch_stop,
};

int store_etcd_request(struct store *s, const char *path, json_t *body, json_t **resp)
{
	*resp = NULL;
	if (strcmp(store_backend(s), "etcd")) {
		json_decref(body);
		return -ENOTSUP;
	}
	return call(ET(s), path, body, resp);
}

int store_open_etcd(struct store **out, const char *endpoints)
{
	return store_open_etcd_tls(out, endpoints, NULL);
}

int store_open_etcd_tls(struct store **out, const char *endpoints, const struct store_tls *tls)
{
	struct store_etcd *e = calloc(1, sizeof(*e));
	char *copy = strdup(endpoints), *save = NULL, *tok;
	json_t *resp = NULL;
	int ret;

	if (!e || !copy) {
		free(e);
		free(copy);
		return -ENOMEM;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&e->token_lock, NULL);
	share_init(e);
	e->base.ops = &etcd_ops;
	if (tls)
		e->tls = *tls;
	for (tok = strtok_r(copy, ",", &save); tok && e->n_endpoints < MAX_ENDPOINTS;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t l = strlen(tok);
		while (l && tok[l - 1] == '/')
			tok[--l] = 0;
		e->endpoints[e->n_endpoints++] = strdup(tok);
	}
	free(copy);
	if (!e->n_endpoints) {
		et_close(&e->base);
		return -EINVAL;
	}
	/* Prove that one endpoint answers, and takes our user, before the agent relies on it. */
	char *probe = etcd_b64("/petrel/");
	ret = *e->tls.user ? authenticate(e) : 0;
	if (!ret)
		ret = probe ? range(&e->base, probe, NULL, &resp) : -ENOMEM;
	free(probe);
	json_decref(resp);
	if (ret) {
		et_close(&e->base);
		return ret;
	}
	*out = &e->base;
	return 0;
}
