/* HTTP+JSON client of petreld over its Unix socket (libcurl). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "api_client.h"
#include "util.h"

struct body {
	struct growbuf buf;
	api_line_cb cb;
	void *arg;
	int stopped;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;

	if (growbuf_append(&b->buf, p, size * n))
		return 0;
	if (b->cb) {
		char *nl;
		while ((nl = memchr(b->buf.data, '\n', b->buf.len))) {
			json_t *line;

			*nl = 0;
			line = json_loads(b->buf.data, 0, NULL);
			growbuf_consume(&b->buf, (size_t)(nl + 1 - b->buf.data));
			if (line) {
				int stop = b->cb(line, b->arg);
				json_decref(line);
				if (stop) {
					b->stopped = 1;
					return 0;
				}
			}
		}
	}
	return size * n;
}

static int perform(const char *socket_path, const char *method, const char *path, json_t *body,
		   long timeout_ms, long *status, struct body *out)
{
	char url[1024], *text = NULL;
	struct curl_slist *hdrs = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "http://petreld%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "");
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(text);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && out->stopped))
		return 0;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (rc == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	return -EIO;
}

int api_call(const char *socket_path, const char *method, const char *path, json_t *body,
	     long timeout_ms, long *status, json_t **resp)
{
	struct body b = { 0 };
	int ret;

	*resp = NULL;
	ret = perform(socket_path, method, path, body, timeout_ms ? timeout_ms : 30000, status, &b);
	if (!ret && b.buf.len) {
		*resp = json_loads(b.buf.data, 0, NULL);
		if (!*resp)
			ret = -EPROTO;
	}
	free(b.buf.data);
	return ret;
}

int api_stream(const char *socket_path, const char *method, const char *path, json_t *body,
	       api_line_cb cb, void *arg, long *status)
{
	struct body b = { .cb = cb, .arg = arg };
	int ret = perform(socket_path, method, path, body, 0, status, &b);

	free(b.buf.data);
	return ret;
}
