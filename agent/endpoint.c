/* Endpoint lifecycle on this node: address allocation, netns + veth plumbing, datapath
 * and published ports. Creation is all-or-nothing: every step has its undo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "agent.h"
#include "cluster_cache.h"
#include "log.h"
#include "netlink.h"
#include "netns.h"
#include "nft.h"
#include "util.h"

/* The container's gateways are fixed link-local addresses answered by permanent neighbour
 * entries, so no ARP/ND ever has to cross the veth and a migrated container keeps them. */
#define GW4 "169.254.1.1"
#define GW6 "fe80::1"

static void derive_names(struct endpoint *ep, uint8_t host_mac[6])
{
	uint32_t h = fnv1a32(ep->name);
	uint8_t m[6] = { 0x02, 0x50, h >> 24, h >> 16, h >> 8, h };

	snprintf(ep->ifname, sizeof(ep->ifname), "lxc%08x", h);
	memcpy(ep->mac, m, 6);
	m[1] = 0x48;  /* host side: same hash, different second octet */
	memcpy(host_mac, m, 6);
}

static int host_index(const struct cidr *block, const struct ip_addr *ip, uint64_t *host)
{
	if (!cidr_contains(block, ip) || ip->family != AF_INET)
		return -ERANGE;
	*host = ntohl(ip->v4.s_addr) - ntohl(block->addr.v4.s_addr);
	return 0;
}

struct used_hosts {
	struct agent *a;
	uint64_t *v;
	size_t n, cap;
};

static int note_used(const struct cc_entry *e, void *arg)
{
	struct used_hosts *u = arg;
	uint64_t host;

	/* Only this node's block matters: endpoints that moved here keep their old node's. */
	if (host_index(&u->a->block4, &e->u.ep.ip4, &host))
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		uint64_t *v = realloc(u->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n++] = host;
	return 0;
}

static int allocate_address(struct agent *a, struct endpoint *ep, struct api_error *e)
{
	struct used_hosts used = { .a = a };
	uint64_t host;
	char b4[CIDR_STRLEN];
	int ret;

	if (cluster_foreach(a, CC_ENDPOINT, note_used, &used)) {
		free(used.v);
		return api_fail(e, 500, NULL, "out of memory");
	}
	ret = ipam_next_free(&a->cfg.pools, used.v, used.n, &host);
	free(used.v);
	if (ret)
		return api_fail(e, 507, "delete unused endpoints, or give nodes larger blocks",
				"address block %s of node %s is full", cidr_str(&a->block4, b4),
				a->cfg.node);
	ipam_host(&a->cfg.pools, a->block_index, host, &ep->ip4, &ep->ip6);
	ep->id = (uint32_t)(a->block_index << 16 | host);
	return 0;
}

struct taken {
	const struct ip_addr *ip4, *ip6;
	char by[EP_NAME_MAX];
};

static int is_taken(const struct cc_entry *e, void *arg)
{
	struct taken *t = arg;

	if (!ip_equal(&e->u.ep.ip4, t->ip4) && !(t->ip6->family && ip_equal(&e->u.ep.ip6, t->ip6)))
		return 0;
	snprintf(t->by, sizeof(t->by), "%s", e->name);
	return 1;
}

/* The addresses a runtime asks for (Podman restoring a checkpoint asks for the ones it
 * had): granted when they are endpoint addresses of the cluster that no endpoint holds.
 * Outside this node's block the endpoint counts as moved: every node routes its /32. */
static int requested_address(struct agent *a, const struct ep_request *req, struct endpoint *ep,
			     struct api_error *e)
{
	const struct ipam_pools *p = &a->cfg.pools;
	struct taken t = { .ip4 = &req->want4, .ip6 = &req->want6, .by = "" };
	struct ip_addr derived4;
	char b[IP_STRLEN];
	uint32_t off;
	uint64_t idx, host;

