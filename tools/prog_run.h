/* Shared by the BPF_PROG_RUN fixtures: run a TC program once on a frame. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <net/if.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

/* An Ethernet + IPv4 frame, protocol proto, src:sport -> dst:dport, with an 8-octet L4
 * header (a UDP header; for TCP only the ports matter to the parsers) and 4 octets of
 * payload. Returns its length; buf needs 64 octets. */
static inline uint32_t frame4(uint8_t *buf, uint8_t proto, const char *src, uint16_t sport,
			      const char *dst, uint16_t dport)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *l4 = (void *)(ip + 1);

	memset(buf, 0, sizeof(*eth) + sizeof(*ip) + sizeof(*l4) + 4);
	memset(eth->h_dest, 0xaa, 6);
	memset(eth->h_source, 0xbb, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*l4) + 4);
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	l4->source = htons(sport);
	l4->dest = htons(dport);
	l4->len = htons(sizeof(*l4) + 4);
	return sizeof(*eth) + sizeof(*ip) + sizeof(*l4) + 4;
}

/* An Ethernet + IPv6 UDP frame, src -> dst, ports 0, with payload octets of zeros after the
 * UDP header. Returns its length; buf needs 62 + payload octets. */
static inline uint32_t frame6(uint8_t *buf, const char *src, const char *dst, uint16_t payload)
{
	struct ethhdr *eth = (void *)buf;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip6 + 1);

	memset(buf, 0, sizeof(*eth) + sizeof(*ip6) + sizeof(*udp) + payload);
	memset(eth->h_dest, 0xaa, 6);
	memset(eth->h_source, 0xbb, 6);
	eth->h_proto = htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->nexthdr = IPPROTO_UDP;
	ip6->hop_limit = 64;
	ip6->payload_len = htons((uint16_t)(sizeof(*udp) + payload));
	inet_pton(AF_INET6, src, &ip6->saddr);
	inet_pton(AF_INET6, dst, &ip6->daddr);
	udp->len = ip6->payload_len;
	return (uint32_t)(sizeof(*eth) + sizeof(*ip6) + sizeof(*udp) + payload);
}

/* The program's verdict, with the output frame in out (*out_len octets); -100 when the
 * kernel refuses to run it. The context says ifindex (the device the FIB looks up from). */
static inline int prog_run_on(int ifindex, struct bpf_program *prog, const void *in, uint32_t in_len,
			      void *out, uint32_t out_size, uint32_t *out_len)
{
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = in_len,
		    .data_out = out, .data_size_out = out_size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int ret = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (ret) {
		fprintf(stderr, "test_run: %s\n", strerror(-ret));
		return -100;
	}
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

static inline int prog_run(struct bpf_program *prog, const void *in, uint32_t in_len, void *out,
			   uint32_t out_size, uint32_t *out_len)
{
	return prog_run_on(1, prog, in, in_len, out, out_size, out_len);
}

/* Move this process into a network namespace of its own where the native path's FIB lookup
 * succeeds: veth pf0 with fd00:198:18::11/64, forwarding on, and node fd00:198:18::12 a
 * permanent neighbour on it. Returns pf0's ifindex (for prog_run_on), -1 on failure. */
static inline int prog_run_fib_netns(void)
{
	if (unshare(CLONE_NEWNET) ||
	    system("ip link add pf0 type veth peer name pf1 && ip link set pf0 up && ip link set pf1 up &&"
		   "ip addr add fd00:198:18::11/64 dev pf0 nodad &&"
		   "ip -6 neigh add fd00:198:18::12 lladdr 02:00:00:00:00:12 dev pf0 nud permanent &&"
		   "sysctl -qw net.ipv6.conf.all.forwarding=1"))
		return -1;
	return (int)if_nametoindex("pf0");
}

/* A pin directory of this process's own on bpffs, /sys/fs/bpf/petrel-<what>-<pid>, for
 * programs loaded outside an agent (bpffs is mounted where missing, as the agent does).
 * Returns 0, or -errno when there is no bpffs to pin in. */
static inline int prog_run_pin_dir(char *pin, size_t len, const char *what)
{
	struct statfs sfs;

	if (statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC)
		mount("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700");
	snprintf(pin, len, "/sys/fs/bpf/petrel-%s-%d", what, getpid());
	return mkdir(pin, 0700) && errno != EEXIST ? -errno : 0;
}

/* Remove that directory and the maps pinned in it; 0, or -1 when it could not be. */
static inline int prog_run_pin_dir_remove(const char *pin)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pin);
	if (system(cmd)) {
		fprintf(stderr, "cannot remove %s\n", pin);
		return -1;
	}
	return 0;
}
