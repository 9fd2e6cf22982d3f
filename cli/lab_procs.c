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

/* A member's plain metrics port answers /health with "true" once the cluster it is in
 * has a leader: a client port accepts connections before that. */
static int health_probe(void *arg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(*(int *)arg + 2) };
	static const char req[] = "GET /health HTTP/1.0\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = -EAGAIN;
	struct timeval tv = { .tv_sec = 1 };
	char buf[1024];
	ssize_t n, got = 0;

	inet_pton(AF_INET, FABRIC4, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1) {
		while (got < (ssize_t)sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
			got += n;
		buf[got] = 0;
		if (strstr(buf, "\"health\":\"true\""))
			ret = 0;
	}
	close(fd);
	return ret;
}

/* etcd member m's argv into args (strings in buf): TLS with client certificates from the
 * lab's CA unless insecure; peers on the fabric's loopback. */
static void etcd_argv(struct lab *l, int m, const char *cluster, char *buf, size_t len, char **args)
{
	char *p = buf;
	int n = 0;

#define ARG(...) (args[n++] = p, p += snprintf(p, (size_t)(buf + len - p), __VA_ARGS__) + 1)
	ARG("etcd");
	ARG("--name");
	ARG("%s-e%d", l->name, m);
	ARG("--data-dir");
	ARG("%s/etcd/member%d", l->dir, m);
	ARG("--listen-client-urls");
	ARG("%s://%s:%d", l->etcd_insecure ? "http" : "https", FABRIC4, ETCD_PORT(m));
	ARG("--advertise-client-urls");
	ARG("%s://%s:%d", l->etcd_insecure ? "http" : "https", FABRIC4, ETCD_PORT(m));
	ARG("--listen-metrics-urls");
	ARG("http://%s:%d", FABRIC4, ETCD_PORT(m) + 2);
	ARG("--listen-peer-urls");
	ARG("http://127.0.0.1:%d", ETCD_PORT(m) + 1);
	ARG("--initial-advertise-peer-urls");
	ARG("http://127.0.0.1:%d", ETCD_PORT(m) + 1);
	ARG("--initial-cluster");
	ARG("%s", cluster);
	/* One policy file applies in one transaction: room for ten thousand policies. */
	ARG("--max-txn-ops");
	ARG("20000");
	ARG("--max-request-bytes");
	ARG("33554432");
	if (!l->etcd_insecure) {
		ARG("--client-cert-auth");
		ARG("--trusted-ca-file");
		ARG("%s/pki/ca.pem", l->dir);
		ARG("--cert-file");
		ARG("%s/pki/etcd.pem", l->dir);
		ARG("--key-file");
		ARG("%s/pki/etcd.key", l->dir);
	}
#undef ARG
	args[n] = NULL;
}

