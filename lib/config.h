/* petreld configuration: a `key = value` file (comments with #), overridable by flags.
 * Parsing is pure: text in, struct out, with a message naming line and key on error. */
#pragma once
#include <stdbool.h>
#include "cidr.h"
#include "ipam.h"

enum routing_mode { MODE_VXLAN = 0, MODE_NATIVE = 1 };
/* ebpf: petrel's datapath. iptables: the classic setup kept as a benchmark baseline,
 * endpoints on a Linux bridge, kernel routing, policies as iptables rules. */
enum policy_backend { BACKEND_EBPF = 0, BACKEND_IPTABLES = 1 };

enum {
	HAS_NODE       = 1 << 0,
	HAS_UNDERLAY   = 1 << 1,
	HAS_UNDER4     = 1 << 2,
	HAS_UNDER6     = 1 << 3,
	HAS_CLUSTER4   = 1 << 4,
	HAS_CLUSTER6   = 1 << 5,
	HAS_MODE       = 1 << 6,
	HAS_STATE_DIR  = 1 << 7,
	HAS_SOCKET     = 1 << 8,
	HAS_ETCD       = 1 << 9,
	HAS_BPF_DIR    = 1 << 10,
	HAS_NETNS_PFX  = 1 << 11,
	HAS_BLOCK4     = 1 << 12,
	HAS_BLOCK6     = 1 << 13,
	HAS_MTU        = 1 << 14,
	HAS_BACKEND    = 1 << 15,
	HAS_TLS        = 1 << 16,
	HAS_PEER_PORT  = 1 << 17,
	HAS_CRIU       = 1 << 18,
	HAS_IOAM_ID    = 1 << 19,
};

#define CONFIG_STR 256

struct petreld_config {
	unsigned int flags;                 /* HAS_* bits for what was set explicitly */
	char node[64];                      /* node            */
	char underlay_dev[16];              /* underlay-device */
	struct ip_addr underlay4;           /* underlay-ipv4   */
	struct ip_addr underlay6;           /* underlay-ipv6   */
	struct ipam_pools pools;            /* cluster-ipv4, cluster-ipv6, block-ipv4-len, block-ipv6-len */
	enum routing_mode mode;             /* mode = vxlan|native */
	char state_dir[CONFIG_STR];         /* state-dir       */
	char socket[CONFIG_STR];            /* socket          */
	char etcd[CONFIG_STR];              /* etcd = http[s]://h:p[,...] (empty: single node) */
	char etcd_ca[CONFIG_STR];           /* etcd-ca: the CA that signs etcd's server certificates */
	char etcd_cert[CONFIG_STR];         /* etcd-cert, etcd-key: this node's etcd client certificate */
	char etcd_key[CONFIG_STR];
	/* etcd-user, etcd-password-file: the etcd user whose role says what this node may
	 * write (its own keys); etcd-operator-*: an operator's, for policies and IOAM
	 * configuration, on the nodes that take an operator's writes. Empty: none. */
	char etcd_user[64], etcd_password_file[CONFIG_STR];
	char etcd_operator_user[64], etcd_operator_password_file[CONFIG_STR];
	char bpf_dir[CONFIG_STR];           /* bpf-pin-dir     */
	char netns_prefix[64];              /* netns-prefix: endpoint netns = prefix + endpoint name */
	int underlay_mtu;                   /* underlay-mtu (default 1500) */
	enum policy_backend backend;        /* policy-backend = ebpf|iptables */
	/* Agent-to-agent migration channel: mutual TLS on the underlay address. */
	char tls_ca[CONFIG_STR];            /* tls-ca: the cluster CA that signs every node */
	char tls_cert[CONFIG_STR];          /* tls-cert: this node's certificate (CN = node) */
	char tls_key[CONFIG_STR];           /* tls-key */
	int peer_port;                      /* peer-port (default 4791) */
	char criu[CONFIG_STR];              /* criu: path of a CRIU >= 4.2 (empty: search) */
	char storage_root[CONFIG_STR];      /* containers-storage: Podman's --root (empty: its default) */
	char storage_runroot[CONFIG_STR];   /* containers-runroot: Podman's --runroot */
	char containers_conf[CONFIG_STR];   /* containers-conf: Podman's containers.conf (networks) */
	uint32_t ioam_node_id;              /* ioam-node-id (24 bits; default 0xffffff, unknown) */
	uint64_t ioam_node_id_wide;         /* ioam-node-id-wide (56 bits; default: unknown) */
	int ioam_headroom;                  /* ioam-headroom: octets endpoints' MTU leaves for IOAM */
	int ioam_export_rate;               /* ioam-export-rate: traces a second and CPU (default 1000) */
	int conntrack_buckets;              /* conntrack-buckets: host conntrack hash size (0: leave) */
	int max_cluster_endpoints;          /* max-cluster-endpoints: location/ipcache capacity (262144) */
};

/* Defaults: cluster 10.244.0.0/16 + fd00:244::/48, blocks /24 + /64, vxlan, state /var/lib/petrel,
 * socket /run/petrel/petreld.sock, bpf /sys/fs/bpf/petrel/<node>, netns prefix "petrel-", mtu 1500. */
void config_defaults(struct petreld_config *c);
/* Parse text (whole file contents) into c, on top of what is already there.
 * On error returns -EINVAL and writes "line N: key 'k': reason" into err. */
int config_parse(struct petreld_config *c, const char *text, char *err, size_t errlen);
/* Apply one setting by key, as used by the file parser and by --key=value flags. */
int config_set(struct petreld_config *c, const char *key, const char *value, char *err, size_t errlen);
/* Cross-field checks (node name set and valid, underlay device and IPv4 set, pools valid,
 * underlay not inside cluster CIDRs, ...). Fills derived defaults (bpf dir from node). */
int config_validate(struct petreld_config *c, char *err, size_t errlen);
const char *routing_mode_str(enum routing_mode m);
/* Names: [a-z0-9][a-z0-9-]{0,62}; used for nodes, endpoints, labs. */
bool name_valid(const char *s);
