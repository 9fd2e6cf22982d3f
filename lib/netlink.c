/* rtnetlink through libnl-route-3: links (veth, bridge, VXLAN), addresses, routes and
 * neighbours in the calling thread's network namespace. One socket per call: the agent is
 * not a hot path, and a fresh socket always belongs to the current namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include "netlink.h"

static int errno_of(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:               return 0;
	case NLE_EXIST:       return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:       return -ENODEV;
	case NLE_PERM:        return -EPERM;
	case NLE_INVAL:       return -EINVAL;
	case NLE_BUSY:        return -EBUSY;
	case NLE_NOMEM:       return -ENOMEM;
	case NLE_NOADDR:      return -EADDRNOTAVAIL;
	case NLE_RANGE:       return -ERANGE;
	case NLE_OPNOTSUPP:   return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	default:              return -EIO;
	}
}

static struct nl_sock *sock_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk && nl_connect(sk, NETLINK_ROUTE)) {
		nl_socket_free(sk);
		sk = NULL;
	}
	return sk;
}

int nl_link_index(const char *name)
{
	unsigned int idx = if_nametoindex(name);

	return idx ? (int)idx : -ENODEV;
}

/* Apply `change` to the link called name, and release `change` (NULL: out of memory). */
static int link_apply(const char *name, struct rtnl_link *change)
{
	struct nl_sock *sk;
	struct rtnl_link *link = NULL;
	int ret;

	if (!change)
		return -ENOMEM;
	sk = sock_open();
	if (!sk) {
		rtnl_link_put(change);
		return -ENOMEM;
	}
	ret = rtnl_link_get_kernel(sk, 0, name, &link);
	if (!ret)
		ret = rtnl_link_change(sk, link, change, 0);
	if (link)
		rtnl_link_put(link);
	rtnl_link_put(change);
	nl_socket_free(sk);
	return errno_of(ret);
}

static int link_add(struct rtnl_link *link)
{
	struct nl_sock *sk = sock_open();
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	nl_socket_free(sk);
	return errno_of(ret);
}

int nl_veth_create(const char *name, const char *peer, int peer_netns_fd, int mtu)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *p;
	int ret;

	if (!link)
		return -ENOMEM;
	p = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, name);
	rtnl_link_set_name(p, peer);
	if (mtu > 0) {
		rtnl_link_set_mtu(link, (unsigned int)mtu);
		rtnl_link_set_mtu(p, (unsigned int)mtu);
	}
	/* The peer is created directly inside its namespace: no window with it in ours. */
	if (peer_netns_fd >= 0)
		rtnl_link_set_ns_fd(p, peer_netns_fd);
	ret = link_add(link);
	rtnl_link_veth_release(link);
	return ret;
}

int nl_bridge_create(const char *name)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int ret;

	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	ret = errno_of(rtnl_link_set_type(link, "bridge"));
	if (!ret)
		ret = link_add(link);
	rtnl_link_put(link);
	return ret;
}

int nl_vxlan_create(const char *name, uint16_t dstport, const char *underlay_dev, int mtu)
{
	struct rtnl_link *link = rtnl_link_vxlan_alloc();
	int idx = underlay_dev ? nl_link_index(underlay_dev) : 0, ret;

	if (!link)
		return -ENOMEM;
	if (idx < 0) {
		rtnl_link_put(link);
		return idx;
	}
	rtnl_link_set_name(link, name);
	rtnl_link_vxlan_set_port(link, dstport);
	/* collect_md: the tunnel endpoint comes from each packet's metadata (set in BPF). */
	rtnl_link_vxlan_set_collect_metadata(link, 1);
	if (mtu > 0)
		rtnl_link_set_mtu(link, (unsigned int)mtu);
	ret = link_add(link);
	rtnl_link_put(link);
	return ret;
}

int nl_link_delete(const char *name)
{
	struct nl_sock *sk = sock_open();
	struct rtnl_link *link = NULL;
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = rtnl_link_get_kernel(sk, 0, name, &link);
	if (ret == 0)
		ret = rtnl_link_delete(sk, link);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	ret = errno_of(ret);
	return ret == -ENODEV ? 0 : ret;
}

int nl_link_set_up(const char *name)
{
	struct rtnl_link *c = rtnl_link_alloc();

	if (c)
		rtnl_link_set_flags(c, IFF_UP);
	return link_apply(name, c);
}

int nl_link_set_master(const char *name, const char *master)
{
	int idx = nl_link_index(master);
	struct rtnl_link *c;

	if (idx < 0)
		return idx;
	c = rtnl_link_alloc();
	if (c)
		rtnl_link_set_master(c, idx);
	return link_apply(name, c);
}

int nl_link_rename(const char *name, const char *newname)
{
	struct rtnl_link *c = rtnl_link_alloc();

	if (c)
		rtnl_link_set_name(c, newname);
	return link_apply(name, c);
}

