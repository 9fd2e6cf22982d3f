/* Security identities: a set of labels maps to one numeric identity, shared cluster-wide.
 * This part is pure: reserved numbers and the canonical form of a label set. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "endpoint.h"

enum {
	IDENTITY_ANY   = 0,     /* wildcard in policy entries, never assigned */
	IDENTITY_HOST  = 1,     /* the node itself */
	IDENTITY_WORLD = 2,     /* anything outside the cluster */
	IDENTITY_FIRST = 256,   /* first identity allocated for label sets (fits the 24-bit VNI) */
	/* Node-local identities for the CIDRs policies name: above every label-set identity,
	 * since they never travel in a tunnel key. */
	IDENTITY_FIRST_CIDR = 1 << 24,
	IDENTITY_MAX_CIDRS = 1 << 20,
};

/* "k1=v1,k2=v2" with keys sorted; the empty set is "". -ENOSPC if it does not fit. */
int identity_canonical(const struct ep_label *labels, int n, char *buf, size_t len);
/* Parse the canonical form back; -EINVAL on junk. */
int identity_parse(const char *canonical, struct ep_label *labels, int max, int *n);
const char *identity_reserved_name(uint32_t id);   /* "host", "world", or NULL */
