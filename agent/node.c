/* Node bring-up: state store, address block claim, node registry (with a liveness lease),
 * underlay sysctls, the VXLAN device, nftables and the eBPF datapath. */
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "cluster_cache.h"
#include "log.h"
#include "netlink.h"
#include "nft.h"
#include "util.h"

/* A password from a file only root can read (a trailing newline is not part of it). */
static int read_password(const char *path, char *buf, size_t len, struct api_error *e)
{
	struct stat st;
	char *text = NULL;
	size_t n;
	int ret;

	if (stat(path, &st))
		return api_fail(e, 500, NULL, "cannot read the etcd password file %s: %s", path,
				strerror(errno));
	if (st.st_mode & 077)
		return api_fail(e, 500, "chmod 600 it", "the etcd password file %s is readable by "
				"others (mode %03o)", path, st.st_mode & 0777);
	if ((ret = read_file(path, &text)))
		return api_fail(e, 500, NULL, "cannot read the etcd password file %s: %s", path,
				strerror(-ret));
	n = strcspn(text, "\r\n");
	if (!n || n >= len) {
		free(text);
		return api_fail(e, 500, NULL, "the etcd password file %s holds no password of 1 to %zu "
				"characters", path, len - 1);
	}
	memcpy(buf, text, n);
	buf[n] = 0;
	explicit_bzero(text, strlen(text));
	free(text);
	return 0;
}

static int open_etcd(struct agent *a, struct store **s, const char *user, const char *password_file,
		     struct api_error *e)
{
	struct store_tls tls = { 0 };
	int ret;

	snprintf(tls.ca, sizeof(tls.ca), "%s", a->cfg.etcd_ca);
	snprintf(tls.cert, sizeof(tls.cert), "%s", a->cfg.etcd_cert);
	snprintf(tls.key, sizeof(tls.key), "%s", a->cfg.etcd_key);
	if (*user) {
		snprintf(tls.user, sizeof(tls.user), "%s", user);
		if (read_password(password_file, tls.password, sizeof(tls.password), e))
			return -1;
	}
	ret = store_open_etcd_tls(s, a->cfg.etcd, &tls);
	explicit_bzero(tls.password, sizeof(tls.password));
	if (ret == -EACCES)
		return api_fail(e, 503, "check the user and its password file, and that etcd has the user",
				"etcd at %s refuses user '%s'", a->cfg.etcd, user);
	if (ret)
		return api_fail(e, 503, "is etcd running and reachable from this node's namespace?",
				"cannot reach etcd at %s: %s", a->cfg.etcd, strerror(-ret));
	return 0;
}

