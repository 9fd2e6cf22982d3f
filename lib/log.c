/* Leveled logging with timestamps, for petreld's log file. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "log.h"

static enum log_level current = LOG_INFO;

void log_set_level(enum log_level l) { current = l; }
enum log_level log_get_level(void) { return current; }

void log_msg(enum log_level l, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (l > current)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s: ", when, ts.tv_nsec / 1000000, names[l]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