int nl_link_set_mac(const char *name, const uint8_t mac[NL_MAC_LEN])
{
	struct nl_addr *a = nl_addr_build(AF_LLC, (void *)mac, NL_MAC_LEN);
	struct rtnl_link *c = a ? rtnl_link_alloc() : NULL;

	if (c)
		rtnl_link_set_addr(c, a);
	if (a)
		nl_addr_put(a);
	return link_apply(name, c);
}

int nl_link_get_mac(const char *name, uint8_t mac[NL_MAC_LEN])
{
	struct nl_sock *sk = sock_open();
	struct rtnl_link *link = NULL;
	struct nl_addr *a;
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = errno_of(rtnl_link_get_kernel(sk, 0, name, &link));
	if (!ret) {
		a = rtnl_link_get_addr(link);
		if (a && nl_addr_get_len(a) == NL_MAC_LEN)
			memcpy(mac, nl_addr_get_binary_addr(a), NL_MAC_LEN);
		else
			ret = -EADDRNOTAVAIL;
	}
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return ret;
}

int nl_link_set_mtu(const char *name, int mtu)
{
	struct rtnl_link *c = rtnl_link_alloc();

	if (c)
		rtnl_link_set_mtu(c, (unsigned int)mtu);
	return link_apply(name, c);
}

int nl_link_move_netns(const char *name, int netns_fd)
{
	struct rtnl_link *c = rtnl_link_alloc();

	if (c)
		rtnl_link_set_ns_fd(c, netns_fd);
	return link_apply(name, c);
}

static struct nl_addr *ip_to_nl(const struct ip_addr *ip, int prefixlen)
{
	struct nl_addr *a = nl_addr_build(ip->family, (void *)ip->bytes,
					  ip->family == AF_INET ? 4 : 16);

	if (a && prefixlen >= 0)
		nl_addr_set_prefixlen(a, prefixlen);
	return a;
}

int nl_addr_add(const char *dev, const struct cidr *addr)
{
	struct nl_sock *sk;
	struct rtnl_addr *ra;
	struct nl_addr *local;
	int idx = nl_link_index(dev), ret;

	if (idx < 0)
		return idx;
	sk = sock_open();
	ra = rtnl_addr_alloc();
	local = ip_to_nl(&addr->addr, addr->prefixlen);
	if (!sk || !ra || !local) {
		ret = -ENOMEM;
		goto out;
	}
	rtnl_addr_set_ifindex(ra, idx);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, addr->prefixlen);
	if (addr->addr.family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	ret = errno_of(rtnl_addr_add(sk, ra, 0));
	if (ret == -EEXIST)
		ret = 0;
out:
	if (local)
		nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	if (sk)
		nl_socket_free(sk);
	return ret;
}

static struct rtnl_route *route_build(const struct cidr *dst, const struct ip_addr *gw,
				      const char *dev, bool onlink, int *err)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = ip_to_nl(&dst->addr, dst->prefixlen);
	int idx = dev ? nl_link_index(dev) : 0;

	*err = -ENOMEM;
	if (!r || !nh || !d)
		goto fail;
	*err = idx < 0 ? idx : 0;
	if (*err)
		goto fail;
	rtnl_route_set_family(r, (uint8_t)dst->addr.family);
	rtnl_route_set_dst(r, d);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	if (idx)
		rtnl_route_nh_set_ifindex(nh, idx);
	if (gw) {
		struct nl_addr *g = ip_to_nl(gw, -1);
		if (!g)
			goto fail;
		rtnl_route_nh_set_gateway(nh, g);
		nl_addr_put(g);
	}
	if (onlink)
		rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
	rtnl_route_add_nexthop(r, nh);
	nl_addr_put(d);
	return r;
fail:
	if (nh)
		rtnl_route_nh_free(nh);
	if (d)
		nl_addr_put(d);
	if (r)
		rtnl_route_put(r);
	return NULL;
}

int nl_route_add(const struct cidr *dst, const struct ip_addr *gw, const char *dev, bool onlink)
{
	struct nl_sock *sk;
	struct rtnl_route *r;
	int ret;

	r = route_build(dst, gw, dev, onlink, &ret);
	if (!r)
		return ret;
	sk = sock_open();
	ret = sk ? errno_of(rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_REPLACE)) : -ENOMEM;
	if (sk)
		nl_socket_free(sk);
	rtnl_route_put(r);
	return ret;
}

int nl_route_del(const struct cidr *dst, const char *dev)
{
	struct nl_sock *sk;
	struct rtnl_route *r;
	int ret;

	r = route_build(dst, NULL, dev, false, &ret);
	if (!r)
		return ret == -ENODEV ? 0 : ret;
	rtnl_route_set_scope(r, RT_SCOPE_NOWHERE);
	sk = sock_open();
	ret = sk ? errno_of(rtnl_route_delete(sk, r, 0)) : -ENOMEM;
	if (sk)
		nl_socket_free(sk);
	rtnl_route_put(r);
	return ret == -ENODEV ? 0 : ret;
}

