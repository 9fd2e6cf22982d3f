/* Reading DNATed flows from conntrack (see conntrack.h). */
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
	const struct ip_addr *ep[2];
	struct ct_flow *v;
	size_t n, cap;
};

static bool reply_src_is(const struct nf_conntrack *ct, const struct ip_addr *a)
{
	if (!a || !a->family || nfct_get_attr_u8(ct, ATTR_L3PROTO) != a->family)
		return false;
	if (a->family == AF_INET)
		return nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC) == a->v4.s_addr;
	return !memcmp(nfct_get_attr(ct, ATTR_REPL_IPV6_SRC), a->bytes, 16);
}

static int on_ct(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *arg)
{
	struct walk *w = arg;
	uint8_t proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	struct ct_flow *f;
	int i;

	(void)type;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	if (!(nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_DST_NAT))
		return NFCT_CB_CONTINUE;
	for (i = 0; i < 2 && !reply_src_is(ct, w->ep[i]); i++)
		;
	if (i == 2)
		return NFCT_CB_CONTINUE;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct ct_flow *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return NFCT_CB_STOP;
		w->v = v;
		w->cap = cap;
	}
	f = &w->v[w->n++];
	memset(f, 0, sizeof(*f));
	f->proto = proto;
	f->ep = *w->ep[i];
	f->peer.family = w->ep[i]->family;
	if (f->peer.family == AF_INET)
		f->peer.v4.s_addr = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC);
	else
		memcpy(f->peer.bytes, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
	f->peer_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
	f->ep_port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
	return NFCT_CB_CONTINUE;
}

int ct_dnat_flows(const struct ip_addr *ep4, const struct ip_addr *ep6, struct ct_flow **out,
		  size_t *n)
{
	struct walk w = { .ep = { ep4, ep6 } };
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	int ret = 0;

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
