/* Decoding what etcd's JSON gateway sends (see etcd_codec.h): everything here treats its
 * input as untrusted and bounded by its own length. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "etcd_codec.h"

char *etcd_b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

char *etcd_unb64(const char *s)
{
	size_t n = s ? strlen(s) : 0, pad = 0;
	unsigned char *out;
	int len;

	if (!s || n % 4 || n > INT32_MAX)
		return NULL;
	/* Strict: the alphabet only, and at most two '=' at the end (OpenSSL would also skip
	 * white space and take padding anywhere). */
	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != n - pad)
		return NULL;
	out = malloc(3 * (n / 4) + 1);
	if (!out)
		return NULL;
	len = n ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) : 0;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (len < 0 || (size_t)len < pad) {
		free(out);
		return NULL;
	}
	len -= (int)pad;
	out[len] = 0;
	/* A value with a NUL inside would be cut short silently: refuse it. */
	if (memchr(out, 0, (size_t)len)) {
		free(out);
		return NULL;
	}
	return (char *)out;
}

int64_t etcd_int(const json_t *v)
{
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

int etcd_decode_range(const json_t *resp, struct store_kv **out, size_t *n, int64_t *rev)
{
	json_t *kvs = json_object_get(resp, "kvs"), *kv;
	struct store_kv *v;
	size_t i;

	*n = 0;
	*out = NULL;
	if (kvs && !json_is_array(kvs))
		return -EPROTO;
	v = calloc(json_array_size(kvs) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_array_foreach(kvs, i, kv) {
		v[i].key = etcd_unb64(json_string_value(json_object_get(kv, "key")));
		v[i].value = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "");
		v[i].mod_revision = etcd_int(json_object_get(kv, "mod_revision"));
		(*n)++;
		if (!v[i].key || !v[i].value) {
			store_kvs_free(v, *n);
			*n = 0;
			return -EPROTO;
		}
	}
	if (rev)
		*rev = etcd_int(json_object_get(json_object_get(resp, "header"), "revision"));
	*out = v;
	return 0;
}

int etcd_watch_line(const char *line, size_t len, store_watch_cb cb, void *arg, int *err)
{
	json_t *msg = json_loadb(line, len, 0, NULL), *result, *events, *ev;
	int stop = 0;
	size_t i;

	if (!msg)
		return 0;
	result = json_object_get(msg, "result");
	/* A start revision that was compacted away cancels the watch: the caller must re-list. */
	if (json_is_true(json_object_get(result, "canceled"))) {
		*err = json_object_get(result, "compact_revision") ? -ESTALE : -ECANCELED;
		json_decref(msg);
		return 1;
	}
	if (json_object_get(msg, "error")) {
		*err = -EIO;
		json_decref(msg);
		return 1;
	}
	events = json_object_get(result, "events");
	json_array_foreach(events, i, ev) {
		json_t *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		char *key = etcd_unb64(json_string_value(json_object_get(kv, "key")));
		char *value = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "");
		struct store_event se = {
			.type = type && !strcmp(type, "DELETE") ? STORE_DELETE : STORE_PUT,
			.key = key, .value = value,
			.mod_revision = etcd_int(json_object_get(kv, "mod_revision")),
		};

		if (se.type == STORE_DELETE)
			se.value = NULL;
		/* An event whose key or value does not decode is dropped; a re-list repairs. */
		if (key && (se.value || se.type == STORE_DELETE) && cb(&se, arg))
			stop = 1;
		free(key);
		free(value);
		if (stop)
			break;
	}
	json_decref(msg);
	return stop;
}