	if (!req->want4.family)
		return api_fail(e, 400, "ask for an IPv4 address too", "an IPv6 address alone cannot be "
				"asked for");
	if (!cidr_contains(&p->cluster4, &req->want4) ||
	    (req->want6.family && !cidr_contains(&p->cluster6, &req->want6)))
		return api_fail(e, 400, "ask for none, or for addresses of the cluster's ranges",
				"the addresses asked for are outside the cluster's");
	off = ntohl(req->want4.v4.s_addr) - ntohl(p->cluster4.addr.v4.s_addr);
	idx = off >> (32 - p->block4_len);
	host = off & ((1u << (32 - p->block4_len)) - 1);
	if (host < 2 || host > ipam_hosts_per_block(p) + 1 || ipam_host(p, idx, host, &derived4, &ep->ip6))
		return api_fail(e, 400, NULL, "%s is not an endpoint address of its block",
				ip_str(&req->want4, b));
	if (cluster_foreach(a, CC_ENDPOINT, is_taken, &t))
		return api_fail(e, 409, "ask for none: petrel picks a free one",
				"address %s is endpoint %s's", ip_str(&req->want4, b), t.by);
	ep->ip4 = req->want4;
	if (req->want6.family)
		ep->ip6 = req->want6;
	ep->id = (uint32_t)(idx << 16 | host);
	ep->moved = idx != a->block_index;
	return 0;
}

static void port_key(char *buf, size_t len, struct agent *a, const struct ep_publish *p)
{
	snprintf(buf, len, KEY_PORTS "%s/%s/%u", a->cfg.node, ep_proto_str(p->proto), p->host_port);
}

static void release_ports(struct agent *a, const struct endpoint *ep, int n)
{
	char key[256];

	for (int i = 0; i < n; i++) {
		port_key(key, sizeof(key), a, &ep->publish[i]);
		store_delete(a->store, key);
	}
}

static int reserve_ports(struct agent *a, const struct endpoint *ep, struct api_error *e)
{
	char key[256], *owner = NULL;
	int ret;

	for (int i = 0; i < ep->n_publish; i++) {
		port_key(key, sizeof(key), a, &ep->publish[i]);
		ret = store_create(a->store, key, ep->name, 0);
		if (ret == 0)
			continue;
		if (ret == -EEXIST && store_get(a->store, key, &owner, NULL) == 0) {
			/* Already this endpoint's: the leftover of a migration here whose agent
			 * died before undoing it (the endpoint's next migration takes it back). */
			if (!strcmp(owner, ep->name)) {
				free(owner);
				continue;
			}
			release_ports(a, ep, i);
			api_fail(e, 409, "pick another host port", "host port %u/%s on node %s is already published by endpoint '%s'",
				 ep->publish[i].host_port, ep_proto_str(ep->publish[i].proto),
				 a->cfg.node, owner);
			free(owner);
			return -1;
		}
		release_ports(a, ep, i);
		return api_fail(e, 503, NULL, "cannot reserve host port %u: %s",
				ep->publish[i].host_port, strerror(-ret));
	}
	return 0;
}

static int publish(struct agent *a, const struct endpoint *ep, bool add)
{
	int ret = 0;

	for (int i = 0; i < ep->n_publish && !ret; i++) {
		struct nft_publish p = {
			.proto = ep->publish[i].proto, .host_port = ep->publish[i].host_port,
			.ep4 = ep->ip4, .ep6 = ep->ip6, .port = ep->publish[i].port,
		};
		if (add)
			ret = nft_publish_add(&p);
		else
			nft_publish_del(p.proto, p.host_port);
	}
	return ret;
}

struct container_setup {
	const struct endpoint *ep;
	const char *peer, *ifname;
	const uint8_t *host_mac;
};

