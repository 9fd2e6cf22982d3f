/* The classic container network, kept as the baseline petrel's benchmarks compare against
 * (policy-backend = iptables): endpoints on a Linux bridge, pod prefixes in kernel routes,
 * and policies as iptables rules in a FORWARD sub-chain after a conntrack ESTABLISHED
 * accept, the way iptables-based container networks enforce them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include "agent.h"
#include "identity.h"
#include "log.h"
#include "netlink.h"
#include "proc.h"

static const uint8_t bridge_mac[6] = { 0x02, 0x50, 0x00, 0x00, 0x00, 0x01 };

const uint8_t *classic_gateway_mac(void)
{
	return bridge_mac;
}

/* Run an iptables tool with input on its stdin (its errors go to the agent's log). */
static int run(char *const argv[], const char *input)
{
	int p[2], fds[3] = { -1, -1, STDERR_FILENO };
	size_t len = input ? strlen(input) : 0, off = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fds[0] = p[0];
	pid = proc_spawn_ex(argv[0], argv, fds, -1, false);
	close(p[0]);
	while (pid > 0 && off < len) {
		ssize_t w = write(p[1], input + off, len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(p[1]);
	if (pid < 0)
		return (int)pid;
	return proc_wait(pid, -1) == 0 ? 0 : -EIO;
}

int classic_setup(struct agent *a)
{
	static char *tools[] = { "iptables", "ip6tables" };
	int ret;

	if (nl_link_index(CLASSIC_BRIDGE) < 0) {
		ret = nl_bridge_create(CLASSIC_BRIDGE);
		if (ret)
			return ret;
	}
	/* A fixed MAC: a bridge otherwise takes its lowest port's, which changes. */
	if ((ret = nl_link_set_mac(CLASSIC_BRIDGE, bridge_mac)) || (ret = nl_link_set_up(CLASSIC_BRIDGE)))
		return ret;
	for (int i = 0; i < 2; i++) {
		char *create[] = { tools[i], "-w", "-N", "PETREL", NULL };
		char *check[] = { tools[i], "-w", "-C", "FORWARD", "-j", "PETREL", NULL };
		char *insert[] = { tools[i], "-w", "-I", "FORWARD", "1", "-j", "PETREL", NULL };

		run(create, NULL);   /* exists after a restart */
		if (run(check, NULL) && (ret = run(insert, NULL)))
			return ret;
	}
	return 0;
}

/* Put an endpoint's host side on the bridge; the host reaches it through the bridge. */
int classic_endpoint_attach(struct agent *a, const struct endpoint *ep)
{
	struct cidr h4 = { .addr = ep->ip4, .prefixlen = 32 };
	struct cidr h6 = { .addr = ep->ip6, .prefixlen = 128 };
	int ret;

	if ((ret = nl_link_set_master(ep->ifname, CLASSIC_BRIDGE)) ||
	    (ret = nl_link_set_up(ep->ifname)) ||
	    (ret = nl_route_add(&h4, NULL, CLASSIC_BRIDGE, false)) ||
	    (ret = nl_route_add(&h6, NULL, CLASSIC_BRIDGE, false)) ||
	    (ret = nl_neigh_add_permanent(CLASSIC_BRIDGE, &ep->ip4, ep->mac)) ||
	    (ret = nl_neigh_add_permanent(CLASSIC_BRIDGE, &ep->ip6, ep->mac)))
		return ret;
	return 0;
}

/* Kernel routes to other nodes' blocks, as plain routed container networks install. */
int classic_route_block(const struct cidr *block, const struct ip_addr *node)
{
	if (!node->family || node->family != block->addr.family)
		return 0;
	return nl_route_add(block, node, NULL, false);
}

static void peer_matches(FILE *f, const char *head, const struct dp_policy_entry *e,
			 const struct classic_peers *peers, int family, const char *tail)
{
	char buf[CIDR_STRLEN];
	bool any = false;

	if (e->identity == 0) {
		fprintf(f, "%s%s\n", head, tail);
		return;
	}
	for (size_t i = 0; i < peers->n; i++) {
		if (peers->v[i].identity != e->identity || peers->v[i].prefix.addr.family != family)
			continue;
		fprintf(f, "%s %s %s%s\n", head, e->dir == 0 ? "-s" : "-d",
			cidr_str(&peers->v[i].prefix, buf), tail);
		any = true;
	}
	(void)any;   /* an identity with no address in this family matches nothing here */
}

static int by_rule(const void *x, const void *y)
{
	const struct dp_policy_entry *a = x, *b = y;

	if (a->policy_id != b->policy_id)
		return a->policy_id < b->policy_id ? -1 : 1;
	return (int)a->rule - (int)b->rule;
}

int classic_policy_apply(struct agent *a, const struct dp_policy_entry *in, size_t n,
			 const struct dp_enforce *enforce, size_t n_enforce,
			 const struct endpoint *local, size_t n_local, const struct classic_peers *peers)
{
	static char *tools[] = { "iptables-restore", "ip6tables-restore" };
	struct dp_policy_entry *entries = malloc((n + 1) * sizeof(*entries));
	int ret = 0;

	if (!entries)
		return -ENOMEM;
	/* iptables walks rules in order: keep the policy file's order, as a hand-written
	 * ruleset would, so "the allowing rule comes last" really walks the whole chain. */
	memcpy(entries, in, n * sizeof(*entries));
	qsort(entries, n, sizeof(*entries), by_rule);
	for (int fam = 0; fam < 2 && !ret; fam++) {
		int family = fam ? AF_INET6 : AF_INET;
		char *text = NULL, buf[CIDR_STRLEN];
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		char *argv[] = { tools[fam], "-w", "--noflush", NULL };

		if (!f) {
			free(entries);
			return -ENOMEM;
		}
		fprintf(f, "*filter\n:PETREL - [0:0]\n");
		fprintf(f, "-A PETREL -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n");
		for (size_t i = 0; i < n_enforce; i++) {
			const struct endpoint *ep = NULL;
			for (size_t k = 0; k < n_local && !ep; k++)
				if (local[k].id == enforce[i].ep_id)
					ep = &local[k];
			if (!ep)
				continue;
			const struct ip_addr *ip = fam ? &ep->ip6 : &ep->ip4;
			struct cidr host = { .addr = *ip, .prefixlen = fam ? 128 : 32 };
			if (!ip->family)
				continue;
			cidr_str(&host, buf);
			if (enforce[i].ingress)
				fprintf(f, ":PI%08x - [0:0]\n-A PETREL -d %s -j PI%08x\n", ep->id, buf, ep->id);
			if (enforce[i].egress)
				fprintf(f, ":PE%08x - [0:0]\n-A PETREL -s %s -j PE%08x\n", ep->id, buf, ep->id);
		}
		/* Deny rules first, then allows, then the chain's default-deny. */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < n; i++) {
				const struct dp_policy_entry *e = &entries[i];
				char head[96], tail[96] = "";

				if ((pass == 0) != (e->verdict == 2))
					continue;
				snprintf(head, sizeof(head), "-A P%c%08x", e->dir == 0 ? 'I' : 'E', e->ep_id);
				if (e->proto) {
					size_t off = (size_t)snprintf(tail, sizeof(tail), " -p %s",
								      e->proto == 17 ? "udp" : "tcp");
					if (e->port_bits)
						snprintf(tail + off, sizeof(tail) - off, " --dport %u:%u", e->port,
							 e->port + (1u << (16 - e->port_bits)) - 1);
				}
				strncat(tail, e->verdict == 2 ? " -j DROP" : " -j ACCEPT", sizeof(tail) - strlen(tail) - 1);
				peer_matches(f, head, e, peers, family, tail);
			}
		}
		for (size_t i = 0; i < n_enforce; i++) {
			if (enforce[i].ingress)
				fprintf(f, "-A PI%08x -j DROP\n", enforce[i].ep_id);
			if (enforce[i].egress)
				fprintf(f, "-A PE%08x -j DROP\n", enforce[i].ep_id);
		}
		fprintf(f, "COMMIT\n");
		fclose(f);
		ret = run(argv, text);
		if (ret)
			log_err("%s rejected petrel's rules", tools[fam]);
		free(text);
	}
	free(entries);
	return ret;
}