static int open_store(struct agent *a, struct api_error *e)
{
	char path[512];
	int ret;

	if (*a->cfg.etcd) {
		if (open_etcd(a, &a->store, a->cfg.etcd_user, a->cfg.etcd_password_file, e))
			return -1;
		a->operator_store = a->store;
		if (*a->cfg.etcd_operator_user &&
		    open_etcd(a, &a->operator_store, a->cfg.etcd_operator_user,
			      a->cfg.etcd_operator_password_file, e))
			return -1;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/state.db", a->cfg.state_dir);
	ret = store_open_sqlite(&a->store, path);
	if (ret)
		return api_fail(e, 500, NULL, "cannot open state database %s: %s", path, strerror(-ret));
	a->operator_store = a->store;
	return 0;
}

/* Find this node's block, or claim the lowest free one atomically (store_create). */
static int claim_block(struct agent *a, struct api_error *e)
{
	uint64_t count = ipam_block_count(&a->cfg.pools);
	struct store_kv *kvs = NULL;
	size_t n = 0;
	uint8_t *taken;
	char key[128], b4[CIDR_STRLEN];
	int ret;

	ret = store_list(a->store, KEY_BLOCKS, &kvs, &n, NULL);
	if (ret)
		return api_fail(e, 503, NULL, "cannot read address blocks: %s", strerror(-ret));
	if (count > 1 << 20)
		count = 1 << 20;
	taken = calloc(count, 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t idx = strtoull(kvs[i].key + strlen(KEY_BLOCKS), NULL, 10);

		if (!strcmp(kvs[i].value, a->cfg.node)) {
			a->block_index = idx;
			ret = 1;
		} else if (idx < count) {
			taken[idx] = 1;
		}
	}
	store_kvs_free(kvs, n);
	for (uint64_t i = 0; ret != 1 && i < count; i++) {
		if (taken[i])
			continue;
		snprintf(key, sizeof(key), KEY_BLOCKS "%06" PRIu64, i);
		ret = store_create(a->store, key, a->cfg.node, 0);
		if (ret == 0) {
			a->block_index = i;
			ret = 1;
		} else if (ret != -EEXIST) {
			free(taken);
			return api_fail(e, 503, NULL, "cannot claim an address block: %s", strerror(-ret));
		}
	}
	free(taken);
	if (ret != 1)
		return api_fail(e, 507, "use a larger cluster-ipv4 / cluster-ipv6 or a longer block length",
				"cluster CIDR %s has no free /%u block left for node %s",
				cidr_str(&a->cfg.pools.cluster4, b4), a->cfg.pools.block4_len, a->cfg.node);
	ipam_block(&a->cfg.pools, a->block_index, &a->block4, &a->block6);
	return 0;
}

static int register_node(struct agent *a, struct api_error *e)
{
	char key[128], u4[IP_STRLEN], u6[IP_STRLEN], b4[CIDR_STRLEN], b6[CIDR_STRLEN];
	char *text;
	json_t *j;
	int ret;

	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "name", a->cfg.node,
		      "ipv4", ip_str(&a->cfg.underlay4, u4),
		      "ipv6", a->cfg.underlay6.family ? ip_str(&a->cfg.underlay6, u6) : "",
		      "block", (json_int_t)a->block_index,
		      "block4", cidr_str(&a->block4, b4), "block6", cidr_str(&a->block6, b6),
		      "mode", routing_mode_str(a->cfg.mode));
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	snprintf(key, sizeof(key), KEY_NODES "%s", a->cfg.node);
	ret = store_put(a->store, key, text, 0);
	free(text);
	if (ret)
		return api_fail(e, 503, NULL, "cannot register node: %s", strerror(-ret));
	/* Liveness is separate from registration: an agent restart must not make other
	 * nodes forget where this node's endpoints are. */
	ret = store_lease_grant(a->store, NODE_LEASE_TTL, &a->lease);
	if (!ret) {
		snprintf(key, sizeof(key), KEY_ALIVE "%s", a->cfg.node);
		ret = store_put(a->store, key, "1", a->lease);
	}
	if (ret)
		return api_fail(e, 503, NULL, "cannot publish node liveness: %s", strerror(-ret));
	return 0;
}

static int setup_underlay(struct agent *a, struct api_error *e)
{
	static const char *sysctls[][2] = {
		{ "net.ipv4.ip_forward", "1" },
		{ "net.ipv6.conf.all.forwarding", "1" },
		{ "net.ipv4.conf.all.rp_filter", "0" },
		{ "net.ipv4.conf.default.rp_filter", "0" },
	};
	int ret;

	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
		ret = sysctl_write(sysctls[i][0], sysctls[i][1]);
		if (ret)
			return api_fail(e, 500, NULL, "sysctl %s: %s", sysctls[i][0], strerror(-ret));
	}
	if (nl_link_index(a->cfg.underlay_dev) < 0)
		return api_fail(e, 400, "set underlay-device to an existing interface",
				"underlay device '%s' does not exist in this network namespace",
				a->cfg.underlay_dev);
	if (a->cfg.mode == MODE_VXLAN && nl_link_index(VXLAN_DEV) < 0) {
		ret = nl_vxlan_create(VXLAN_DEV, VXLAN_PORT, a->cfg.underlay_dev,
				      a->cfg.underlay_mtu);
		if (!ret)
			ret = nl_link_set_up(VXLAN_DEV);
		if (ret)
			return api_fail(e, 500, NULL, "cannot create VXLAN device %s: %s", VXLAN_DEV,
					strerror(-ret));
	}
	ret = nft_init(&a->cfg.pools.cluster4, &a->cfg.pools.cluster6, a->cfg.underlay_dev,
		       &a->cfg.underlay4, a->cfg.underlay6.family ? &a->cfg.underlay6 : NULL);
	if (ret)
		return api_fail(e, 500, NULL, "cannot install nftables rules: %s", strerror(-ret));
	if (a->cfg.backend == BACKEND_IPTABLES && (ret = classic_setup(a)))
		return api_fail(e, 500, "is iptables installed?", "cannot set up the iptables baseline: %s",
				strerror(-ret));
	return 0;
}