static int container_side(const struct container_setup *cs)
{
	const struct endpoint *ep = cs->ep;
	struct cidr a4 = { .addr = ep->ip4, .prefixlen = 32 };
	struct cidr a6 = { .addr = ep->ip6, .prefixlen = 128 };
	struct cidr def4 = { .addr.family = AF_INET }, def6 = { .addr.family = AF_INET6 };
	struct ip_addr gw4, gw6;
	int ret;

	ip_parse(GW4, &gw4);
	ip_parse(GW6, &gw6);
	if ((ret = nl_link_rename(cs->peer, cs->ifname)) ||
	    (ret = nl_link_set_mac(cs->ifname, ep->mac)) ||
	    (ret = nl_link_set_up("lo")) ||
	    (ret = nl_link_set_up(cs->ifname)) ||
	    (ret = nl_addr_add(cs->ifname, &a4)) ||
	    (ret = nl_addr_add(cs->ifname, &a6)) ||
	    (ret = nl_neigh_add_permanent(cs->ifname, &gw4, cs->host_mac)) ||
	    (ret = nl_neigh_add_permanent(cs->ifname, &gw6, cs->host_mac)) ||
	    (ret = nl_route_add(&def4, &gw4, cs->ifname, true)) ||
	    (ret = nl_route_add(&def6, &gw6, cs->ifname, false)))
		return ret;
	return 0;
}

/* routes: also the kernel's /32 and /128 routes to the veth (not while a migration's
 * destination prepares: the address still lives elsewhere for this node's stack). */
static int host_side(struct agent *a, const struct endpoint *ep, const uint8_t host_mac[6],
		     bool routes)
{
	struct cidr h4 = { .addr = ep->ip4, .prefixlen = 32 };
	struct cidr h6 = { .addr = ep->ip6, .prefixlen = 128 };
	int ret;

	if ((ret = nl_link_set_mac(ep->ifname, host_mac)) ||
	    (ret = nl_link_set_up(ep->ifname)) ||
	    (routes && (ret = nl_route_add(&h4, NULL, ep->ifname, false))) ||
	    (routes && (ret = nl_route_add(&h6, NULL, ep->ifname, false))) ||
	    (ret = nl_neigh_add_permanent(ep->ifname, &ep->ip4, ep->mac)) ||
	    (ret = nl_neigh_add_permanent(ep->ifname, &ep->ip6, ep->mac)))
		return ret;
	return 0;
}

static int datapath_add(struct agent *a, const struct endpoint *ep, const uint8_t host_mac[6])
{
	struct dp_endpoint de = { .ip4 = ep->ip4, .ip6 = ep->ip6, .id = ep->id,
				  .identity = ep->identity };
	int ret;

	de.host_ifindex = nl_link_index(ep->ifname);
	if (de.host_ifindex < 0)
		return de.host_ifindex;
	memcpy(de.mac, ep->mac, 6);
	memcpy(de.host_mac, host_mac, 6);
	ret = datapath_attach_endpoint(a->dp, de.host_ifindex);
	if (!ret)
		ret = datapath_endpoint_upsert(a->dp, &de);
	return ret;
}

static void datapath_remove(struct agent *a, const struct endpoint *ep)
{
	struct dp_endpoint de = { .ip4 = ep->ip4, .ip6 = ep->ip6, .id = ep->id };

	de.host_ifindex = nl_link_index(ep->ifname);
	datapath_endpoint_delete(a->dp, &de);
}

