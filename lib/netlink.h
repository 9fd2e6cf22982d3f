/* Narrow rtnetlink interface (libnl-route) for links, addresses, routes and neighbours.
 * Every call acts on the calling thread's current network namespace. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include <netinet/in.h>
#include "cidr.h"

#define NL_MAC_LEN 6

/* veth pair NAME <-> PEER; PEER is moved into the netns open on peer_netns_fd (-1: stay). */
int nl_veth_create(const char *name, const char *peer, int peer_netns_fd, int mtu);
/* Linux bridge. */
int nl_bridge_create(const char *name);
int nl_link_set_master(const char *name, const char *master);
/* collect_md ("external") VXLAN device on UDP port dstport, bound to underlay dev. */
int nl_vxlan_create(const char *name, uint16_t dstport, const char *underlay_dev, int mtu);
int nl_link_delete(const char *name);                /* 0 if already gone */
int nl_link_set_up(const char *name);
int nl_link_rename(const char *name, const char *newname);
int nl_link_set_mac(const char *name, const uint8_t mac[NL_MAC_LEN]);
int nl_link_get_mac(const char *name, uint8_t mac[NL_MAC_LEN]);
int nl_link_set_mtu(const char *name, int mtu);
int nl_link_index(const char *name);                 /* ifindex or -ENODEV */
int nl_link_move_netns(const char *name, int netns_fd);
/* Add PREFIX (address + prefix length) to dev; nodad for IPv6. -EEXIST tolerated by callers. */
int nl_addr_add(const char *dev, const struct cidr *addr);
/* Route DST via GW (NULL: on-link, scope link) out of DEV (NULL: resolved by gw). */
int nl_route_add(const struct cidr *dst, const struct ip_addr *gw, const char *dev, bool onlink);
int nl_route_del(const struct cidr *dst, const char *dev);
/* Permanent neighbour entry IP -> MAC on DEV. */
int nl_neigh_add_permanent(const char *dev, const struct ip_addr *ip, const uint8_t mac[NL_MAC_LEN]);
/* Write a sysctl under /proc/sys (path with dots or slashes), in the current netns. */
int sysctl_write(const char *path, const char *value);
/* Queries, for verification (CNI CHECK): 1 if present, 0 if not, -errno on failure. */
int nl_addr_present(const char *dev, const struct cidr *addr);
int nl_route_present(const struct cidr *dst, const struct ip_addr *gw, const char *dev);