static int setup_datapath(struct agent *a, struct api_error *e)
{
	struct dp_config dc = {
		.mode = a->cfg.mode,
		.pin_dir = a->cfg.bpf_dir,
		.cluster4 = a->cfg.pools.cluster4,
		.cluster6 = a->cfg.pools.cluster6,
		.self4 = a->cfg.underlay4,
		.self6 = a->cfg.underlay6,
		.underlay_ifindex = nl_link_index(a->cfg.underlay_dev),
		.vxlan_ifindex = a->cfg.mode == MODE_VXLAN ? nl_link_index(VXLAN_DEV) : 0,
		/* Two entries (IPv4, IPv6) of each map per endpoint; blocks and CIDRs are few. */
		.max_locations = (unsigned int)a->cfg.max_cluster_endpoints,
	};
	int ret;

	ret = datapath_open(&a->dp, &dc);
	if (ret)
		return api_fail(e, 500, "run with -v to see the verifier log",
				"cannot load the eBPF datapath: %s", strerror(-ret));
	if (a->cfg.backend == BACKEND_IPTABLES)
		ret = 0;   /* the classic baseline forwards with the kernel alone */
	else if (a->cfg.mode == MODE_VXLAN)
		ret = datapath_attach_overlay(a->dp, dc.vxlan_ifindex);
	else
		ret = datapath_attach_underlay(a->dp, dc.underlay_ifindex);
	if (ret)
		return api_fail(e, 500, NULL, "cannot attach the eBPF datapath: %s", strerror(-ret));
	return 0;
}

int node_start(struct agent *a, struct api_error *e)
{
	char b4[CIDR_STRLEN], b6[CIDR_STRLEN];
	int ret;

	ret = mkdir_p(a->cfg.state_dir, 0700);
	/* 0700 even when it already existed: it holds keys, bundles and checkpoints. */
	if (!ret && chmod(a->cfg.state_dir, 0700))
		ret = -errno;
	if (ret)
		return api_fail(e, 500, NULL, "cannot create state directory %s: %s",
				a->cfg.state_dir, strerror(-ret));
	if (open_store(a, e) || claim_block(a, e) || register_node(a, e) ||
	    setup_underlay(a, e) || setup_datapath(a, e))
		return -1;
	log_info("node %s owns blocks %s and %s", a->cfg.node, cidr_str(&a->block4, b4),
		 cidr_str(&a->block6, b6));
	/* Subscribers first: the first load hands them every record as an add. */
	if ((ret = cluster_cache_open(a)) || (ret = locations_subscribe(a)) ||
	    (ret = policy_subscribe(a)) || (ret = latency_subscribe(a)))
		return api_fail(e, 500, NULL, "cannot set up the cluster cache: %s", strerror(-ret));
	ret = cluster_load(a);
	if (ret)
		log_warn("initial load of cluster state failed: %s", strerror(-ret));
	else
		locations_sweep(a);
	pthread_mutex_lock(&a->lock);
	endpoints_restore(a);
	containers_restore(a);
	migrate_recover(a);
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void node_stop(struct agent *a)
{
	if (a->dp)
		datapath_close(a->dp);
	a->dp = NULL;
	if (a->operator_store && a->operator_store != a->store)
		store_close(a->operator_store);
	a->operator_store = NULL;
	if (a->store)
		store_close(a->store);
	a->store = NULL;
	cluster_cache_close(a);
}

struct node_list {
	struct agent *a;
	json_t *arr;
};

static int node_json(const struct cc_entry *e, void *arg)
{
	struct node_list *l = arg;
	json_t *node = json_loads(e->value, 0, NULL);

	if (!node)
		return 0;
	json_object_set_new(node, "alive", json_boolean(cc_find(l->a->cache, CC_ALIVE, e->name)));
	json_array_append_new(l->arr, node);
	return 0;
}

static int cmp_node(const void *x, const void *y)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)x, "name")) ?: "",
		      json_string_value(json_object_get(*(json_t *const *)y, "name")) ?: "");
}

