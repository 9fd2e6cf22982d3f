/* `petrel lab`'s processes and state: etcd, the PKI, one petreld per node, lab.json, and the
 * teardown that removes everything named after a lab, also after a crash. */
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

int lab_start_etcd(struct cli *c, struct lab *l)
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
void lab_allow_lazy_migration(struct cli *c)
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

/* The lab's PKI for the agents' mutual TLS: one CA (for signing certificates only), and
 * per node a key and a certificate naming the node (CN and subjectAltName) for TLS client
 * and server authentication, made with the openssl tool. */
int lab_make_certs(struct cli *c, struct lab *l)
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
				 "-days", "3650", "-subj", subj,
				 "-addext", "basicConstraints=critical,CA:TRUE",
				 "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL };
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
				"-subj", subj, "-addext", san,
				/* For TLS both ways between agents, and nothing else. */
				"-addext", "keyUsage=critical,digitalSignature",
				"-addext", "extendedKeyUsage=serverAuth,clientAuth", NULL };
		char *sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
				 "-CAcreateserial", "-out", crt, "-days", "3650", "-copy_extensions",
				 "copy", NULL };
		if (lab_run_tool(req, log) || lab_run_tool(sign, log))
			return cli_error(c, "cannot create the certificate of node%d; see %s", i, log);
	}
	return 0;
}

int lab_start_agent(struct cli *c, struct lab *l, int i)
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

int lab_write_json(struct lab *l)
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
int lab_teardown(const char *name)
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
