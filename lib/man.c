/* troff for man(7) from plain text (see man.h). */
#include <stdbool.h>
#include <string.h>
#include "man.h"

void man_begin(FILE *f, const char *name, int section, const char *summary)
{
	char upper[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	upper[i] = 0;
	fprintf(f, ".TH %s %d \"\" petrel \"petrel manual\"\n.SH NAME\n%s \\- %s\n", upper, section,
		name, summary);
}

void man_section(FILE *f, const char *title)
{
	fprintf(f, ".SH %s\n", title);
}

/* Verbatim (no fill, no adjustment): backslashes escaped, and a line that would start
 * with a request character made plain text. */
void man_text(FILE *f, const char *text)
{
	bool bol = true;

	fputs(".nf\n", f);
	for (const char *p = text; *p; p++) {
		if (bol && (*p == '.' || *p == '\''))
			fputs("\\&", f);
		if (*p == '\\')
			fputs("\\e", f);
		else
			fputc(*p, f);
		bol = *p == '\n';
	}
	if (!bol)
		fputc('\n', f);
	fputs(".fi\n", f);
}

void man_end(FILE *f)
{
	fflush(f);
}

void man_page(FILE *f, const char *name, int section, const char *summary, const char *body)
{
	man_begin(f, name, section, summary);
	man_section(f, "DESCRIPTION");
	man_text(f, body);
	man_end(f);
}
