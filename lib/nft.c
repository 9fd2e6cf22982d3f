/* petrel's nftables table (libnftables): masquerade for traffic leaving the cluster and
 * DNAT maps for published ports. The maps are only created, never flushed, by a re-init,
 * so published ports survive an agent restart. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include "nft.h"

static int run(const char *fmt, ...)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	char *cmd = NULL;
	va_list ap;
	int ret;

	if (!ctx)
		return -ENOMEM;
	va_start(ap, fmt);
	ret = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		nft_ctx_free(ctx);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	ret = nft_run_cmd_from_buffer(ctx, cmd) ? -EINVAL : 0;
	free(cmd);
	nft_ctx_free(ctx);
	return ret;
}

int nft_init(const struct cidr *cluster4, const struct cidr *cluster6,
	     const char *underlay_dev, const struct ip_addr *node4, const struct ip_addr *node6)
{
	char c4[CIDR_STRLEN], c6[CIDR_STRLEN], n4[IP_STRLEN], n6[IP_STRLEN];
	char dnat6[256] = "";

	if (node6 && node6->family == AF_INET6)
		snprintf(dnat6, sizeof(dnat6),
			 "add rule inet petrel prerouting ip6 daddr %1$s dnat ip6 to meta l4proto . th dport map @publish6\n"
			 "add rule inet petrel output ip6 daddr %1$s dnat ip6 to meta l4proto . th dport map @publish6\n",
			 ip_str(node6, n6));
	/* One transaction: the chains are rebuilt atomically, the maps keep their elements. */
	return run("add table inet petrel\n"
		   "add map inet petrel publish4 { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
		   "add map inet petrel publish6 { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
		   "add chain inet petrel prerouting { type nat hook prerouting priority dstnat; }\n"
		   "add chain inet petrel output { type nat hook output priority -100; }\n"
		   "add chain inet petrel postrouting { type nat hook postrouting priority srcnat; }\n"
		   "flush chain inet petrel prerouting\n"
		   "flush chain inet petrel output\n"
		   "flush chain inet petrel postrouting\n"
		   "add rule inet petrel prerouting ip daddr %s dnat ip to meta l4proto . th dport map @publish4\n"
		   "add rule inet petrel output ip daddr %s dnat ip to meta l4proto . th dport map @publish4\n"
		   "%s"
		   "add rule inet petrel postrouting ip saddr %s ip daddr != %s oifname \"%s\" masquerade\n"
		   "add rule inet petrel postrouting ip6 saddr %s ip6 daddr != %s oifname \"%s\" masquerade\n",
		   ip_str(node4, n4), n4, dnat6,
		   cidr_str(cluster4, c4), c4, underlay_dev,
		   cidr_str(cluster6, c6), c6, underlay_dev);
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

int nft_publish_add(const struct nft_publish *p)
{
	char a4[IP_STRLEN], a6[IP_STRLEN], cmd[512] = "";
	size_t off = 0;

	if (p->ep4.family == AF_INET)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
			"add element inet petrel publish4 { %s . %u : %s . %u }\n",
			proto_name(p->proto), p->host_port, ip_str(&p->ep4, a4), p->port);
	if (p->ep6.family == AF_INET6)
		snprintf(cmd + off, sizeof(cmd) - off,
			 "add element inet petrel publish6 { %s . %u : %s . %u }\n",
			 proto_name(p->proto), p->host_port, ip_str(&p->ep6, a6), p->port);
	/* Replace whatever held the key: the agent's port reservation is the arbiter. */
	nft_publish_del(p->proto, p->host_port);
	return run("%s", cmd);
}

int nft_publish_del(uint8_t proto, uint16_t host_port)
{
	/* Deleting an absent element fails; each family is tried on its own. */
	run("delete element inet petrel publish4 { %s . %u }", proto_name(proto), host_port);
	run("delete element inet petrel publish6 { %s . %u }", proto_name(proto), host_port);
	return 0;
}

int nft_fini(void)
{
	int ret = run("delete table inet petrel");

	return ret == -EINVAL ? 0 : ret;
}
