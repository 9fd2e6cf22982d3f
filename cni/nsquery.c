/* CHECK's look inside the container's network namespace through libnl-route-3. A helper
 * thread enters the namespace, so the plugin itself never leaves its own. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include "nsquery.h"

struct query {
	const char *path, *ifname;
	struct cni_ns_state *st;
	int ret;
};

/* A libnl address as petrel's; false for anything but IPv4/IPv6. Empty = the zero address. */
static bool from_nl(struct nl_addr *n, int family, struct ip_addr *out)
{
	unsigned int len = n ? nl_addr_get_len(n) : 0;

	memset(out, 0, sizeof(*out));
	if (n)
		family = nl_addr_get_family(n);
	if ((family != AF_INET && family != AF_INET6) ||
	    len > (family == AF_INET ? 4u : 16u))
		return false;
	out->family = family;
	if (len)
		memcpy(out->bytes, nl_addr_get_binary_addr(n), len);
	return true;
}

static int query_addrs(struct nl_sock *sk, int ifindex, struct cni_ns_state *st)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int ret = rtnl_addr_alloc_cache(sk, &cache);

	if (ret < 0)
		return -EIO;
	for (o = nl_cache_get_first(cache); o && st->n_addrs < CNI_NS_MAX_ADDRS; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct cidr *c = &st->addrs[st->n_addrs];

		if (rtnl_addr_get_ifindex(a) != ifindex ||
		    !from_nl(rtnl_addr_get_local(a), rtnl_addr_get_family(a), &c->addr))
			continue;
		c->prefixlen = (uint8_t)rtnl_addr_get_prefixlen(a);
		st->n_addrs++;
	}
	nl_cache_free(cache);
	return 0;
}

/* Main-table unicast routes with a next hop out of the interface. */
static int query_routes(struct nl_sock *sk, int ifindex, struct cni_ns_state *st)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int ret = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache);

	if (ret < 0)
		return -EIO;
	for (o = nl_cache_get_first(cache); o && st->n_routes < CNI_NS_MAX_ROUTES; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(r);
		int n = rtnl_route_get_nnexthops(r);

		if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST)
			continue;
		for (int i = 0; i < n && st->n_routes < CNI_NS_MAX_ROUTES; i++) {
			struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);
			struct cni_ns_route *out = &st->routes[st->n_routes];
			struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);

			if (rtnl_route_nh_get_ifindex(nh) != ifindex ||
			    !from_nl(dst, rtnl_route_get_family(r), &out->dst.addr))
				continue;
			out->dst.prefixlen = dst ? (uint8_t)nl_addr_get_prefixlen(dst) : 0;
			if (!gw || !from_nl(gw, rtnl_route_get_family(r), &out->gw))
				memset(&out->gw, 0, sizeof(out->gw));
			st->n_routes++;
		}
	}
	nl_cache_free(cache);
	return 0;
}

static int query_here(const char *ifname, struct cni_ns_state *st)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link = NULL;
	struct nl_addr *mac;
	int ret, ifindex;

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE)) {
		nl_socket_free(sk);
		return -EIO;
	}
	ret = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (ret < 0) {
		/* No such interface is a finding for CHECK, not a failure to look. */
		ret = ret == -NLE_OBJ_NOTFOUND || ret == -NLE_NODEV ? 0 : -EIO;
		goto out;
	}
	st->link_found = true;
	st->link_up = rtnl_link_get_flags(link) & IFF_UP;
	mac = rtnl_link_get_addr(link);
	if (mac && nl_addr_get_len(mac) == 6)
		memcpy(st->mac, nl_addr_get_binary_addr(mac), 6);
	ifindex = rtnl_link_get_ifindex(link);
	ret = query_addrs(sk, ifindex, st);
	if (!ret)
		ret = query_routes(sk, ifindex, st);
out:
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return ret;
}

static void *query_thread(void *arg)
{
	struct query *q = arg;
	int fd = open(q->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		q->ret = -errno;
		return NULL;
	}
	/* Only this thread moves; it ends with the query. */
	if (setns(fd, CLONE_NEWNET)) {
		q->ret = -errno;
		close(fd);
		return NULL;
	}
	close(fd);
	q->ret = query_here(q->ifname, q->st);
	return NULL;
}

int cni_ns_query(const char *netns_path, const char *ifname, struct cni_ns_state *st)
{
	struct query q = { .path = netns_path, .ifname = ifname, .st = st };
	pthread_t t;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = pthread_create(&t, NULL, query_thread, &q);
	if (ret)
		return -ret;
	pthread_join(t, NULL);
	return q.ret;
}
