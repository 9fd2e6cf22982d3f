/* Reading translated flows from conntrack (see conntrack.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include "conntrack.h"
#include "netlink.h"
#include "util.h"

struct walk {
	ct_want_fn want;
	void *arg;
	struct ct_flow *v;
	size_t n, cap;
};

/* The address of a direction's source, family taken from the entry. */
static void addr_of(const struct nf_conntrack *ct, bool reply, struct ip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	if (a->family == AF_INET)
		a->v4.s_addr = nfct_get_attr_u32(ct, reply ? ATTR_REPL_IPV4_SRC : ATTR_ORIG_IPV4_SRC);
	else if (a->family == AF_INET6)
		memcpy(a->bytes, nfct_get_attr(ct, reply ? ATTR_REPL_IPV6_SRC : ATTR_ORIG_IPV6_SRC), 16);
	else
		a->family = 0;
}

static int on_ct(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *arg)
{
	struct walk *w = arg;
	uint8_t proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	uint32_t status = nfct_get_attr_u32(ct, ATTR_STATUS);
	struct ct_flow f = { .proto = proto };

	(void)type;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	if (status & IPS_DST_NAT) {
		/* client -> node:published, answered by endpoint -> client */
		f.nat = CT_DNAT;
		addr_of(ct, true, &f.ep);
		addr_of(ct, false, &f.peer);
		f.ep_port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
		f.peer_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
	} else if (status & IPS_SRC_NAT) {
		/* endpoint -> server, answered by server -> node (masqueraded) */
		f.nat = CT_SNAT;
		addr_of(ct, false, &f.ep);
		addr_of(ct, true, &f.peer);
		f.ep_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
		f.peer_port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
	} else {
		return NFCT_CB_CONTINUE;
	}
	if (!f.ep.family || !w->want(&f.ep, w->arg))
		return NFCT_CB_CONTINUE;
	if (nfct_attr_is_set(ct, ATTR_TIMEOUT))
		f.timeout = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct ct_flow *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return NFCT_CB_STOP;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = f;
	return NFCT_CB_CONTINUE;
}

int ct_nat_flows(ct_want_fn want, void *arg, struct ct_flow **out, size_t *n)
{
	struct walk w = { .want = want, .arg = arg };
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!h)
		return -errno ? -errno : -EIO;
	nfct_callback_register(h, NFCT_T_ALL, on_ct, &w);
	for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		uint32_t family = (uint32_t)fam;

		if (nfct_query(h, NFCT_Q_DUMP, &family) < 0 && errno != ENOENT) {
			ret = -errno;
			break;
		}
	}
	nfct_close(h);
	if (ret) {
		free(w.v);
		return ret;
	}
	*out = w.v;
	*n = w.n;
	return 0;
}

static bool is_one_of(const struct ip_addr *ep, void *arg)
{
	const struct ip_addr *const *eps = arg;

	return (eps[0]->family && ip_equal(ep, eps[0])) || (eps[1]->family && ip_equal(ep, eps[1]));
}

int ct_endpoint_flows(const struct ip_addr *ep4, const struct ip_addr *ep6, struct ct_flow **out,
		      size_t *n)
{
	const struct ip_addr *eps[2] = { ep4, ep6 };

	return ct_nat_flows(is_one_of, eps, out, n);
}

bool ct_flow_same(const struct ct_flow *a, const struct ct_flow *b)
{
	return a->proto == b->proto && a->ep_port == b->ep_port && a->peer_port == b->peer_port &&
	       ip_equal(&a->ep, &b->ep) && ip_equal(&a->peer, &b->peer);
}

int ct_set_buckets(unsigned int buckets, unsigned int *old)
{
	char *text = NULL, val[16];
	int ret;

	if ((ret = read_file("/proc/sys/net/netfilter/nf_conntrack_buckets", &text)))
		return ret;
	*old = (unsigned int)strtoul(text, NULL, 10);
	free(text);
	if (*old == buckets)
		return 0;
	snprintf(val, sizeof(val), "%u", buckets);
	return sysctl_write("net.netfilter.nf_conntrack_buckets", val);
}
