/* `petrel lab`: a whole cluster in network namespaces on one machine. A fabric bridge joins
 * the nodes and an "outside" client; etcd runs in the fabric when there are 2+ nodes; one
 * petreld runs per node. Everything a lab creates is named "<lab>-*", so `lab down` can
 * remove it even when lab.json is lost. */
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

#define FABRIC4  "198.18.0.1"
#define FABRIC6  "fd00:198:18::1"
#define OUTSIDE4 "198.18.0.254"
#define OUTSIDE6 "fd00:198:18::254"
#define ETCD_URL "http://" FABRIC4 ":2379"
#define MAX_NODES 16

struct lab {
	char name[16];
	char dir[128];
	int nodes;
	const char *mode;
	const char *backend;
	long ct_buckets;               /* conntrack-buckets for every node's petreld (0: unset) */
	pid_t etcd_pid;
	pid_t agent_pid[MAX_NODES + 1];
};

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

static int setup_fabric(void *arg)
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

/* Start a detached process (own session, stdin from /dev/null, output to log), in the
 * network namespace netns when given (through nsenter, since a spawned child cannot
 * setns itself before exec). */
static pid_t spawn(const char *netns, char *const argv[], const char *log)
{
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int fds[3] = { -1, out, out };
	char *args[64], net[300];
	int n = 0;
	pid_t pid;

	if (out < 0)
		return -ENOENT;
	if (netns) {
		snprintf(net, sizeof(net), "--net=" NETNS_RUN_DIR "/%s", netns);
		args[n++] = "nsenter";
		args[n++] = net;
		args[n++] = "--";
	}
	for (int i = 0; argv[i] && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	pid = proc_spawn_ex(args[0], args, fds, -1, true);
	close(out);
	return pid;
}

static bool alive(pid_t pid)
{
	int status;

	if (pid <= 0)
		return false;
	if (waitpid(pid, &status, WNOHANG) == pid)
		return false;
	return kill(pid, 0) == 0;
}

static int tcp_probe(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(2379) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	inet_pton(AF_INET, FABRIC4, &a.sin_addr);
	ret = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	close(fd);
	return ret;
}

static int start_etcd(struct cli *c, struct lab *l)
{
	char ns[64], data[200], log[200], cluster[64];
	char *argv[] = { "etcd", "--name", l->name, "--data-dir", data,
			 "--listen-client-urls", ETCD_URL, "--advertise-client-urls", ETCD_URL,
			 "--listen-peer-urls", "http://127.0.0.1:2380",
			 "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
			 "--initial-cluster", cluster, NULL };

	snprintf(ns, sizeof(ns), "%s-fabric", l->name);
	snprintf(data, sizeof(data), "%s/etcd", l->dir);
	snprintf(log, sizeof(log), "%s/etcd.log", l->dir);
	snprintf(cluster, sizeof(cluster), "%s=http://127.0.0.1:2380", l->name);
	lab_progress("starting etcd in %s", ns);
	l->etcd_pid = spawn(ns, argv, log);
	if (l->etcd_pid < 0)
		return cli_error(c, "cannot start etcd: %s (is etcd-server installed?)", strerror(-l->etcd_pid));
	for (int i = 0; i < 150; i++) {
		if (!alive(l->etcd_pid))
			return cli_error(c, "etcd exited at start; see %s", log);
		if (lab_in_netns(ns, tcp_probe, NULL) == 0)
			return 0;
		usleep(100 * 1000);
	}
	return cli_error(c, "etcd did not answer on %s within 15 s; see %s", ETCD_URL, log);
}

static void petreld_path(char *buf, size_t len)
{
	const char *env = getenv("PETRELD");

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	if (exe_sibling("petreld", buf, len))
		snprintf(buf, len, "petreld");
}

static void log_tail(const char *path)
{
	char *text = NULL;

	if (read_file(path, &text))
		return;
	size_t n = strlen(text);
	const char *start = n > 1500 ? text + n - 1500 : text;
	fprintf(stderr, "--- last lines of %s:\n%s", path, start);
	free(text);
}

/* CRIU's lazy-pages dump needs 4 MiB pipes; a root without CAP_SYS_RESOURCE gets them only
 * when fs.pipe-max-size allows. The lab raises it (a machine-wide setting, harmless) so
 * `petrel migrate --lazy` works in labs; elsewhere the agent says what to do. */
static void allow_lazy_migration(struct cli *c)
{
	char *text = NULL;

	if (read_file("/proc/sys/fs/pipe-max-size", &text) == 0 && atol(text) < 4194304) {
		lab_progress("raising fs.pipe-max-size to %s for lazy migration", "4194304");
		sysctl_write("fs.pipe-max-size", "4194304");
	}
	free(text);
}

int lab_run_tool(char *const argv[], const char *log)
{
	pid_t pid = spawn(NULL, argv, log);

	if (pid < 0)
		return (int)pid;
	return proc_wait(pid, -1) == 0 ? 0 : -EIO;
}

/* The lab's PKI for the agents' mutual TLS: one CA, and per node a key and a certificate
 * naming the node (CN and subjectAltName), made with the openssl tool. */
static int make_certs(struct cli *c, struct lab *l)
{
	char dir[256], log[300], ca[300], cakey[300], subj[128], key[300], csr[300], crt[300];
	char san[64];
	int ret;

	snprintf(dir, sizeof(dir), "%s/pki", l->dir);
	snprintf(log, sizeof(log), "%s/openssl.log", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", dir);
	snprintf(subj, sizeof(subj), "/CN=petrel lab %s CA", l->name);
	if ((ret = mkdir_p(dir, 0700)))
		return cli_error(c, "cannot create %s: %s", dir, strerror(-ret));
	lab_progress("creating the cluster CA and node certificates in %s", dir);
	{
		char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
				 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", cakey, "-out", ca,
				 "-days", "3650", "-subj", subj, NULL };
		if (lab_run_tool(argv, log))
			return cli_error(c, "cannot create the lab CA; see %s", log);
	}
	for (int i = 1; i <= l->nodes; i++) {
		snprintf(key, sizeof(key), "%s/node%d.key", dir, i);
		snprintf(csr, sizeof(csr), "%s/node%d.csr", dir, i);
		snprintf(crt, sizeof(crt), "%s/node%d.pem", dir, i);
		snprintf(subj, sizeof(subj), "/CN=node%d", i);
		snprintf(san, sizeof(san), "subjectAltName=DNS:node%d", i);
		char *req[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt",
				"ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
				"-subj", subj, "-addext", san, NULL };
		char *sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
				 "-CAcreateserial", "-out", crt, "-days", "3650", "-copy_extensions",
				 "copy", NULL };
		if (lab_run_tool(req, log) || lab_run_tool(sign, log))
			return cli_error(c, "cannot create the certificate of node%d; see %s", i, log);
	}
	return 0;
}