static int open_netns(const char *name_or_path)
{
	int fd;

	if (name_or_path[0] != '/')
		return netns_open(name_or_path);
	fd = open(name_or_path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Build the veth and both of its sides. On error, nothing of it is left. */
static int plumb(struct agent *a, struct endpoint *ep, const struct ep_request *req,
		 const uint8_t host_mac[6], bool take_traffic, struct api_error *e)
{
	char peer[16];
	int mtu = a->cfg.underlay_mtu - (a->cfg.mode == MODE_VXLAN ? VXLAN_OVERHEAD : 0) -
		  a->cfg.ioam_headroom;
	int nsfd, selffd, ret;
	bool classic = a->cfg.backend == BACKEND_IPTABLES;
	struct container_setup cs = {
		.ep = ep, .peer = peer, .host_mac = classic ? classic_gateway_mac() : host_mac,
		.ifname = *req->container_ifname ? req->container_ifname : "eth0",
	};

	snprintf(peer, sizeof(peer), "tmp%08x", fnv1a32(ep->name));
	nsfd = open_netns(ep->netns);
	if (nsfd < 0)
		return api_fail(e, 400, NULL, "cannot open network namespace '%s': %s", ep->netns,
				strerror(-nsfd));
	nl_link_delete(ep->ifname);   /* a leftover from a crash would block the name */
	ret = nl_veth_create(ep->ifname, peer, nsfd, mtu);
	if (ret) {
		close(nsfd);
		return api_fail(e, 500, NULL, "cannot create veth %s: %s", ep->ifname, strerror(-ret));
	}
	selffd = netns_open_self();
	ret = selffd < 0 ? selffd : netns_enter_fd(nsfd);
	if (!ret) {
		ret = container_side(&cs);
		if (netns_enter_fd(selffd)) {
			log_err("cannot return to the node namespace; aborting");
			abort();
		}
	}
	if (selffd >= 0)
		close(selffd);
	close(nsfd);
	if (ret) {
		nl_link_delete(ep->ifname);
		return api_fail(e, 500, NULL, "cannot configure %s inside netns '%s': %s", cs.ifname,
				ep->netns, strerror(-ret));
	}
	if (classic)
		ret = classic_endpoint_attach(a, ep);
	else if (!(ret = host_side(a, ep, host_mac, take_traffic)))
		ret = take_traffic ? datapath_add(a, ep, host_mac) :
		      datapath_attach_endpoint(a->dp, nl_link_index(ep->ifname));
	if (ret) {
		datapath_remove(a, ep);
		nl_link_delete(ep->ifname);
		return api_fail(e, 500, NULL, "cannot attach %s to the datapath: %s", ep->ifname,
				strerror(-ret));
	}
	return 0;
}

int endpoint_create(struct agent *a, const struct ep_request *req, struct endpoint *out,
		    struct api_error *e)
{
	struct endpoint ep = { 0 }, other;
	uint8_t host_mac[6];
	int ret;

	/* Podman restoring a container that is migrating (here, or back here): its endpoint
	 * exists already, with its addresses and MAC. */
	if ((ret = podman_mig_cni_add(a, req, out, e)))
		return ret > 0 ? 0 : -1;
	snprintf(ep.name, sizeof(ep.name), "%s", req->name);
	snprintf(ep.node, sizeof(ep.node), "%s", a->cfg.node);
	snprintf(ep.state, sizeof(ep.state), "creating");
	ep.n_labels = req->n_labels;
	memcpy(ep.labels, req->labels, sizeof(ep.labels));
	ep.n_publish = req->n_publish;
	memcpy(ep.publish, req->publish, sizeof(ep.publish));
	derive_names(&ep, host_mac);
	if (*req->netns) {
		snprintf(ep.netns, sizeof(ep.netns), "%s", req->netns);
	} else {
		snprintf(ep.netns, sizeof(ep.netns), "%s%s", a->cfg.netns_prefix, ep.name);
		ep.netns_owned = true;
	}
	if (req->want4.family || req->want6.family ? requested_address(a, req, &ep, e) :
	    allocate_address(a, &ep, e))
		return -1;

	/* The record is the name's reservation, cluster-wide and atomic. */
	ret = endpoint_record_store(a, &ep, true);
	if (ret == -EEXIST) {
		if (cluster_endpoint_get(a, ep.name, &other) == 0)
			return api_fail(e, 409, "pick another name, or delete the existing endpoint",
					"endpoint '%s' already exists on node %s", ep.name, other.node);
		return api_fail(e, 409, NULL, "endpoint '%s' already exists", ep.name);
	}
	if (ret) {
		endpoint_record_abandon(&ep);
		return api_fail(e, 503, STORE_HINT(ret), "cannot record endpoint '%s': %s", ep.name,
				strerror(-ret));
	}
	ret = identity_acquire(a, &ep, &ep.identity);
	if (ret) {
		api_fail(e, 503, NULL, "cannot allocate an identity for '%s': %s", ep.name, strerror(-ret));
		goto undo_record;
	}
	if (reserve_ports(a, &ep, e))
		goto undo_identity;
	if (ep.netns_owned) {
		ret = netns_create(ep.netns);
		if (ret) {
			api_fail(e, ret == -EEXIST ? 409 : 500,
				 ret == -EEXIST ? "a stale namespace from an earlier run? remove it with `ip netns del`" : NULL,
				 "cannot create network namespace '%s': %s", ep.netns, strerror(-ret));
			goto undo_ports;
		}
	}
	if (plumb(a, &ep, req, host_mac, true, e))
		goto undo_netns;
	ret = publish(a, &ep, true);
	if (ret) {
		api_fail(e, 500, NULL, "cannot publish ports of '%s': %s", ep.name, strerror(-ret));
		goto undo_plumb;
	}
	snprintf(ep.state, sizeof(ep.state), "ready");
	ret = endpoint_record_store(a, &ep, false);
	if (ret) {
		api_fail(e, 503, STORE_HINT(ret), "cannot record endpoint '%s': %s", ep.name, strerror(-ret));
		goto undo_publish;
	}
	cluster_catch_up(a);
	*out = ep;
	log_info("endpoint %s created (%s)", ep.name, ep.ifname);
	return 0;

undo_publish:
	publish(a, &ep, false);
undo_plumb:
	datapath_remove(a, &ep);
	nl_link_delete(ep.ifname);
undo_netns:
	if (ep.netns_owned)
		netns_delete(ep.netns);
undo_ports:
	release_ports(a, &ep, ep.n_publish);
undo_identity:
	identity_release(a, &ep);
undo_record:
	if (endpoint_record_remove(a, &ep))
		endpoint_record_abandon(&ep);
	return -1;
}

/* This node's half of an endpoint, without its record or identity: what a migration
 * leaves behind on the source once the destination runs it, or undoes on a failure. */
void endpoint_release_local(struct agent *a, const struct endpoint *ep)
{
	publish(a, ep, false);
	datapath_remove(a, ep);
	nl_link_delete(ep->ifname);
	if (ep->netns_owned)
		netns_delete(ep->netns);
	release_ports(a, ep, ep->n_publish);
}

/* Tear down the local parts of an endpoint; errors are logged, not fatal: deletion must
 * make progress even when some pieces are already gone. */
static void teardown(struct agent *a, const struct endpoint *ep)
{
	endpoint_release_local(a, ep);
	identity_release(a, ep);
	endpoint_record_remove(a, ep);
}

int endpoint_delete(struct agent *a, const char *name, struct api_error *e)
{
	struct endpoint ep;
	int ret;

	/* Podman tearing a migrating container's network down: only this node's half goes. */
	if (podman_mig_cni_del(a, name))
		return 0;
	ret = cluster_endpoint_get(a, name, &ep);
	if (ret == -ENOENT)
		return api_fail(e, 404, "see `petrel endpoint list`", "endpoint '%s' does not exist", name);
	if (ret)
		return api_fail(e, 503, NULL, "cannot read endpoint '%s': %s", name, strerror(-ret));
	if (strcmp(ep.node, a->cfg.node))
		return api_fail(e, 409, "ask that node's agent (petrel --node NODE endpoint del NAME)",
				"endpoint '%s' lives on node %s", name, ep.node);
	teardown(a, &ep);
	cluster_catch_up(a);
	log_info("endpoint %s deleted", name);
	return 0;
}

/* Migration, destination side: build this node's half of an endpoint that already exists
 * in cluster state (same addresses, MAC and identity) in a fresh netns, without touching
 * its record, and without taking its traffic yet: no datapath entry and no kernel route
 * until the container runs here (endpoint_datapath_attach), then its published ports
 * (endpoint_publish); the record moves last. */
int endpoint_adopt(struct agent *a, struct endpoint *ep, struct api_error *e)
{
	struct ep_request req = { 0 };
	uint8_t host_mac[6];
	int ret;

	derive_names(ep, host_mac);
	ep->netns_owned = true;
	snprintf(ep->state, sizeof(ep->state), "ready");
	if (reserve_ports(a, ep, e))
		return -1;
	if (netns_exists(ep->netns))
		netns_delete(ep->netns);    /* a leftover of an interrupted migration */
	ret = netns_create(ep->netns);
	if (ret) {
		release_ports(a, ep, ep->n_publish);
		return api_fail(e, 500, NULL, "cannot create network namespace '%s': %s", ep->netns,
				strerror(-ret));
	}
	snprintf(req.container_ifname, sizeof(req.container_ifname), "eth0");
	if (plumb(a, ep, &req, host_mac, false, e)) {
		netns_delete(ep->netns);
		release_ports(a, ep, ep->n_publish);
		return -1;
	}
	return 0;
}

int endpoint_adopt_at(struct agent *a, struct endpoint *ep, const struct ep_request *req,
		      struct api_error *e)
{
	uint8_t host_mac[6];

	derive_names(ep, host_mac);
	snprintf(ep->netns, sizeof(ep->netns), "%s", req->netns);
	ep->netns_owned = false;
	snprintf(ep->state, sizeof(ep->state), "ready");
	if (reserve_ports(a, ep, e))
		return -1;
	if (plumb(a, ep, req, host_mac, false, e)) {
		release_ports(a, ep, ep->n_publish);
		return -1;
	}
	return 0;
}

int endpoint_publish(struct agent *a, const struct endpoint *ep, bool add)
{
	return publish(a, ep, add);
}

/* Take the endpoint out of this node's datapath (its packets then follow the location
 * map, towards a migration's destination), or put it back. */
int endpoint_datapath_detach(struct agent *a, const struct endpoint *ep)
{
	datapath_remove(a, ep);
	return 0;
}

int endpoint_datapath_attach(struct agent *a, const struct endpoint *ep)
{
	struct endpoint copy = *ep;
	uint8_t host_mac[6];

	int ret;

	derive_names(&copy, host_mac);
	ret = host_side(a, &copy, host_mac, true);     /* with the kernel's /32 routes */
	return ret ? ret : datapath_add(a, &copy, host_mac);
}

int endpoints_restore(struct agent *a)
{
	struct endpoint *eps = NULL;
	size_t n = 0;
	int ret;

	ret = cluster_local_endpoints(a, &eps, &n);
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct endpoint *ep = &eps[i];
		uint8_t host_mac[6];

		if (!strcmp(ep->state, "creating")) {
			log_warn("endpoint %s was half-created when the agent stopped; removing it", ep->name);
			teardown(a, ep);
			continue;
		}
		derive_names(ep, host_mac);
		if (nl_link_index(ep->ifname) < 0) {
			log_warn("endpoint %s: interface %s is gone; marking it as error", ep->name, ep->ifname);
			snprintf(ep->state, sizeof(ep->state), "error");
			endpoint_record_store(a, ep, false);
			continue;
		}
		if ((a->cfg.backend == BACKEND_EBPF && datapath_add(a, ep, host_mac)) || publish(a, ep, true))
			log_warn("endpoint %s: cannot restore its datapath state", ep->name);
	}
	free(eps);
	return 0;
}

json_t *endpoint_json_with_counters(struct agent *a, const struct endpoint *ep)
{
	json_t *j = endpoint_to_json(ep);
	struct dp_counters c;
	int idx;

	if (strcmp(ep->node, a->cfg.node))
		return j;
	idx = nl_link_index(ep->ifname);
	if (idx > 0 && datapath_endpoint_counters(a->dp, idx, &c) == 0)
		json_object_set_new(j, "counters", json_pack("{s:I, s:I, s:I, s:I}",
			"rx_packets", (json_int_t)c.rx_packets, "rx_bytes", (json_int_t)c.rx_bytes,
			"tx_packets", (json_int_t)c.tx_packets, "tx_bytes", (json_int_t)c.tx_bytes));
	return j;
}
