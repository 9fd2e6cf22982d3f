/* YAML documents as JSON values, through libyaml's event parser. Only what Kubernetes
 * manifests use: mappings, sequences and scalars typed by the YAML 1.2 core schema. Anchors
 * and aliases are refused rather than expanded, so a small file cannot become a huge one. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "yaml_json.h"

#define YAML_MAX_DEPTH 64

struct loader {
	yaml_parser_t parser;
	char *err;
	size_t errlen;
};

static int bad(struct loader *l, const yaml_mark_t *mark, const char *what)
{
	snprintf(l->err, l->errlen, "line %zu, column %zu: %s", mark->line + 1, mark->column + 1, what);
	return -EINVAL;
}

/* A plain scalar's type: null, booleans and integers as YAML 1.2's core schema reads them;
 * everything else (and everything quoted) stays a string. */
static json_t *scalar(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *end;
	long long n;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, len);
	if (!len || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	errno = 0;
	n = strtoll(s, &end, 10);
	if (!*end && !errno && (s[0] != '0' || len == 1) && !(s[0] == '-' && s[1] == '0'))
		return json_integer(n);
	return json_stringn(s, len);
}

static int node(struct loader *l, yaml_event_t *first, json_t **out, int depth);

static int collection(struct loader *l, yaml_event_t *start, json_t **out, int depth)
{
	bool map = start->type == YAML_MAPPING_START_EVENT;
	json_t *c = map ? json_object() : json_array();
	yaml_event_t ev;
	int ret = 0;

	if (depth > YAML_MAX_DEPTH) {
		json_decref(c);
		return bad(l, &start->start_mark, "nested too deeply");
	}
	for (;;) {
		json_t *key = NULL, *value = NULL;

		if (!yaml_parser_parse(&l->parser, &ev)) {
			ret = bad(l, &l->parser.problem_mark, l->parser.problem ? l->parser.problem : "syntax error");
			break;
		}
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (!map) {
			ret = node(l, &ev, &value, depth + 1);
			if (!ret)
				json_array_append_new(c, value);
			if (ret)
				break;
			continue;
		}
		ret = node(l, &ev, &key, depth + 1);
		if (!ret && !json_is_string(key))
			ret = bad(l, &l->parser.mark, "a mapping key must be a string");
		if (!ret && !yaml_parser_parse(&l->parser, &ev))
			ret = bad(l, &l->parser.problem_mark, l->parser.problem ? l->parser.problem : "syntax error");
		if (!ret)
			ret = node(l, &ev, &value, depth + 1);
		if (!ret && json_object_get(c, json_string_value(key)))
			ret = bad(l, &l->parser.mark, "duplicate key");
		if (!ret)
			json_object_set_new(c, json_string_value(key), value);
		else
			json_decref(value);
		json_decref(key);
		if (ret)
			break;
	}
	if (ret)
		json_decref(c);
	else
		*out = c;
	return ret;
}

/* One node starting at event first, which this call consumes. */
static int node(struct loader *l, yaml_event_t *first, json_t **out, int depth)
{
	int ret = 0;

	switch (first->type) {
	case YAML_SCALAR_EVENT:
		*out = scalar(first);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		ret = collection(l, first, out, depth);
		break;
	case YAML_ALIAS_EVENT:
		ret = bad(l, &first->start_mark, "aliases (*name) are not supported; write the value out");
		break;
	default:
		ret = bad(l, &first->start_mark, "unexpected YAML event");
	}
	yaml_event_delete(first);
	return ret;
}

int yaml_documents(const char *text, json_t **docs, char *err, size_t errlen)
{
	struct loader l = { .err = err, .errlen = errlen };
	json_t *all = json_array();
	yaml_event_t ev;
	int ret = 0;
	bool done = false;

	if (!yaml_parser_initialize(&l.parser)) {
		json_decref(all);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)text, strlen(text));
	while (!ret && !done) {
		if (!yaml_parser_parse(&l.parser, &ev)) {
			ret = bad(&l, &l.parser.problem_mark, l.parser.problem ? l.parser.problem : "syntax error");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			/* fall through */
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			yaml_event_delete(&ev);
			break;
		default: {
			json_t *doc = NULL;

			ret = node(&l, &ev, &doc, 0);
			/* An empty document (a stray "---") holds nothing to apply. */
			if (!ret && !json_is_null(doc))
				json_array_append(all, doc);
			json_decref(doc);
		}
		}
	}
	yaml_parser_delete(&l.parser);
	if (ret) {
		json_decref(all);
		return ret;
	}
	*docs = all;
	return 0;
}