static int start_agent(struct cli *c, struct lab *l, int i)
{
	char dir[200], conf[256], sock[256], log[256], ns[64], bin[512], text[2048];
	char *argv[] = { bin, "--netns", ns, "--config", conf, NULL };
	json_t *resp = NULL;
	long status = 0;
	int ret;

	snprintf(dir, sizeof(dir), "%s/node%d", l->dir, i);
	snprintf(conf, sizeof(conf), "%s/petreld.conf", dir);
	snprintf(sock, sizeof(sock), "%s/petreld.sock", dir);
	snprintf(log, sizeof(log), "%s/petreld.log", dir);
	snprintf(ns, sizeof(ns), "%s-node%d", l->name, i);
	if ((ret = mkdir_p(dir, 0755)))
		return cli_error(c, "cannot create %s: %s", dir, strerror(-ret));
	snprintf(text, sizeof(text),
		 "# written by petrel lab up\nnode = node%d\nunderlay-device = eth0\n"
		 "underlay-ipv4 = 198.18.0.%d\nunderlay-ipv6 = fd00:198:18::%d\nmode = %s\n"
		 "state-dir = %s/state\nsocket = %s\nbpf-pin-dir = /sys/fs/bpf/petrel/%s/node%d\n"
		 "netns-prefix = %s-ep-\npolicy-backend = %s\nioam-node-id = %d\n%s%s\n"
		 "tls-ca = %s/pki/ca.pem\ntls-cert = %s/pki/node%d.pem\ntls-key = %s/pki/node%d.key\n",
		 i, 10 + i, 10 + i, l->mode, dir, sock, l->name, i, l->name, l->backend, i,
		 l->nodes >= 2 ? "etcd = " : "", l->nodes >= 2 ? ETCD_URL : "",
		 l->dir, l->dir, i, l->dir, i);
	if (l->ct_buckets)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "conntrack-buckets = %ld\n",
			 l->ct_buckets);
	if ((ret = write_file_atomic(conf, text)))
		return cli_error(c, "cannot write %s: %s", conf, strerror(-ret));
	petreld_path(bin, sizeof(bin));
	lab_progress("starting petreld on %s", ns);
	l->agent_pid[i] = spawn(NULL, argv, log);
	if (l->agent_pid[i] < 0)
		return cli_error(c, "cannot start %s: %s", bin, strerror(-l->agent_pid[i]));
	for (int t = 0; t < 200; t++) {
		if (!alive(l->agent_pid[i])) {
			log_tail(log);
			return cli_error(c, "petreld for node%d exited at start; see %s", i, log);
		}
		if (api_call(sock, "GET", "/v1/node", NULL, 2000, &status, &resp) == 0 && status == 200) {
			json_decref(resp);
			return 0;
		}
		json_decref(resp);
		resp = NULL;
		usleep(100 * 1000);
	}
	log_tail(log);
	return cli_error(c, "petreld for node%d did not answer within 20 s; see %s", i, log);
}

