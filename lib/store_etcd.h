/* What only the etcd backend offers beyond store.h: a raw call to its JSON gateway, for
 * administration (users and roles, lib/etcd_auth.c). */
#pragma once
#include <jansson.h>
#include "store.h"

/* POST body (stolen) to path (e.g. "/v3/auth/role/add"); *resp gets the reply. -ENOTSUP
 * when s is not etcd; -EACCES when etcd refuses; -EIO for another refusal, whose reply's
 * "error" goes into err. */
int store_etcd_request(struct store *s, const char *path, json_t *body, json_t **resp);