/* Every node with its liveness, sorted by name, from the cache (no store round trip). */
static json_t *nodes_json(struct agent *a)
{
	struct node_list l = { a, json_array() };
	size_t n;

	cluster_foreach(a, CC_NODE, node_json, &l);
	n = json_array_size(l.arr);
	if (n > 1) {
		json_t **v = calloc(n, sizeof(*v));

		for (size_t i = 0; v && i < n; i++)
			v[i] = json_incref(json_array_get(l.arr, i));
		if (v) {
			qsort(v, n, sizeof(*v), cmp_node);
			json_array_clear(l.arr);
			for (size_t i = 0; i < n; i++)
				json_array_append_new(l.arr, v[i]);
		}
		free(v);
	}
	return l.arr;
}

struct local_count {
	const char *node;
	size_t n;
};

static int count_local(const struct cc_entry *e, void *arg)
{
	struct local_count *c = arg;

	c->n += !strcmp(e->u.ep.node, c->node);
	return 0;
}

int node_status_json(struct agent *a, json_t **out)
{
	char u4[IP_STRLEN], u6[IP_STRLEN], b4[CIDR_STRLEN], b6[CIDR_STRLEN];
	char c4[CIDR_STRLEN], c6[CIDR_STRLEN];
	struct local_count local = { a->cfg.node, 0 };
	uint64_t drops[64] = { 0 };
	json_t *jd = json_object();
	int nd;

	cluster_foreach(a, CC_ENDPOINT, count_local, &local);
	nd = datapath_drop_counters(a->dp, drops, 64);
	for (int i = 0; i < nd; i++)
		json_object_set_new(jd, datapath_drop_reason_name(i), json_integer((json_int_t)drops[i]));
	*out = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s},"
			 " s:I, s:I, s:o, s:o}",
			 "name", a->cfg.node, "mode", routing_mode_str(a->cfg.mode),
			 "policy_backend", a->cfg.backend == BACKEND_IPTABLES ? "iptables" : "ebpf",
			 "store", store_backend(a->store),
			 "underlay", "device", a->cfg.underlay_dev,
			 "ipv4", ip_str(&a->cfg.underlay4, u4),
			 "ipv6", a->cfg.underlay6.family ? ip_str(&a->cfg.underlay6, u6) : "",
			 "block", "ipv4", cidr_str(&a->block4, b4), "ipv6", cidr_str(&a->block6, b6),
			 "cluster", "ipv4", cidr_str(&a->cfg.pools.cluster4, c4),
			 "ipv6", cidr_str(&a->cfg.pools.cluster6, c6),
			 "endpoints", (json_int_t)local.n,
			 "uptime_s", (json_int_t)(time(NULL) - a->started),
			 "nodes", nodes_json(a), "drops", jd);
	return *out ? 0 : -ENOMEM;
}
