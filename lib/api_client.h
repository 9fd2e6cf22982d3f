/* Client side of the petreld HTTP+JSON API over a Unix socket (libcurl). */
#pragma once
#include <jansson.h>

/* METHOD PATH with an optional JSON body. On transport success returns 0 with the HTTP
 * status in *status and the parsed body in *resp (NULL when empty; caller decrefs).
 * Returns -ENOENT/-ECONNREFUSED when no agent listens, -ETIMEDOUT, -EPROTO on bad JSON.
 * timeout_ms 0 means the default (30 s). */
int api_call(const char *socket_path, const char *method, const char *path, json_t *body,
	     long timeout_ms, long *status, json_t **resp);
/* Streaming variant for follow-mode endpoints: each JSON line is passed to cb until it
 * returns nonzero or the server closes. */
typedef int (*api_line_cb)(json_t *line, void *arg);
int api_stream(const char *socket_path, const char *method, const char *path, json_t *body,
	       api_line_cb cb, void *arg, long *status);
