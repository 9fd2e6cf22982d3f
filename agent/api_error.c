/* The one error shape every agent module reports to the API layer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

int api_operator_write_fail(struct api_error *e, int ret, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ret == -EACCES)
		return api_fail(e, 403, "the cluster store lets an operator's etcd user write this, not a "
				"node's: configure etcd-operator-user and etcd-operator-password-file, or "
				"write through a node that has them", "%s: the cluster store refused this "
				"node's user", what);
	return api_fail(e, 503, STORE_HINT(ret), "%s: %s", what, strerror(-ret));
}