int lab_start_etcd(struct cli *c, struct lab *l)
{
	char ns[64], log[200], cluster[512] = "", buf[2048], *argv[32];
	size_t off = 0;

	snprintf(ns, sizeof(ns), "%s-fabric", l->name);
	l->etcd_urls[0] = 0;
	for (int m = 1; m <= l->etcd_members; m++) {
		off += (size_t)snprintf(cluster + off, sizeof(cluster) - off, "%s%s-e%d=http://127.0.0.1:%d",
					m > 1 ? "," : "", l->name, m, ETCD_PORT(m) + 1);
		snprintf(l->etcd_urls + strlen(l->etcd_urls), sizeof(l->etcd_urls) - strlen(l->etcd_urls),
			 "%s%s://%s:%d", m > 1 ? "," : "", l->etcd_insecure ? "http" : "https", FABRIC4,
			 ETCD_PORT(m));
	}
	{
		char what[128];

		snprintf(what, sizeof(what), "%d etcd member%s in %s (%s)", l->etcd_members,
			 l->etcd_members > 1 ? "s" : "", ns, l->etcd_insecure ? "plain http" :
			 "TLS, client certificates");
		lab_progress("starting %s", what);
	}
	for (int m = 1; m <= l->etcd_members; m++) {
		etcd_argv(l, m, cluster, buf, sizeof(buf), argv);
		snprintf(log, sizeof(log), "%s/etcd%d.log", l->dir, m);
		l->etcd_pid[m] = spawn(ns, argv, log);
		if (l->etcd_pid[m] < 0)
			return cli_error(c, "cannot start etcd: %s (is etcd-server installed?)",
					 strerror(-l->etcd_pid[m]));
	}
	/* Every member healthy: the cluster has its quorum and a leader. */
	for (int m = 1; m <= l->etcd_members; m++) {
		int port = ETCD_PORT(m), i;

		snprintf(log, sizeof(log), "%s/etcd%d.log", l->dir, m);
		for (i = 0; i < 150; i++) {
			if (!alive(l->etcd_pid[m]))
				return cli_error(c, "etcd member %d exited at start; see %s", m, log);
			if (lab_in_netns(ns, health_probe, &port) == 0)
				break;
			usleep(100 * 1000);
		}
		if (i == 150)
			return cli_error(c, "etcd member %d was not healthy on port %d within 15 s; see %s",
					 m, port + 2, log);
	}
	return 0;
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

/* A key and a certificate signed by the lab's CA: dir/NAME.key, dir/NAME.pem. */
static int make_cert(const char *dir, const char *log, const char *name, const char *cn,
		     const char *san, const char *eku)
{
	char key[300], csr[300], crt[300], ca[300], cakey[300], subj[128], sanx[128], ekux[96];
	char *req[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			"-nodes", "-keyout", key, "-out", csr, "-subj", subj, "-addext", sanx,
			"-addext", "keyUsage=critical,digitalSignature", "-addext", ekux, NULL };
	char *sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
			 "-CAcreateserial", "-out", crt, "-days", "3650", "-copy_extensions", "copy", NULL };

	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(csr, sizeof(csr), "%s/%s.csr", dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.pem", dir, name);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cakey, sizeof(cakey), "%s/ca.key", dir);
	snprintf(subj, sizeof(subj), "/CN=%s", cn);   /* "/CN=": no CN at all */
	snprintf(sanx, sizeof(sanx), "subjectAltName=%s", san);
	snprintf(ekux, sizeof(ekux), "extendedKeyUsage=%s", eku);
	return lab_run_tool(req, log) || lab_run_tool(sign, log) ? -EIO : 0;
}

/* The lab's PKI: one CA (for signing certificates only); per node a key and a certificate
 * naming the node (CN and subjectAltName) for the agents' mutual TLS, both ways, and one
 * without a CN for etcd's JSON gateway (which refuses a CN once its authentication is on:
 * the user comes from a password, lab_etcd_auth.c); etcd's server certificate for the
 * fabric's address; an operator's client certificate for etcdctl (CN operator, its user
 * over gRPC) and one without a CN for other clients. Made with the openssl tool. */
int lab_make_certs(struct cli *c, struct lab *l)
{
	char dir[256], log[300], ca[300], cakey[300], subj[128], name[16], san[64];
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
		char etcd_name[32];

		snprintf(name, sizeof(name), "node%d", i);
		snprintf(san, sizeof(san), "DNS:node%d", i);
		snprintf(etcd_name, sizeof(etcd_name), "node%d-etcd", i);
		if (make_cert(dir, log, name, name, san, "serverAuth,clientAuth") ||
		    (l->etcd_members && !l->etcd_insecure &&
		     make_cert(dir, log, etcd_name, "", san, "clientAuth")))
			return cli_error(c, "cannot create the certificates of node%d; see %s", i, log);
	}
	if (l->etcd_members && !l->etcd_insecure &&
	    /* etcd's gateway dials etcd itself with this certificate: client too. */
	    (make_cert(dir, log, "etcd", "etcd", "IP:" FABRIC4, "serverAuth,clientAuth") ||
	     make_cert(dir, log, "operator", "operator", "DNS:operator", "clientAuth") ||
	     make_cert(dir, log, "client", "", "DNS:client", "clientAuth")))
		return cli_error(c, "cannot create etcd's certificates; see %s", log);
	return 0;
}

/* Podman on node i: the CNI backend with a network "petrel" through petrel-cni and this
 * node's agent, and temporary files of its own (Podman's default is shared, /run/libpod). */
static int podman_network(int i, const char *dir)
{
	char path[512], cni[512], text[2048];
	int ret;

	/* petrel-cni beside this petrel (the build, or make install's /usr/local/bin, whose
	 * plugin goes to /opt/cni/bin) */
	if (exe_sibling("petrel-cni", cni, sizeof(cni)) || access(cni, X_OK))
		snprintf(cni, sizeof(cni), "/opt/cni/bin/petrel-cni");
	*strrchr(cni, '/') = 0;
	snprintf(path, sizeof(path), "%s/net.d", dir);
	if ((ret = mkdir_p(path, 0755)))
		return ret;
	snprintf(path, sizeof(path), "%s/net.d/petrel.conflist", dir);
	snprintf(text, sizeof(text), "{\"cniVersion\": \"1.0.0\", \"name\": \"petrel\",\n"
		 " \"plugins\": [{\"type\": \"petrel-cni\", \"socket\": \"%s/petreld.sock\",\n"
		 "              \"labels\": {\"runtime\": \"podman\"}, \"capabilities\": {\"portMappings\": true}}]}\n",
		 dir);
	if ((ret = write_file_atomic(path, text)))
		return ret;
	snprintf(path, sizeof(path), "%s/containers.conf", dir);
	snprintf(text, sizeof(text), "# written by petrel lab up for node%d\n[network]\n"
		 "network_backend = \"cni\"\ncni_plugin_dirs = [\"%s\"]\nnetwork_config_dir = \"%s/net.d\"\n"
		 "[engine]\ntmp_dir = \"%s/podman-tmp\"\n", i, cni, dir, dir);
	return write_file_atomic(path, text);
}

