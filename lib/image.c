/* OCI image parsing for `petrel run --image`: pure code (see image.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "image.h"

static int bad(char *err, size_t len, const char *fmt, const char *field)
{
	snprintf(err, len, fmt, field);
	return -EINVAL;
}

static int strings(json_t *arr, char (*out)[CT_ARG_MAX], int *n, const char *field, char *err, size_t len)
{
	json_t *v;
	size_t i;

	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > CT_MAX_ARGS)
		return bad(err, len, "image config %s: must be a list of at most 32 strings", field);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) >= CT_ARG_MAX)
			return bad(err, len, "image config %s: an entry is not a string under 256 bytes", field);
		snprintf(out[(*n)++], CT_ARG_MAX, "%s", json_string_value(v));
	}
	return 0;
}

int image_config_parse(json_t *config, struct image_config *ic, char *err, size_t len)
{
	const char *s;

	memset(ic, 0, sizeof(*ic));
	if (!config || json_is_null(config))
		return 0;
	if (!json_is_object(config))
		return bad(err, len, "image config %s: must be an object", "config");
	if (strings(json_object_get(config, "Entrypoint"), ic->entrypoint, &ic->n_entrypoint, "Entrypoint", err, len) ||
	    strings(json_object_get(config, "Cmd"), ic->cmd, &ic->n_cmd, "Cmd", err, len) ||
	    strings(json_object_get(config, "Env"), ic->env, &ic->n_env, "Env", err, len))
		return -EINVAL;
	for (int i = 0; i < ic->n_env; i++)
		if (!container_env_valid(ic->env[i]))
			return bad(err, len, "image config Env: '%s' is not KEY=VALUE", ic->env[i]);
	s = json_string_value(json_object_get(config, "WorkingDir"));
	if (s && *s && (*s != '/' || !container_path_valid(s)))
		return bad(err, len, "image config WorkingDir: '%s' is not an absolute path petrel accepts", s);
	snprintf(ic->workdir, sizeof(ic->workdir), "%s", s ? s : "");
	s = json_string_value(json_object_get(config, "User"));
	if (s && strlen(s) >= sizeof(ic->user))
		return bad(err, len, "image config %s: too long", "User");
	snprintf(ic->user, sizeof(ic->user), "%s", s ? s : "");
	return 0;
}

bool image_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 7 + 64)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int image_layout_pick(const char *index_json, const char *tag, char digest[IMAGE_DIGEST_MAX],
		      char *err, size_t len)
{
	json_t *idx = json_loads(index_json, 0, NULL), *m, *found = NULL;
	size_t i, n = 0;
	int ret = 0;

	if (!json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		return bad(err, len, "index.json: %s is missing or not a list", "manifests");
	}
	json_array_foreach(json_object_get(idx, "manifests"), i, m) {
		const char *name = json_string_value(json_object_get(json_object_get(m, "annotations"),
								     "org.opencontainers.image.ref.name"));
		n++;
		if (tag ? name && !strcmp(name, tag) : n == 1)
			found = m;
	}
	if (!tag && n != 1)
		found = NULL;
	if (!found)
		ret = tag ? bad(err, len, "the layout has no image tagged '%s'", tag) :
		      bad(err, len, "the layout holds %s images: name one as oci:DIR:TAG", n ? "several" : "no");
	else if (!image_digest_valid(json_string_value(json_object_get(found, "digest"))))
		ret = bad(err, len, "index.json: a manifest's %s is not sha256:HEX", "digest");
	else
		snprintf(digest, IMAGE_DIGEST_MAX, "%s", json_string_value(json_object_get(found, "digest")));
	json_decref(idx);
	return ret;
}

int image_manifest_parse(const char *text, struct image_manifest *m, char *err, size_t len)
{
	json_t *j = json_loads(text, 0, NULL), *layers, *l;
	const char *cfg = json_string_value(json_object_get(json_object_get(j, "config"), "digest"));
	size_t i;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	layers = json_object_get(j, "layers");
	if (!image_digest_valid(cfg))
		ret = bad(err, len, "manifest: %s is missing or not sha256:HEX", "config.digest");
	else if (!json_is_array(layers) || json_array_size(layers) > IMAGE_MAX_LAYERS)
		ret = bad(err, len, "manifest: %s must be a list of at most 64", "layers");
	if (!ret)
		snprintf(m->config, sizeof(m->config), "%s", cfg);
	json_array_foreach(layers, i, l) {
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *t = json_string_value(json_object_get(l, "mediaType")) ?: "";

		if (ret)
			break;
		if (!image_digest_valid(d))
			ret = bad(err, len, "manifest: a layer's %s is not sha256:HEX", "digest");
		else if (strstr(t, "zstd") || strstr(t, "encrypted") || strstr(t, "nondistributable"))
			ret = bad(err, len, "manifest: layer media type %s is not supported (tar or tar+gzip)", t);
		snprintf(m->layers[m->n_layers].digest, IMAGE_DIGEST_MAX, "%s", d ?: "");
		m->layers[m->n_layers++].gzip = strstr(t, "gzip") != NULL;
	}
	json_decref(j);
	return ret;
}

/* Field 3 (uid or gid) of the line in an /etc/passwd or /etc/group text whose name is
 * name; field 4 too for passwd (the primary group). -ENOENT if no line names it. */
