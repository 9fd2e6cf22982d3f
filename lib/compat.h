/* Can a checkpoint taken on one node be restored on another? Pure version logic, kept
 * apart so it is unit-tested: CRIU must be at least 4.2 everywhere, the destination's CRIU
 * at least as new as the source's (images are read forwards, not backwards), and its
 * kernel at least as new (TCP repair and other restored state need the same features). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define CRIU_MIN_MAJOR 4
#define CRIU_MIN_MINOR 2

/* "4.2.1" / "6.18.0-1-amd64" → major, minor; false when unparsable. */
bool version_parse(const char *s, int *major, int *minor);
/* Is this CRIU version recent enough? why gets the reason when not. */
bool criu_usable(const char *version, char *why, size_t len);
/* Source versions against destination versions; false with the reason. */
bool migration_compatible(const char *src_criu, const char *src_kernel, const char *dst_criu,
			  const char *dst_kernel, char *why, size_t len);