int lab_start_agent(struct cli *c, struct lab *l, int i)
{
	char dir[200], conf[256], sock[256], log[256], ns[64], bin[512], text[4096];
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
		 "netns-prefix = %s-ep-\npolicy-backend = %s\nioam-node-id = %d\n"
		 "tls-ca = %s/pki/ca.pem\ntls-cert = %s/pki/node%d.pem\ntls-key = %s/pki/node%d.key\n"
		 /* Each node its own image store and Podman, as separate hosts would have. */
		 "containers-storage = %s/storage\ncontainers-runroot = %s/storage-run\n"
		 "containers-conf = %s/containers.conf\n",
		 i, 10 + i, 10 + i, l->mode, dir, sock, l->name, i, l->name, l->backend, i,
		 l->dir, l->dir, i, l->dir, i, dir, dir, dir);
	/* The node's own certificate is its etcd client certificate too. */
	if (l->etcd_members)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "etcd = %s\n", l->etcd_urls);
	if (l->etcd_members && !l->etcd_insecure) {
		char user[16], pw[300];

		snprintf(user, sizeof(user), "node%d", i);
		lab_etcd_password_path(l, user, pw, sizeof(pw));
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "etcd-ca = %s/pki/ca.pem\netcd-cert = %s/pki/node%d-etcd.pem\n"
			 "etcd-key = %s/pki/node%d-etcd.key\netcd-user = %s\n"
			 "etcd-password-file = %s\n", l->dir, l->dir, i, l->dir, i, user, pw);
		/* node1 takes an operator's writes (policies, IOAM): `petrel policy apply` goes
		 * there; the other nodes' users may write only their own keys. */
		if (i == 1) {
			lab_etcd_password_path(l, "operator", pw, sizeof(pw));
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 "etcd-operator-user = operator\netcd-operator-password-file = %s\n", pw);
		}
	}
	if (l->ct_buckets)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "conntrack-buckets = %ld\n",
			 l->ct_buckets);
	if ((ret = write_file_atomic(conf, text)))
		return cli_error(c, "cannot write %s: %s", conf, strerror(-ret));
	/* The same store for Podman run through `petrel lab exec NODE -- podman ...`. */
	snprintf(conf, sizeof(conf), "%s/storage.conf", dir);
	snprintf(text, sizeof(text), "[storage]\ndriver = \"overlay\"\ngraphroot = \"%s/storage\"\n"
		 "runroot = \"%s/storage-run\"\n", dir, dir);
	if ((ret = write_file_atomic(conf, text)))
		return cli_error(c, "cannot write %s: %s", conf, strerror(-ret));
	if ((ret = podman_network(i, dir)))
		return cli_error(c, "cannot write node%d's Podman configuration: %s", i, strerror(-ret));
	snprintf(conf, sizeof(conf), "%s/petreld.conf", dir);
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

/* What an operator needs to reach the lab's etcd with etcdctl or curl: every member's
 * endpoint and pid, the CA, a client certificate of the operator's own (its user for
 * etcdctl, by its CN), and for the JSON gateway a certificate without a CN and the
 * password files of the operator and of root. */
static json_t *etcd_json(struct lab *l)
{
	json_t *members = json_array(), *j;
	char url[64], path[256];

	for (int m = 1; m <= l->etcd_members; m++) {
		snprintf(url, sizeof(url), "%s://%s:%d", l->etcd_insecure ? "http" : "https", FABRIC4,
			 ETCD_PORT(m));
		json_array_append_new(members, json_pack("{s:i, s:s, s:s+, s:i}", "member", m,
			"endpoint", url, "metrics", "http://" FABRIC4 ":",
			(snprintf(path, sizeof(path), "%d", ETCD_PORT(m) + 2), path), "pid",
			(int)l->etcd_pid[m]));
	}
	snprintf(url, sizeof(url), "%s://%s:%d", l->etcd_insecure ? "http" : "https", FABRIC4,
		 ETCD_PORT(1));
	j = json_pack("{s:s, s:s, s:o, s:i, s:s+}", "endpoint", url, "endpoints", l->etcd_urls,
		      "members", members, "pid", (int)l->etcd_pid[1], "metrics",
		      "http://" FABRIC4 ":", (snprintf(path, sizeof(path), "%d", ETCD_PORT(1) + 2), path));
	if (!l->etcd_insecure) {
		snprintf(path, sizeof(path), "%s/pki/ca.pem", l->dir);
		json_object_set_new(j, "ca", json_string(path));
		snprintf(path, sizeof(path), "%s/pki/operator.pem", l->dir);
		json_object_set_new(j, "cert", json_string(path));
		snprintf(path, sizeof(path), "%s/pki/operator.key", l->dir);
		json_object_set_new(j, "key", json_string(path));
		snprintf(path, sizeof(path), "%s/pki/client.pem", l->dir);
		json_object_set_new(j, "gateway_cert", json_string(path));
		snprintf(path, sizeof(path), "%s/pki/client.key", l->dir);
		json_object_set_new(j, "gateway_key", json_string(path));
		lab_etcd_password_path(l, "operator", path, sizeof(path));
		json_object_set_new(j, "operator_password_file", json_string(path));
		lab_etcd_password_path(l, "root", path, sizeof(path));
		json_object_set_new(j, "root_password_file", json_string(path));
	}
	return j;
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
	json_object_set_new(j, "etcd", l->etcd_members ? etcd_json(l) : json_null());
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
