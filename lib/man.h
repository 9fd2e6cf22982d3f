/* Manual pages made from a program's own --help text, so the two never drift: the text
 * goes into the page as it is, under the usual man(7) header. */
#pragma once
#include <stdio.h>

/* NAME(SECTION) with its one-line summary, and body (the --help text) verbatim. */
void man_page(FILE *f, const char *name, int section, const char *summary, const char *body);
/* The same, for a body that comes in pieces: man_begin, then man_text for each, man_end. */
void man_begin(FILE *f, const char *name, int section, const char *summary);
void man_text(FILE *f, const char *text);
void man_section(FILE *f, const char *title);
void man_end(FILE *f);
