/* The output layer: text through printf formats, or one JSON document built with jansson
 * from the same calls (after iproute2's json_print). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "print.h"

#define MAX_DEPTH 32

static bool json_mode;
static json_t *root;
static json_t *stack[MAX_DEPTH];
static int depth;

void print_init(bool json)
{
	json_mode = json;
	root = NULL;
	depth = 0;
}

bool is_json_context(void)
{
	return json_mode;
}

/* Attach v under key to the current container (or make it the root). Steals v. */
static void attach(const char *key, json_t *v)
{
	json_t *top = depth ? stack[depth - 1] : NULL;

	if (!top) {
		if (!root)
			root = v;
		else
			json_decref(v);
		return;
	}
	if (json_is_array(top))
		json_array_append_new(top, v);
	else if (key)
		json_object_set_new(top, key, v);
	else
		json_decref(v);
}

static void open_container(const char *key, json_t *c)
{
	json_incref(c);
	attach(key, c);
	if (depth < MAX_DEPTH)
		stack[depth++] = c;
	json_decref(c);
}

void open_json_object(const char *key)
{
	if (json_mode)
		open_container(key, json_object());
}

void close_json_object(void)
{
	if (json_mode && depth)
		depth--;
}

void open_json_array(enum output_type t, const char *key)
{
	if (json_mode && (t & PRINT_JSON))
		open_container(key, json_array());
}

void close_json_array(enum output_type t, const char *text_end)
{
	if (json_mode) {
		if ((t & PRINT_JSON) && depth)
			depth--;
	} else if ((t & PRINT_FP) && text_end) {
		fputs(text_end, stdout);
	}
}

void print_flush(void)
{
	if (json_mode && root) {
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(root);
		root = NULL;
		depth = 0;
	}
	fflush(stdout);
}

#define PRINT_BODY(jv, ...)                                       \
	do {                                                      \
		if (json_mode) {                                  \
			if (t & PRINT_JSON)                       \
				attach(key, jv);                  \
		} else if ((t & PRINT_FP) && fmt) {               \
			printf(fmt, __VA_ARGS__);                 \
		}                                                 \
	} while (0)

void print_string(enum output_type t, const char *key, const char *fmt, const char *value)
{
	PRINT_BODY(value ? json_string(value) : json_null(), value ? value : "");
}

void print_uint(enum output_type t, const char *key, const char *fmt, uint64_t value)
{
	PRINT_BODY(json_integer((json_int_t)value), value);
}

void print_int(enum output_type t, const char *key, const char *fmt, int64_t value)
{
	PRINT_BODY(json_integer((json_int_t)value), value);
}

void print_float(enum output_type t, const char *key, const char *fmt, double value)
{
	PRINT_BODY(json_real(value), value);
}

void print_bool(enum output_type t, const char *key, const char *fmt, bool value)
{
	PRINT_BODY(json_boolean(value), value ? "true" : "false");
}

void print_json(const char *key, json_t *value)
{
	if (json_mode && value)
		attach(key, json_deep_copy(value));
}

void print_nl(void)
{
	if (!json_mode)
		putchar('\n');
}

json_t *print_lookup(json_t *rec, const char *key)
{
	char part[128];
	const char *dot;

	if (!*key)                       /* "": the record itself (arrays of strings) */
		return rec;
	while (rec && (dot = strchr(key, '.')) && (size_t)(dot - key) < sizeof(part)) {
		memcpy(part, key, (size_t)(dot - key));
		part[dot - key] = 0;
		rec = json_object_get(rec, part);
		key = dot + 1;
	}
	return rec ? json_object_get(rec, key) : NULL;
}

static void value_text(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else if (v && !json_is_null(v)) {
		char *t = json_dumps(v, JSON_COMPACT);

		snprintf(buf, len, "%s", t ? t : "?");
		free(t);
	} else
		snprintf(buf, len, "-");
}

static void print_fields(json_t *rec, const struct print_field *f)
{
	char buf[1024];

	for (; f->fmt; f++) {
		if (f->format)
			f->format(rec, f->key, buf, sizeof(buf));
		else
			value_text(f->key ? print_lookup(rec, f->key) : NULL, buf, sizeof(buf));
		printf(f->fmt, buf);
	}
}

void print_record(enum output_type t, json_t *rec, const struct print_field *fields)
{
	if (json_mode) {
		if (t & PRINT_JSON)
			print_json(NULL, rec);
	} else if (t & PRINT_FP) {
		print_fields(rec, fields);
	}
}

void print_stream_record(json_t *rec, const struct print_field *fields)
{
	if (json_mode || !fields) {
		json_dumpf(rec, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	} else {
		print_fields(rec, fields);
	}
	fflush(stdout);
}

void print_table(enum output_type t, json_t *rows, const char *header, const struct print_field *row)
{
	size_t i;
	json_t *r;

	if (json_mode) {
		if (!(t & PRINT_JSON))
			return;
		if (rows)
			print_json(NULL, rows);
		else
			attach(NULL, json_array());
		return;
	}
	if (!(t & PRINT_FP))
		return;
	if (header)
		fputs(header, stdout);
	json_array_foreach(rows, i, r)
		print_fields(r, row);
}

void print_fmt_pairs(json_t *rec, const char *key, char *buf, size_t len)
{
	size_t off = 0;
	const char *k;
	json_t *v;

	buf[0] = 0;
	json_object_foreach(print_lookup(rec, key), k, v) {
		char val[256];

		value_text(v, val, sizeof(val));
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", off ? "," : "", k, val);
	}
	if (!off)
		snprintf(buf, len, "-");
}

void print_fmt_us(json_t *rec, const char *key, char *buf, size_t len)
{
	json_t *v = print_lookup(rec, key);

	if (json_is_number(v))
		snprintf(buf, len, "%.1f", json_number_value(v) / 1e3);
	else
		snprintf(buf, len, "-");
}

void print_fmt_bytes(json_t *rec, const char *key, char *buf, size_t len)
{
	json_int_t n = json_integer_value(print_lookup(rec, key));

	if (n >= 1 << 20)
		snprintf(buf, len, "%.1f MiB", n / 1048576.0);
	else if (n >= 1 << 10)
		snprintf(buf, len, "%.1f KiB", n / 1024.0);
	else
		snprintf(buf, len, "%lld B", (long long)n);
}