static int write_lab_json(struct lab *l)
{
	json_t *nodes = json_array(), *j;
	char path[256], ns[64], sock[256], ip4[32], ip6[48];
	int ret;

	for (int i = 1; i <= l->nodes; i++) {
		snprintf(ns, sizeof(ns), "%s-node%d", l->name, i);
		snprintf(sock, sizeof(sock), "%s/node%d/petreld.sock", l->dir, i);
		snprintf(ip4, sizeof(ip4), "198.18.0.%d", 10 + i);
		snprintf(ip6, sizeof(ip6), "fd00:198:18::%d", 10 + i);
		json_array_append_new(nodes, json_pack("{s:s+, s:s, s:s, s:s, s:s, s:i}", "name", "node",
			(snprintf(path, sizeof(path), "%d", i), path), "netns", ns, "ipv4", ip4, "ipv6", ip6,
			"socket", sock, "pid", (int)l->agent_pid[i]));
	}
	snprintf(ns, sizeof(ns), "%s-outside", l->name);
	j = json_pack("{s:s, s:s, s:I, s:o, s:{s:s, s:s, s:s}, s:{s:s+, s:s, s:s}}",
		      "name", l->name, "mode", l->mode, "created", (json_int_t)time(NULL),
		      "nodes", nodes, "outside", "netns", ns, "ipv4", OUTSIDE4, "ipv6", OUTSIDE6,
		      "fabric", "netns", l->name, "-fabric", "ipv4", FABRIC4, "ipv6", FABRIC6);
	json_object_set_new(j, "etcd", l->etcd_pid > 0 ?
			    json_pack("{s:s, s:i}", "endpoint", ETCD_URL, "pid", (int)l->etcd_pid) : json_null());
	ret = lab_json_save(l->name, j);
	json_decref(j);
	return ret;
}

