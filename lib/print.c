/* The output layer: text through printf formats, or one JSON document built with jansson
 * from the same calls (after iproute2's json_print). */
#include <stdio.h>
#include <stdlib.h>
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
