/* etcd's v3 JSON gateway, decoded: base64 keys and values, range replies, watch stream
 * lines. Pure functions over untrusted text, fuzzed (tests/fuzz/fuzz_etcd.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"

/* Base64 of a NUL-terminated string; caller frees. */
char *etcd_b64(const char *s);
/* The NUL-terminated text behind base64 s; NULL for NULL, invalid or NUL-containing input. */
char *etcd_unb64(const char *s);
/* A gateway integer: a JSON string of digits, or a number; 0 otherwise. */
int64_t etcd_int(const json_t *v);

/* A range reply's key-value pairs (in the reply's order) and its revision; -EPROTO for a
 * malformed pair, -ENOMEM. *kvs is caller-freed with store_kvs_free. */
int etcd_decode_range(const json_t *resp, struct store_kv **kvs, size_t *n, int64_t *rev);

/* One line of a watch stream. Each event goes to cb (nonzero from cb stops); returns 1 to
 * stop (cb asked, or the watch ended: *err is -ESTALE when its revision was compacted,
 * -ECANCELED or -EIO otherwise), 0 to go on. */
int etcd_watch_line(const char *line, size_t len, store_watch_cb cb, void *arg, int *err);