/* Remove everything named after the lab; tolerant of anything already gone. */
static int teardown(const char *name)
{
	char prefix[32], path[256], **names = NULL;
	size_t n = 0;
	int failed = 0;

	snprintf(prefix, sizeof(prefix), "%s-", name);
	if (netns_list(prefix, &names, &n) == 0) {
		/* Endpoints first, then nodes (their agents die with them) and routers, then the
		 * fabric. */
		for (int pass = 0; pass < 3; pass++) {
			for (size_t i = 0; i < n; i++) {
				const char *rest;
				bool is_ep, is_fabric;

				if (!names[i])
					continue;
				rest = names[i] + strlen(prefix);
				is_ep = !strncmp(rest, "ep-", 3);
				is_fabric = !strcmp(rest, "fabric");
				if ((pass == 0 && !is_ep) || (pass == 1 && (is_ep || is_fabric)) ||
				    (pass == 2 && !is_fabric))
					continue;
				if (!is_ep && !is_fabric && strcmp(rest, "outside") && strncmp(rest, "node", 4) &&
				    strncmp(rest, LAB_ROUTER_PREFIX, strlen(LAB_ROUTER_PREFIX)))
					continue;   /* not a name this lab makes */
				if (netns_delete(names[i]))
					failed = 1;
				free(names[i]);
				names[i] = NULL;
			}
		}
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	snprintf(path, sizeof(path), "/sys/fs/bpf/petrel/%s", name);
	rm_tree(path);
	snprintf(path, sizeof(path), LAB_DIR "/%s", name);
	if (rm_tree(path))
		failed = 1;
	return failed ? -EBUSY : 0;
}

int lab_opt_name(struct cli *c, const char *cmd, int argc, char **argv, int *i, const char **name)
{
	if (!strcmp(argv[*i], "--name") && *i + 1 < argc) {
		*name = argv[++*i];
		if (!lab_name_valid(*name))
			return cli_usage(c, cmd, "lab name '%s' must be 1-12 characters of a-z and 0-9", *name);
		return 0;
	}
	return -1;
}

static int status_print(struct cli *c, const char *name);

int cmd_lab_up(struct cli *c, int argc, char **argv)
{
	struct lab l = { .nodes = 3, .mode = "vxlan", .backend = "ebpf", .etcd_pid = 0 };
	const char *name = c->lab;
	char ns[64], side[16], ip4[32], ip6[48];
	struct stat st;
	long n;
	int ret;

	for (int i = 0; i < argc; i++) {
		if ((ret = lab_opt_name(c, "lab up", argc, argv, &i, &name)) >= 0) {
			if (ret)
				return ret;
		} else if (!strcmp(argv[i], "--nodes") && i + 1 < argc) {
			if (args_uint(argv[++i], 1, MAX_NODES, &n))
				return cli_usage(c, "lab up", "--nodes must be a number in 1-%d", MAX_NODES);
			l.nodes = (int)n;
		} else if (!strcmp(argv[i], "--policy-backend") && i + 1 < argc) {
			l.backend = argv[++i];
			if (strcmp(l.backend, "ebpf") && strcmp(l.backend, "iptables"))
				return cli_usage(c, "lab up", "--policy-backend must be ebpf or iptables");
		} else if (!strcmp(argv[i], "--conntrack-buckets") && i + 1 < argc) {
			if (args_uint(argv[++i], 1024, 1 << 24, &l.ct_buckets))
				return cli_usage(c, "lab up", "--conntrack-buckets must be a number in 1024-%d",
						 1 << 24);
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			l.mode = argv[++i];
			if (strcmp(l.mode, "vxlan") && strcmp(l.mode, "native"))
				return cli_usage(c, "lab up", "--mode must be vxlan or native, not '%s'", l.mode);
		} else {
			return cli_usage(c, "lab up", "unexpected argument '%s'", argv[i]);
		}
	}
	if (!lab_name_valid(name))
		return cli_usage(c, "lab up", "lab name '%s' must be 1-12 characters of a-z and 0-9", name);
	if (!strcmp(l.backend, "iptables") && strcmp(l.mode, "native"))
		return cli_usage(c, "lab up", "--policy-backend iptables needs --mode native");
	if ((ret = cli_require_root(c, "lab up")))
		return ret;
	snprintf(l.name, sizeof(l.name), "%s", name);
	snprintf(l.dir, sizeof(l.dir), LAB_DIR "/%s", name);
	snprintf(ns, sizeof(ns), "%s-fabric", name);
	if (stat(l.dir, &st) == 0 || netns_exists(ns))
		return cli_error(c, "lab '%s' already exists (remove it with `petrel lab down --name %s`)",
				 name, name);
	if ((ret = mkdir_p(l.dir, 0755)))
		return cli_error(c, "cannot create %s: %s", l.dir, strerror(-ret));

	lab_progress("creating fabric %s", ns);
	ret = netns_create(ns);
	if (!ret)
		ret = lab_in_netns(ns, setup_fabric, NULL);
	if (ret) {
		cli_error(c, "cannot build the fabric namespace: %s", strerror(-ret));
		goto fail;
	}
	for (int i = 1; i <= l.nodes; i++) {
		snprintf(ns, sizeof(ns), "node%d", i);
		snprintf(side, sizeof(side), "n%d", i);
		snprintf(ip4, sizeof(ip4), "198.18.0.%d", 10 + i);
		snprintf(ip6, sizeof(ip6), "fd00:198:18::%d", 10 + i);
		lab_progress("creating node %s", ns);
		if ((ret = lab_add_host(l.name, ns, side, ip4, ip6, true))) {
			cli_error(c, "cannot build %s: %s", ns, strerror(-ret));
			goto fail;
		}
	}
	lab_progress("creating %s", "outside");
	if ((ret = lab_add_host(l.name, "outside", "out", OUTSIDE4, OUTSIDE6, false))) {
		cli_error(c, "cannot build the outside namespace: %s", strerror(-ret));
		goto fail;
	}
	if (l.nodes >= 2 && start_etcd(c, &l))
		goto fail;
	if (make_certs(c, &l))
		goto fail;
	allow_lazy_migration(c);
	for (int i = 1; i <= l.nodes; i++)
		if (start_agent(c, &l, i))
			goto fail;
	if ((ret = write_lab_json(&l))) {
		cli_error(c, "cannot write lab.json: %s", strerror(-ret));
		goto fail;
	}
	fprintf(stderr, "lab: '%s' is up with %d node%s in %s mode\n", name, l.nodes,
		l.nodes > 1 ? "s" : "", l.mode);
	if (!is_json_context()) {
		printf("lab %s: %d nodes (%s)\n", name, l.nodes, l.mode);
		for (int i = 1; i <= l.nodes; i++)
			printf("  node%d  198.18.0.%d  fd00:198:18::%d   petrel --lab %s --node node%d endpoint list\n",
			       i, 10 + i, 10 + i, name, i);
		printf("  outside  %s  %s   petrel --lab %s lab exec outside -- CMD\n", OUTSIDE4, OUTSIDE6, name);
		return 0;
	}
	return status_print(c, name);
fail:
	fprintf(stderr, "lab: removing what was built of '%s'\n", name);
	teardown(name);
	return 1;
}

int cmd_lab_down(struct cli *c, int argc, char **argv)
{
	const char *name = c->lab;
	char path[256], *text = NULL;
	json_t *j, *node;
	size_t i;
	int ret;

	for (int k = 0; k < argc; k++) {
		if ((ret = lab_opt_name(c, "lab down", argc, argv, &k, &name)) > 0)
			return ret;
		if (ret < 0)
			return cli_usage(c, "lab down", "unexpected argument '%s'", argv[k]);
	}
	if (!lab_name_valid(name))
		return cli_usage(c, "lab down", "lab name '%s' must be 1-12 characters of a-z and 0-9", name);
	if ((ret = cli_require_root(c, "lab down")))
		return ret;
	/* Agents first, gently, so they can close their stores; netns deletion kills the rest. */
	snprintf(path, sizeof(path), LAB_DIR "/%s/lab.json", name);
	if (read_file(path, &text) == 0 && (j = json_loads(text, 0, NULL))) {
		json_array_foreach(json_object_get(j, "nodes"), i, node) {
			pid_t pid = (pid_t)json_integer_value(json_object_get(node, "pid"));
			if (pid > 0)
				kill(pid, SIGTERM);
		}
		json_decref(j);
	}
	free(text);
	lab_containers_down(name);
	ret = teardown(name);
	if (ret)
		return cli_error(c, "lab '%s' could not be removed completely: %s", name, strerror(-ret));
	if (!is_json_context())
		fprintf(stderr, "lab: '%s' is down\n", name);
	else
		print_json(NULL, json_pack("{s:s}", "down", name));
	return 0;
}

json_t *lab_json_load(struct cli *c, const char *lab, int *err)
{
	char path[256], *text = NULL;
	json_t *j;

	snprintf(path, sizeof(path), LAB_DIR "/%s/lab.json", lab);
	if (read_file(path, &text)) {
		*err = cli_error(c, "no lab '%s' on this machine (start one with `petrel lab up --name %s`)",
				 lab, lab);
		return NULL;
	}
	j = json_loads(text, 0, NULL);
	free(text);
	if (!j)
		*err = cli_error(c, "%s is corrupt; remove the lab with `petrel lab down --name %s`", path, lab);
	return j;
}

int lab_json_save(const char *lab, json_t *j)
{
	char path[256], *text = json_dumps(j, JSON_INDENT(2));
	int ret;

	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), LAB_DIR "/%s/lab.json", lab);
	ret = write_file_atomic(path, text);
	free(text);
	return ret;
}

