/* Pure parsers for command-line values, shared by the CLI and unit-tested on their own. */
#pragma once
#include <stddef.h>
#include "endpoint.h"

/* "HOSTPORT:PORT[/tcp|udp]" → publish entry. -EINVAL with a message in err. */
int args_publish(const char *s, struct ep_publish *out, char *err, size_t errlen);
/* "key=value" → label. */
int args_label(const char *s, struct ep_label *out, char *err, size_t errlen);
/* Decimal integer within [lo, hi]. */
int args_uint(const char *s, long lo, long hi, long *out);
