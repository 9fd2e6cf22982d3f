/* CHECK's look inside the container: the interface, its addresses and its routes as the
 * kernel reports them in another network namespace (libnl-route-3). */
#pragma once
#include "cni.h"

/* Fill st from the namespace at netns_path; -errno when it cannot be entered or asked
 * (a missing interface is not an error: st->link_found stays false). */
int cni_ns_query(const char *netns_path, const char *ifname, struct cni_ns_state *st);