int nl_neigh_add_permanent(const char *dev, const struct ip_addr *ip, const uint8_t mac[NL_MAC_LEN])
{
	struct nl_sock *sk;
	struct rtnl_neigh *n;
	struct nl_addr *dst, *ll;
	int idx = nl_link_index(dev), ret = -ENOMEM;

	if (idx < 0)
		return idx;
	sk = sock_open();
	n = rtnl_neigh_alloc();
	dst = ip_to_nl(ip, -1);
	ll = nl_addr_build(AF_LLC, (void *)mac, NL_MAC_LEN);
	if (sk && n && dst && ll) {
		rtnl_neigh_set_ifindex(n, idx);
		rtnl_neigh_set_dst(n, dst);
		rtnl_neigh_set_lladdr(n, ll);
		rtnl_neigh_set_state(n, NUD_PERMANENT);
		ret = errno_of(rtnl_neigh_add(sk, n, NLM_F_CREATE | NLM_F_REPLACE));
	}
	if (ll)
		nl_addr_put(ll);
	if (dst)
		nl_addr_put(dst);
	if (n)
		rtnl_neigh_put(n);
	if (sk)
		nl_socket_free(sk);
	return ret;
}

int sysctl_write(const char *path, const char *value)
{
	char file[512];
	size_t len = strlen(value);
	int fd, ret = 0;

	snprintf(file, sizeof(file), "/proc/sys/%s", path);
	for (char *p = file + 10; *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

struct addr_match {
	int ifindex;
	struct nl_addr *want;
	int found;
};

static void match_addr(struct nl_object *obj, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)obj;
	struct addr_match *m = arg;

	if (rtnl_addr_get_ifindex(a) == m->ifindex && rtnl_addr_get_local(a) &&
	    nl_addr_cmp(rtnl_addr_get_local(a), m->want) == 0)
		m->found = 1;
}

int nl_addr_present(const char *dev, const struct cidr *addr)
{
	struct nl_sock *sk;
	struct nl_cache *cache = NULL;
	struct addr_match m = { .ifindex = nl_link_index(dev) };
	int ret;

	if (m.ifindex < 0)
		return 0;
	m.want = ip_to_nl(&addr->addr, addr->prefixlen);
	sk = sock_open();
	if (!sk || !m.want) {
		ret = -ENOMEM;
		goto out;
	}
	ret = errno_of(rtnl_addr_alloc_cache(sk, &cache));
	if (!ret) {
		nl_cache_foreach(cache, match_addr, &m);
		ret = m.found;
	}
out:
	if (cache)
		nl_cache_free(cache);
	if (m.want)
		nl_addr_put(m.want);
	if (sk)
		nl_socket_free(sk);
	return ret;
}

struct route_match {
	int ifindex, family, prefixlen;
	struct nl_addr *dst, *gw;
	int found;
};

static void match_nh(struct rtnl_nexthop *nh, void *arg)
{
	struct route_match *m = arg;
	struct nl_addr *g = rtnl_route_nh_get_gateway(nh);

	if (rtnl_route_nh_get_ifindex(nh) == m->ifindex &&
	    (!m->gw || (g && nl_addr_cmp_prefix(g, m->gw) == 0 && nl_addr_get_len(g) == nl_addr_get_len(m->gw))))
		m->found = 1;
}

static void match_route(struct nl_object *obj, void *arg)
{
	struct rtnl_route *r = (struct rtnl_route *)obj;
	struct route_match *m = arg;
	struct nl_addr *d = rtnl_route_get_dst(r);

	if (rtnl_route_get_family(r) != m->family || rtnl_route_get_table(r) != RT_TABLE_MAIN)
		return;
	if (!d || (int)nl_addr_get_prefixlen(d) != m->prefixlen)
		return;
	if (m->prefixlen && nl_addr_cmp_prefix(d, m->dst))
		return;
	rtnl_route_foreach_nexthop(r, match_nh, m);
}

int nl_route_present(const struct cidr *dst, const struct ip_addr *gw, const char *dev)
{
	struct route_match m = { .ifindex = nl_link_index(dev), .family = dst->addr.family,
				 .prefixlen = dst->prefixlen };
	struct nl_cache *cache = NULL;
	struct nl_sock *sk;
	int ret;

	if (m.ifindex < 0)
		return 0;
	m.dst = ip_to_nl(&dst->addr, dst->prefixlen);
	m.gw = gw ? ip_to_nl(gw, -1) : NULL;
	sk = sock_open();
	if (!sk || !m.dst || (gw && !m.gw)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = errno_of(rtnl_route_alloc_cache(sk, dst->addr.family, 0, &cache));
	if (!ret) {
		nl_cache_foreach(cache, match_route, &m);
		ret = m.found;
	}
out:
	if (cache)
		nl_cache_free(cache);
	if (m.dst)
		nl_addr_put(m.dst);
	if (m.gw)
		nl_addr_put(m.gw);
	if (sk)
		nl_socket_free(sk);
	return ret;
}
