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
	unsigned int max_locations;      /* entries of the location and ipcache maps (0: built in) */
};

struct dp_endpoint {
	struct ip_addr ip4, ip6;
	int host_ifindex;                /* host side of the veth */
	uint8_t mac[6];                  /* container side MAC */
	uint8_t host_mac[6];             /* host side MAC */
	uint32_t id;                     /* endpoint id (stable, cluster-wide) */
	uint32_t identity;               /* security identity of its labels */
};

struct dp_counters {
	uint64_t rx_packets, rx_bytes;   /* towards the endpoint */
	uint64_t tx_packets, tx_bytes;   /* from the endpoint */
};

/* Open: reuse pinned maps under pin_dir if present (agent restart), else create and pin.
 * Writes the node config into the config map. */
int datapath_open(struct datapath **dp, const struct dp_config *cfg);
/* Before loading an object whose maps are pinned: remove pins of maps whose definition
 * changed (an upgrade), so the object loads with them fresh instead of failing. */
struct bpf_object;
int bpf_pins_reconcile(struct bpf_object *obj);
/* Replaces any existing petrel filter atomically (BPF_TC_F_REPLACE), so traffic never stops. */
int datapath_attach_endpoint(struct datapath *dp, int host_ifindex);
int datapath_attach_underlay(struct datapath *dp, int ifindex);
int datapath_attach_overlay(struct datapath *dp, int ifindex);
/* IOAM on the underlay device, folded into the datapath's own programs: from_underlay
 * hands Hop-by-Hop packets to the program ingress_fd (transit/decap), the native path
 * hands a local endpoint's sampled packets to encap_fd; -1 turns a role off. */
int datapath_ioam_set(struct datapath *dp, int ingress_fd, int encap_fd);

int datapath_endpoint_upsert(struct datapath *dp, const struct dp_endpoint *ep);
int datapath_endpoint_delete(struct datapath *dp, const struct dp_endpoint *ep);

/* Location of a cluster prefix (a node's block, or a /32 /128 endpoint that wins over it). */
int datapath_location_upsert(struct datapath *dp, const struct cidr *prefix,
			     const struct ip_addr *node4, const struct ip_addr *node6);
/* flags: DP_LOC_HOST hands the prefix's packets to the node's stack (a migration's hold). */
#define DP_LOC_HOST 2
#define DP_LOC_FROZEN 4
int datapath_location_upsert_flags(struct datapath *dp, const struct cidr *prefix,
				   const struct ip_addr *node4, const struct ip_addr *node6,
				   unsigned int flags);
int datapath_location_delete(struct datapath *dp, const struct cidr *prefix);   /* 0 if absent */
/* Where address ip lives (longest prefix): the node's underlay IPv4 in *node4; -ENOENT. */
int datapath_location_lookup(struct datapath *dp, const struct ip_addr *ip, struct ip_addr *node4);
typedef int (*dp_location_cb)(const struct cidr *prefix, const struct ip_addr *node4, void *arg);
int datapath_location_foreach(struct datapath *dp, dp_location_cb cb, void *arg);

int datapath_endpoint_counters(struct datapath *dp, int host_ifindex, struct dp_counters *out);
/* Sum over CPUs of each drop reason; returns the number of reasons filled (<= n). */
int datapath_drop_counters(struct datapath *dp, uint64_t *counts, int n);
const char *datapath_drop_reason_name(int reason);   /* "no-endpoint", ... */
int datapath_drop_reason_count(void);

/* ipcache: address prefix → identity (endpoint /32 and /128, policy CIDRs). */
int datapath_ipcache_upsert(struct datapath *dp, const struct cidr *prefix, uint32_t identity);
int datapath_ipcache_delete(struct datapath *dp, const struct cidr *prefix);
typedef int (*dp_ipcache_cb)(const struct cidr *prefix, uint32_t identity, void *arg);
int datapath_ipcache_foreach(struct datapath *dp, dp_ipcache_cb cb, void *arg);

/* Compiled policy, as the datapath stores it. */
struct dp_policy_entry {
	uint32_t ep_id, identity;        /* identity 0: any peer */
	uint8_t dir, proto;              /* dir: 0 ingress, 1 egress; proto 0: any */
	uint16_t port;                   /* host order */
	uint8_t port_bits;               /* 0: any port */
	uint8_t verdict;                 /* 1 allow, 2 deny */
	uint16_t rule;
	uint32_t policy_id;
};
struct dp_enforce {
	uint32_t ep_id;
	bool ingress, egress;
};
/* Replace the whole policy state without a window that allows what both the old and the
 * new state deny: new entries and enforcement first, then stale entries, then stale
 * enforcement (which only ever widens access once nothing selects the endpoint). */
int datapath_policy_replace(struct datapath *dp, const struct dp_policy_entry *entries, size_t n,
			    const struct dp_enforce *enforce, size_t n_enforce);
/* Add entries (new peer identities' rows) without removing any. */
int datapath_policy_add(struct datapath *dp, const struct dp_policy_entry *entries, size_t n);
int datapath_policy_counters(struct datapath *dp, uint32_t policy_id, uint64_t *packets,
			     uint64_t *bytes);
/* Wait up to timeout_ms for flow events; cb gets each (a struct flow_event). */
typedef void (*dp_flow_cb)(const void *event, size_t len, void *arg);
int datapath_flows_poll(struct datapath *dp, int timeout_ms, dp_flow_cb cb, void *arg);
uint64_t datapath_flows_suppressed(struct datapath *dp);

/* Replies of a flow that came in through a port published on node4/node6, for an endpoint
 * that has migrated here (ports in host order). */
struct dp_return_flow {
	uint8_t proto;
	struct ip_addr ep, peer;
	uint16_t ep_port, peer_port;
	struct ip_addr node4, node6;
};
int datapath_return_flow_add(struct datapath *dp, const struct dp_return_flow *f);
int datapath_return_flows_clear(struct datapath *dp, const struct ip_addr *ep);
int datapath_return_flow_delete(struct datapath *dp, const struct dp_return_flow *f);
/* The return flows of endpoint address ep, or of every endpoint when ep is NULL. */
int datapath_return_flows_foreach(struct datapath *dp, const struct ip_addr *ep,
				  int (*cb)(const struct dp_return_flow *f, void *arg), void *arg);

/* Updates refused because a map was full, by map ("locations", "ipcache"): counted and
 * logged, never silent. */
uint64_t datapath_map_full(struct datapath *dp, const char *map);

void datapath_close(struct datapath *dp);   /* detaches nothing: the datapath keeps forwarding */
