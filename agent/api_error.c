/* The one error shape every agent module reports to the API layer. */
#include <stdarg.h>
#include <stdio.h>
#include "agent.h"

int api_fail(struct api_error *e, int status, const char *hint, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	snprintf(e->hint, sizeof(e->hint), "%s", hint ? hint : "");
	return -1;
}
