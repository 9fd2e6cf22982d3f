/* User-space side of the eBPF datapath: loads the TC programs (libbpf skeleton), pins the
 * maps that must survive an agent restart, attaches programs, and edits the maps. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include "cidr.h"
#include "config.h"

struct datapath;

struct dp_config {
	enum routing_mode mode;
	const char *pin_dir;             /* e.g. /sys/fs/bpf/petrel/node1; bpffs mounted if needed */
	struct cidr cluster4, cluster6;
	struct ip_addr self4, self6;     /* this node's underlay addresses */
	int underlay_ifindex;
	int vxlan_ifindex;               /* 0 in native mode */
};

struct dp_endpoint {
	struct ip_addr ip4, ip6;
	int host_ifindex;                /* host side of the veth */
	uint8_t mac[6];                  /* container side MAC */
	uint8_t host_mac[6];             /* host side MAC */
	uint32_t id;                     /* endpoint id (stable, cluster-wide) */
};

struct dp_counters {
	uint64_t rx_packets, rx_bytes;   /* towards the endpoint */
	uint64_t tx_packets, tx_bytes;   /* from the endpoint */
};

/* Open: reuse pinned maps under pin_dir if present (agent restart), else create and pin.
 * Writes the node config into the config map. */
int datapath_open(struct datapath **dp, const struct dp_config *cfg);
/* Replaces any existing petrel filter atomically (BPF_TC_F_REPLACE), so traffic never stops. */
int datapath_attach_endpoint(struct datapath *dp, int host_ifindex);
int datapath_attach_underlay(struct datapath *dp, int ifindex);
int datapath_attach_overlay(struct datapath *dp, int ifindex);

int datapath_endpoint_upsert(struct datapath *dp, const struct dp_endpoint *ep);
int datapath_endpoint_delete(struct datapath *dp, const struct dp_endpoint *ep);

/* Location of a cluster prefix (a node's block, or a /32 /128 endpoint that wins over it). */
int datapath_location_upsert(struct datapath *dp, const struct cidr *prefix,
			     const struct ip_addr *node4, const struct ip_addr *node6);
int datapath_location_delete(struct datapath *dp, const struct cidr *prefix);   /* 0 if absent */
typedef int (*dp_location_cb)(const struct cidr *prefix, const struct ip_addr *node4, void *arg);
int datapath_location_foreach(struct datapath *dp, dp_location_cb cb, void *arg);

int datapath_endpoint_counters(struct datapath *dp, int host_ifindex, struct dp_counters *out);
/* Sum over CPUs of each drop reason; returns the number of reasons filled (<= n). */
int datapath_drop_counters(struct datapath *dp, uint64_t *counts, int n);
const char *datapath_drop_reason_name(int reason);   /* "no-endpoint", ... */
int datapath_drop_reason_count(void);

void datapath_close(struct datapath *dp);   /* detaches nothing: the datapath keeps forwarding */
