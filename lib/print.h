/* One output path for humans and machines, after iproute2's json_print: every value is
 * printed through these calls and lands either as text or, with -j, in one JSON document. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

enum output_type { PRINT_FP = 1, PRINT_JSON = 2, PRINT_ANY = PRINT_FP | PRINT_JSON };

void print_init(bool json);
bool is_json_context(void);
/* Emit the JSON document built so far to stdout (no-op in text mode). */
void print_flush(void);

void open_json_object(const char *key);          /* key NULL inside arrays or at top level */
void close_json_object(void);
void open_json_array(enum output_type t, const char *key);
void close_json_array(enum output_type t, const char *text_end);

/* fmt is used in text mode only and receives the value. */
void print_string(enum output_type t, const char *key, const char *fmt, const char *value);
void print_uint(enum output_type t, const char *key, const char *fmt, uint64_t value);
void print_int(enum output_type t, const char *key, const char *fmt, int64_t value);
void print_float(enum output_type t, const char *key, const char *fmt, double value);
void print_bool(enum output_type t, const char *key, const char *fmt, bool value);
/* Attach a ready JSON value (borrowed) under key in JSON mode; ignored in text mode. */
void print_json(const char *key, json_t *value);
void print_nl(void);                             /* newline in text mode */