static int status_print(struct cli *c, const char *name)
{
	json_t *j, *node;
	size_t i;
	int err;

	if (!(j = lab_json_load(c, name, &err)))
		return err;
	json_array_foreach(json_object_get(j, "nodes"), i, node) {
		const char *sock = json_string_value(json_object_get(node, "socket"));
		json_t *resp = NULL;
		long status = 0;
		bool up = sock && api_call(sock, "GET", "/v1/node", NULL, 2000, &status, &resp) == 0 &&
			  status == 200;

		json_decref(resp);
		json_object_set_new(node, "alive", json_boolean(up));
	}
	if (is_json_context()) {
		print_json(NULL, j);
	} else {
		json_t *o = json_object_get(j, "outside"), *e = json_object_get(j, "etcd");
		printf("lab %s (%s mode)\n", name, json_string_value(json_object_get(j, "mode")));
		printf("  %-8s %-14s %-16s %-20s %s\n", "NODE", "NETNS", "IPV4", "IPV6", "AGENT");
		json_array_foreach(json_object_get(j, "nodes"), i, node)
			printf("  %-8s %-14s %-16s %-20s %s (pid %lld)\n",
			       json_string_value(json_object_get(node, "name")),
			       json_string_value(json_object_get(node, "netns")),
			       json_string_value(json_object_get(node, "ipv4")),
			       json_string_value(json_object_get(node, "ipv6")),
			       json_is_true(json_object_get(node, "alive")) ? "up" : "DOWN",
			       (long long)json_integer_value(json_object_get(node, "pid")));
		printf("  %-8s %-14s %-16s %-20s\n", "outside", json_string_value(json_object_get(o, "netns")),
		       json_string_value(json_object_get(o, "ipv4")), json_string_value(json_object_get(o, "ipv6")));
		printf("  etcd     %s\n", json_is_object(e) ?
		       json_string_value(json_object_get(e, "endpoint")) : "none (single node, SQLite)");
		lab_routers_print(json_object_get(j, "routers"));
	}
	json_decref(j);
	return 0;
}

