/* `petrel lab`'s network plumbing: lab and namespace names, entering a namespace, and the
 * hosts (nodes, outside, routers) that a veth joins to the fabric bridge. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "cli.h"
#include "lab.h"
#include "api_client.h"
#include "args.h"
#include "cidr.h"
#include "config.h"
#include "netlink.h"
#include "netns.h"
#include "print.h"
#include "proc.h"
#include "util.h"


bool lab_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

void lab_progress(const char *fmt, const char *arg)
{
	fprintf(stderr, "lab: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

int lab_in_netns(const char *ns, int (*fn)(void *), void *arg)
{
	int self = netns_open_self(), ret;

	if (self < 0)
		return self;
	ret = netns_enter(ns);
	if (!ret) {
		ret = fn(arg);
		if (netns_enter_fd(self)) {
			fprintf(stderr, "petrel: cannot return to the original network namespace\n");
			abort();
		}
	}
	close(self);
	return ret;
}

struct host_setup {
	const char *dev;
	char ip4[IP_STRLEN], ip6[IP_STRLEN];
	bool router;
};

static int add_addrs(const char *dev, const char *ip4, const char *ip6)
{
	struct cidr a;
	char buf[64];
	int ret;

	snprintf(buf, sizeof(buf), "%s/24", ip4);
	cidr_parse(buf, &a);
	if ((ret = nl_addr_add(dev, &a)))
		return ret;
	snprintf(buf, sizeof(buf), "%s/64", ip6);
	cidr_parse(buf, &a);
	return nl_addr_add(dev, &a);
}

static int setup_host(void *arg)
{
	struct host_setup *h = arg;
	int ret;

	if ((ret = nl_link_set_up("lo")) || (ret = nl_link_set_up(h->dev)) ||
	    (ret = add_addrs(h->dev, h->ip4, h->ip6)))
		return ret;
	if (h->router) {
		sysctl_write("net.ipv4.ip_forward", "1");
		sysctl_write("net.ipv6.conf.all.forwarding", "1");
		sysctl_write("net.ipv4.conf.all.rp_filter", "0");
		sysctl_write("net.ipv4.conf.default.rp_filter", "0");
	}
	return 0;
}

/* The fabric namespace's bridge, with a fixed MAC and no netfilter; run inside it. */
int lab_setup_fabric(void *arg)
{
	/* A fixed MAC: a bridge otherwise takes its lowest port's, so a port added later (a
	 * test's router) could change the MAC behind etcd's address under the nodes' ARP
	 * caches, and their etcd requests would time out until those entries expired. */
	static const uint8_t fabric_mac[6] = { 0x02, 0x50, 0xfa, 0xb0, 0x00, 0x01 };
	int ret;

	if ((ret = nl_link_set_up("lo")) || (ret = nl_bridge_create("br0")) ||
	    (ret = nl_link_set_mac("br0", fabric_mac)) ||
	    (ret = nl_link_set_up("br0")) || (ret = add_addrs("br0", FABRIC4, FABRIC6)))
		return ret;
	/* The fabric is a switch, not a router (IPv6 forwarding stays off), and a switch runs
	 * no netfilter. A namespace's default hands every frame a bridge forwards to its
	 * ip(6)tables hooks (br_netfilter), which costs each packet about 0.6 µs a crossing
	 * and parses every Hop-by-Hop header: the lab's underlay would tax IOAM's packets. */
	sysctl_write("net.bridge.bridge-nf-call-iptables", "0");
	sysctl_write("net.bridge.bridge-nf-call-ip6tables", "0");
	sysctl_write("net.bridge.bridge-nf-call-arptables", "0");
	return 0;
}

/* Every address on the lab's fabric is unique by construction, so duplicate address
 * detection only delays a new host: its link-local address stays tentative for a second,
 * and a router cannot solicit its neighbours from it until then. */
static int no_dad(void *arg)
{
	(void)arg;
	sysctl_write("net.ipv6.conf.all.accept_dad", "0");
	return sysctl_write("net.ipv6.conf.default.accept_dad", "0");
}

struct port {
	const char *fabric_side;
	int peer_ns_fd;
};

static int add_port(void *arg)
{
	struct port *p = arg;
	int ret = nl_veth_create(p->fabric_side, "eth0", p->peer_ns_fd, 1500);

	if (!ret)
		ret = nl_link_set_master(p->fabric_side, "br0");
	if (!ret)
		ret = nl_link_set_up(p->fabric_side);
	return ret;
}

int lab_add_host(const char *lab, const char *suffix, const char *fabric_side,
		    const char *ip4, const char *ip6, bool router)
{
	char ns[64], fabric[64];
	struct host_setup h = { .dev = "eth0", .router = router };
	struct port p = { .fabric_side = fabric_side };
	int ret;

	snprintf(ns, sizeof(ns), "%s-%s", lab, suffix);
	snprintf(fabric, sizeof(fabric), "%s-fabric", lab);
	if ((ret = netns_create(ns)) || (ret = lab_in_netns(ns, no_dad, NULL)))
		return ret;
	p.peer_ns_fd = netns_open(ns);
	if (p.peer_ns_fd < 0)
		return p.peer_ns_fd;
	ret = lab_in_netns(fabric, add_port, &p);
	close(p.peer_ns_fd);
	if (ret)
		return ret;
	snprintf(h.ip4, sizeof(h.ip4), "%s", ip4);
	snprintf(h.ip6, sizeof(h.ip6), "%s", ip6);
	return lab_in_netns(ns, setup_host, &h);
}
