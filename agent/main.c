/* petreld: the petrel node agent. Parses its configuration, enters the node's network
 * namespace, brings the node up and serves the HTTP+JSON API until SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "conntrack.h"
#include "log.h"
#include "man.h"
#include "netns.h"
#include "util.h"

static const char usage[] =
"Usage: petreld [--config FILE] [--netns NAME] [--KEY=VALUE]... [-v]\n"
"\n"
"The petrel node agent. It owns one node: its address block, its endpoints, its eBPF\n"
"programs and maps, and its share of cluster state (SQLite in the state directory on a\n"
"single node, etcd when `etcd` is set). The API is HTTP+JSON on a Unix socket.\n"
"\n"
"Options:\n"
"  -c, --config FILE   read settings from FILE (`key = value` lines, # comments)\n"
"  -n, --netns NAME    run in network namespace NAME (/run/netns/NAME)\n"
"  -v, --verbose       debug logging, including libbpf's\n"
"  --KEY=VALUE         override a setting from the file; keys:\n"
"                      node, underlay-device, underlay-ipv4, underlay-ipv6,\n"
"                      cluster-ipv4, cluster-ipv6, block-ipv4-len, block-ipv6-len,\n"
"                      mode (vxlan|native), state-dir, socket, etcd (http[s]://..,\n"
"                      every member), etcd-ca, etcd-cert, etcd-key (a TLS etcd's CA\n"
"                      and this node's client certificate), etcd-user,\n"
"                      etcd-password-file (this node's etcd user: its role writes\n"
"                      only its own keys), etcd-operator-user,\n"
"                      etcd-operator-password-file (an operator's, for policies and\n"
"                      IOAM configuration), tls-ca, tls-cert, tls-key\n"
"                      (the agents' mutual TLS), peer-port, criu, containers-storage,\n"
"                      containers-runroot (Podman's storage, for run --image),\n"
"                      containers-conf (Podman's containers.conf),\n"
"                      bpf-pin-dir,\n"
"                      netns-prefix, underlay-mtu, ioam-node-id, ioam-node-id-wide,\n"
"                      ioam-headroom, ioam-export-rate, conntrack-buckets (the\n"
"                      host's conntrack hash size: CRIU walks it twice per migration\n"
"                      freeze; 0, the default, leaves it alone),\n"
"                      max-cluster-endpoints (addresses the location and ipcache\n"
"                      maps hold; default 262144)\n"
"  -h, --help          show this help\n"
"  --man               this help as a manual page, petreld(8)\n"
"\n"
"Example:\n"
"  petreld --config /etc/petrel/petreld.conf --node=node1 --underlay-ipv4=192.0.2.10\n"
"\n"
"SIGTERM stops the agent but leaves the datapath running: pinned maps and attached\n"
"programs keep forwarding, and a restarted agent picks up where it left off.\n";

int main(int argc, char **argv)
{
	struct agent a = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const char *config_path = NULL, *netns = NULL;
	struct api_server *srv = NULL;
	struct api_error e = { 0 };
	char err[512];
	sigset_t set;
	int sig, ret;

	config_defaults(&a.cfg);
	/* First pass: --config, --netns and -v; --KEY=VALUE overrides apply after the file. */
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(arg, "--man")) {
			man_page(stdout, "petreld", 8, "the petrel node agent", usage);
			return 0;
		} else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			log_set_level(LOG_DEBUG);
		} else if ((!strcmp(arg, "-c") || !strcmp(arg, "--config")) && i + 1 < argc) {
			config_path = argv[++i];
		} else if ((!strcmp(arg, "-n") || !strcmp(arg, "--netns")) && i + 1 < argc) {
			netns = argv[++i];
		} else if (!strncmp(arg, "--", 2) && strchr(arg, '=')) {
			continue;
		} else {
			fprintf(stderr, "petreld: unexpected argument '%s'\n(see petreld --help)\n", arg);
			return 2;
		}
	}
	if (config_path) {
		char *text;

		ret = read_file(config_path, &text);
		if (ret) {
			fprintf(stderr, "petreld: config %s: %s\n", config_path, strerror(-ret));
			return 1;
		}
		ret = config_parse(&a.cfg, text, err, sizeof(err));
		free(text);
		if (ret) {
			fprintf(stderr, "petreld: config %s: %s\n", config_path, err);
			return 1;
		}
	}
	for (int i = 1; i < argc; i++) {
		char key[64];
		const char *eq;

		if (strncmp(argv[i], "--", 2) || !(eq = strchr(argv[i], '=')))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i] - 2), argv[i] + 2);
		if (config_set(&a.cfg, key, eq + 1, err, sizeof(err))) {
			fprintf(stderr, "petreld: option --%s: %s\n", key, err);
			return 1;
		}
	}
	if (config_validate(&a.cfg, err, sizeof(err))) {
		fprintf(stderr, "petreld: invalid configuration: %s\n", err);
		return 1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "petreld: must run as root (it creates namespaces, links and eBPF programs)\n");
		return 1;
	}
	/* The conntrack hash size is host-wide and set from the initial namespace only. */
	if (a.cfg.conntrack_buckets) {
		unsigned int old = 0;

		if ((ret = ct_set_buckets((unsigned int)a.cfg.conntrack_buckets, &old)))
			fprintf(stderr, "petreld: warning: cannot set nf_conntrack_buckets to %d: %s\n",
				a.cfg.conntrack_buckets, strerror(-ret));
		else if (old != (unsigned int)a.cfg.conntrack_buckets)
			fprintf(stderr, "petreld: nf_conntrack_buckets %u -> %d\n", old, a.cfg.conntrack_buckets);
	}
	/* The namespace it started in is the host's: its processes (operators' tools, `petrel
	 * ping`) may read latency streams, which are otherwise an endpoint's own. */
	{
		struct stat st;

		if (stat("/proc/self/ns/net", &st) == 0)
			a.host_netns = st.st_ino;
	}
	/* Podman run by the agent (images, migrating Podman's containers) reads this node's
	 * containers.conf: its networks, CNI plugins and temporary directory. */
	if (*a.cfg.containers_conf)
		setenv("CONTAINERS_CONF", a.cfg.containers_conf, 1);
	/* Enter the node's netns before any thread exists: setns applies to this thread only. */
	if (netns && (ret = netns_enter(netns))) {
		fprintf(stderr, "petreld: cannot enter network namespace '%s': %s\n", netns, strerror(-ret));
		return 1;
	}

	/* Signals are taken synchronously by main; every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	a.started = time(NULL);
	if (node_start(&a, &e)) {
		fprintf(stderr, "petreld: node %s: %s%s%s\n", a.cfg.node, e.msg,
			*e.hint ? "\n  hint: " : "", e.hint);
		node_stop(&a);
		return 1;
	}
	/* The watch before the API: what the API reads must already follow the cluster. */
	if (cluster_threads_start(&a))
		log_warn("cluster watch could not start; state changes on other nodes will be missed");
	/* IOAM too: until its programs have loaded, or failed to, `ioam role` would be
	 * judged on a datapath that is not there yet. */
	if ((ret = ioam_start(&a)))
		log_warn("IOAM could not start: %s", strerror(-ret));
	ret = api_start(&a, &srv);
	if (ret) {
		fprintf(stderr, "petreld: cannot serve the API on %s: %s\n", a.cfg.socket, strerror(-ret));
		node_stop(&a);
		return 1;
	}
	a.api_up = true;
	if (flows_start(&a))
		log_warn("flow log could not start; `petrel flows` will stay empty");
	if (migrate_register(&a) || check_register(&a) || relays_register(&a) || podman_register(&a) ||
	    peer_start(&a))
		log_warn("live migration disabled on this node (see the error above)");
	else if (relays_start(&a))
		log_warn("relayed flows will not be checked: they stay until the endpoint leaves");
	if (endpoints_janitor_start(&a))
		log_warn("the endpoint janitor could not start");
	log_info("node %s ready: mode %s, store %s, API on %s", a.cfg.node,
		 routing_mode_str(a.cfg.mode), store_backend(a.store), a.cfg.socket);

	do {
		if (sigwait(&set, &sig))
			break;
		if (sig == SIGHUP) {
			log_info("SIGHUP: listing cluster state again");
			if (cluster_load(&a) == 0)
				locations_sweep(&a);
		}
	} while (sig == SIGHUP);

	log_info("signal %d: stopping; the datapath keeps forwarding", sig);
	a.stopping = 1;
	api_stop(srv);
	peer_stop(&a);
	relays_stop(&a);
	latency_stop(&a);
	cluster_threads_stop(&a);
	endpoints_janitor_stop(&a);
	flows_stop(&a);
	ioam_stop(&a);
	node_stop(&a);
	return 0;
}