int cmd_lab_status(struct cli *c, int argc, char **argv)
{
	const char *name = c->lab;
	int ret;

	for (int k = 0; k < argc; k++) {
		if ((ret = lab_opt_name(c, "lab status", argc, argv, &k, &name)) > 0)
			return ret;
		if (ret < 0)
			return cli_usage(c, "lab status", "unexpected argument '%s'", argv[k]);
	}
	return status_print(c, name);
}

int cmd_lab_exec(struct cli *c, int argc, char **argv)
{
	const char *name = c->lab;
	char ns[64];
	int k = 0, ret;

	if (argc > 1 && (ret = lab_opt_name(c, "lab exec", argc, argv, &k, &name)) >= 0) {
		if (ret)
			return ret;
		k++;
	}
	if (argc - k < 3 || strcmp(argv[k + 1], "--"))
		return cli_usage(c, "lab exec", "expected NODE|outside|fabric -- CMD [ARG]...");
	if ((ret = cli_require_root(c, "lab exec")))
		return ret;
	snprintf(ns, sizeof(ns), "%s-%s", name, argv[k]);
	if (!netns_exists(ns))                 /* a router's name */
		snprintf(ns, sizeof(ns), "%s-" LAB_ROUTER_PREFIX "%s", name, argv[k]);
	if (!netns_exists(ns))
		return cli_error(c, "lab '%s' has no '%s' (see `petrel lab status --name %s`)", name, argv[k], name);
	return exec_in_netns(c, ns, argv + k + 2);
}