static int lookup(const char *text, const char *name, long *id, long *gid)
{
	size_t nl = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char *end;

		if (strncmp(p, name, nl) || p[nl] != ':')
			continue;
		p = strchr(p + nl + 1, ':');                /* skip the password field */
		if (!p)
			return -EINVAL;
		*id = strtol(p + 1, &end, 10);
		if (*end != ':')
			return -EINVAL;
		if (gid)
			*gid = strtol(end + 1, &end, 10);
		return 0;
	}
	return -ENOENT;
}

static int id_of(const char *s, const char *text, long *id, long *gid, const char *what,
		 char *err, size_t len)
{
	char *end;

	if (!*s)
		return 0;
	*id = strtol(s, &end, 10);
	if (!*end && *id >= 0 && *id <= UINT32_MAX)
		return 0;
	if (!text || lookup(text, s, id, gid) || *id < 0 || *id > UINT32_MAX) {
		snprintf(err, len, "image config User: no %s '%s' in the image's /etc/%s", what, s,
			 gid ? "passwd" : "group");
		return -EINVAL;
	}
	return 0;
}

int image_user_resolve(const char *user, const char *passwd, const char *group, uint32_t *uid,
		       uint32_t *gid, char *err, size_t len)
{
	char u[128], *colon;
	long id = 0, g = 0, pg = 0;

	snprintf(u, sizeof(u), "%s", user ? user : "");
	colon = strchr(u, ':');
	if (colon)
		*colon++ = 0;
	if (id_of(u, passwd, &id, &pg, "user", err, len))
		return -EINVAL;
	g = pg;
	if (colon && id_of(colon, group, &g, NULL, "group", err, len))
		return -EINVAL;
	*uid = (uint32_t)id;
	*gid = (uint32_t)g;
	return 0;
}

static int env_key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (int)(eq - kv) : (int)strlen(kv);
}

int image_apply(const struct image_config *ic, struct container *c, char *err, size_t len)
{
	char cmd[CT_MAX_ARGS][CT_ARG_MAX], env[CT_MAX_ARGS][CT_ARG_MAX];
	int n = 0, ne = 0;
	const char (*tail)[CT_ARG_MAX] = c->n_cmd ? (const char (*)[CT_ARG_MAX])c->cmd : ic->cmd;
	int n_tail = c->n_cmd ? c->n_cmd : ic->n_cmd;

	if (ic->n_entrypoint + n_tail > CT_MAX_ARGS)
		return bad(err, len, "%s: Entrypoint and the command make more than 32 arguments", "cmd");
	if (ic->n_entrypoint + n_tail == 0)
		return bad(err, len, "%s: the image has no Entrypoint or Cmd; give the command after --", "cmd");
	for (int i = 0; i < ic->n_entrypoint; i++)
		memcpy(cmd[n++], ic->entrypoint[i], CT_ARG_MAX);
	for (int i = 0; i < n_tail; i++)
		memcpy(cmd[n++], tail[i], CT_ARG_MAX);
	/* The image's Env first, each unless the container sets the same key itself. */
	for (int i = 0; i < ic->n_env; i++) {
		bool overridden = false;

		for (int k = 0; k < c->n_env && !overridden; k++)
			overridden = env_key_len(c->env[k]) == env_key_len(ic->env[i]) &&
				     !strncmp(c->env[k], ic->env[i], (size_t)env_key_len(ic->env[i]));
		if (!overridden)
			memcpy(env[ne++], ic->env[i], CT_ARG_MAX);
	}
	if (ne + c->n_env > CT_MAX_ARGS)
		return bad(err, len, "%s: the image's and the container's make more than 32", "env");
	for (int k = 0; k < c->n_env; k++)
		memcpy(env[ne++], c->env[k], CT_ARG_MAX);
	memcpy(c->cmd, cmd, sizeof(cmd));
	c->n_cmd = n;
	memcpy(c->env, env, sizeof(env));
	c->n_env = ne;
	snprintf(c->cwd, sizeof(c->cwd), "%s", ic->workdir);
	return 0;
}
