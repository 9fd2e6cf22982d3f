/* One output path for humans and machines, after iproute2's json_print: every value is
 * printed through these calls and lands either as text or, with -j, in one JSON document. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
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

/* Records from the agent. A field shows one value of a record in text: the value at key
 * ("a.b" reaches into an object; strings as they are, integers in decimal, true/false,
 * "-" when absent) or what format makes of it, through fmt with one %s. With -j the
 * record itself is printed instead, so the text can show nothing the JSON lacks, and a
 * field naming a key the agent does not send shows "-" in text at once. */
struct print_field {
	const char *key;
	const char *fmt;
	void (*format)(json_t *rec, const char *key, char *buf, size_t len);
};

#define PF(k, f)          { .key = (k), .fmt = (f) }
#define PF_FN(k, f, fn)   { .key = (k), .fmt = (f), .format = (fn) }
#define PF_END            { .fmt = NULL }

/* PRINT_ANY: the record (JSON) or its fields (text); PRINT_FP: the fields only, for a part
 * of a record whose JSON is already out. fields ends with PF_END. */
void print_record(enum output_type t, json_t *rec, const struct print_field *fields);
/* An array of records: the array (JSON), or header (text, may be NULL) and a line of row
 * fields per record. NULL rows print as an empty array. */
void print_table(enum output_type t, json_t *rows, const char *header, const struct print_field *row);
/* One record of a stream (logs, flows, traces), out at once: a compact JSON line with -j,
 * or its fields in text (fields NULL: the JSON line in text too). */
void print_stream_record(json_t *rec, const struct print_field *fields);
/* The value at key ("a.b") of rec ("" is rec itself), or NULL. */
json_t *print_lookup(json_t *rec, const char *key);
/* Field formats shared by commands: an object's members as k=v,k=v ("-" when empty); a
 * count of nanoseconds in microseconds with one decimal; bytes in B/KiB/MiB. */
void print_fmt_pairs(json_t *rec, const char *key, char *buf, size_t len);
void print_fmt_us(json_t *rec, const char *key, char *buf, size_t len);
void print_fmt_bytes(json_t *rec, const char *key, char *buf, size_t len);
