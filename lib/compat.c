/* Version compatibility between migration source and destination (see compat.h). */
#include <stdio.h>
#include <string.h>
#include "compat.h"

bool version_parse(const char *s, int *major, int *minor)
{
	char tail;

	if (!s || sscanf(s, "%d.%d%c", major, minor, &tail) < 2 || *major < 0 || *minor < 0)
		return false;
	return true;
}

static int cmp(int amaj, int amin, int bmaj, int bmin)
{
	return amaj != bmaj ? amaj - bmaj : amin - bmin;
}

bool criu_usable(const char *version, char *why, size_t len)
{
	int maj, min;

	if (!version || !*version) {
		snprintf(why, len, "no CRIU");
		return false;
	}
	if (!version_parse(version, &maj, &min)) {
		snprintf(why, len, "unrecognised CRIU version '%s'", version);
		return false;
	}
	if (cmp(maj, min, CRIU_MIN_MAJOR, CRIU_MIN_MINOR) < 0) {
		snprintf(why, len, "CRIU %s is older than %d.%d", version, CRIU_MIN_MAJOR, CRIU_MIN_MINOR);
		return false;
	}
	return true;
}

bool migration_compatible(const char *src_criu, const char *src_kernel, const char *dst_criu,
			  const char *dst_kernel, char *why, size_t len)
{
	int smaj, smin, dmaj, dmin;

	if (!criu_usable(dst_criu, why, len))
		return false;
	if (!version_parse(src_criu, &smaj, &smin) || !version_parse(dst_criu, &dmaj, &dmin) ||
	    cmp(dmaj, dmin, smaj, smin) < 0) {
		snprintf(why, len, "CRIU %s there is older than %s here: it cannot read these images",
			 dst_criu, src_criu ? src_criu : "?");
		return false;
	}
	if (!version_parse(src_kernel, &smaj, &smin) || !version_parse(dst_kernel, &dmaj, &dmin)) {
		snprintf(why, len, "unrecognised kernel version '%s'", dst_kernel ? dst_kernel : "");
		return false;
	}
	if (cmp(dmaj, dmin, smaj, smin) < 0) {
		snprintf(why, len, "kernel %s there is older than %s here (restored TCP state and "
			 "other features may be missing)", dst_kernel, src_kernel);
		return false;
	}
	return true;
}
