/* petrel: command-line client of petreld and builder of lab clusters. Two-level, exact
 * dispatch (object, then verb) from one table that also generates the usage text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"
#include "api_client.h"
#include "print.h"

static const struct command commands[] = {
	{ "lab", "up", cmd_lab_up, "build a lab cluster of N nodes in network namespaces",
	  "petrel lab up [--nodes N] [--mode vxlan|native] [--name LAB] [--policy-backend ebpf|iptables]\n"
	  "              [--conntrack-buckets N]\n\n"
	  "Builds a cluster on this machine: a fabric namespace with a bridge joining every node\n"
	  "(198.18.0.0/24 and fd00:198:18::/64), N node namespaces each running petreld, an\n"
	  "'outside' namespace acting as a client outside the cluster, and, for N >= 2, an etcd\n"
	  "holding cluster state. Anything half-built is removed if a step fails.\n\n"
	  "Options:\n"
	  "  --nodes N       number of nodes, 1-16 (default 3)\n"
	  "  --mode MODE     vxlan (overlay, default) or native (plain routing)\n"
	  "  --name LAB      lab name, a-z and 0-9, at most 12 characters (default: $PETREL_LAB or petrel)\n"
	  "  --policy-backend iptables\n"
	  "                  run the classic baseline instead of eBPF (bridge, kernel routes, iptables;\n"
	  "                  native mode only), for benchmarks\n"
	  "  --conntrack-buckets N\n"
	  "                  size the host's conntrack hash (host-wide, and it stays after lab down):\n"
	  "                  CRIU walks every bucket twice in a migration's freeze, about 20 ms with\n"
	  "                  262144 buckets; sets petreld's conntrack-buckets on every node\n\n"
	  "Example:\n  petrel lab up --nodes 3 --mode native --name demo\n" },
	{ "lab", "down", cmd_lab_down, "remove a lab and everything it created",
	  "petrel lab down [--name LAB]\n\n"
	  "Stops the lab's agents and etcd, deletes its namespaces (nodes, endpoints, routers,\n"
	  "fabric, outside), its pinned eBPF maps and its state. Works after a crash too, and does\n"
	  "nothing (successfully) when there is nothing left.\n\n"
	  "Example:\n  petrel lab down --name demo\n" },
	{ "lab", "status", cmd_lab_status, "show a lab's nodes, addresses and agents",
	  "petrel [-j] lab status [--name LAB]\n\n"
	  "Lists every node with its namespace, underlay IPv4 and IPv6 addresses, agent socket\n"
	  "and whether its agent answers, plus the outside namespace, etcd and the lab's routers.\n\n"
	  "Example:\n  petrel -j lab status --name demo | jq '.nodes[].ipv4'\n" },
	{ "lab", "exec", cmd_lab_exec, "run a command inside a lab node or the outside namespace",
	  "petrel lab exec [--name LAB] NODE|ROUTER|outside|fabric -- CMD [ARG]...\n\n"
	  "Runs CMD in the network namespace of a lab node, of a lab router, of the outside\n"
	  "client, or of the fabric. The exit status is CMD's.\n\n"
	  "Example:\n  petrel lab exec outside -- curl http://198.18.0.11:8080/\n" },
	{ "lab", "router", cmd_lab_router, "put a Linux router, optionally an IOAM transit, between two lab nodes",
	  "petrel [-j] lab router add NAME --between NODE NODE [--ioam-id ID] [--ioam-ns ID[:DATA[:WIDE]]]...\n"
	  "                          [--name LAB]\n"
	  "petrel [-j] lab router del NAME [--name LAB]\n\n"
	  "add creates the namespace LAB-rt-NAME on the lab's fabric (198.18.0.200+k,\n"
	  "fd00:198:18::200+k), forwarding with the kernel's own stack, and routes the two nodes'\n"
	  "traffic to each other through it: each node reaches the other's underlay address via\n"
	  "the router (where native forwarding looks its next hop up, and where VXLAN is sent),\n"
	  "and the router knows both nodes' address blocks. The nodes stop accepting ICMP\n"
	  "redirects on eth0, since both sit on one bridge. del routes the nodes directly again,\n"
	  "then removes the router. `lab status` lists routers; `lab exec NAME -- CMD` runs in one;\n"
	  "`lab down` removes them.\n\n"
	  "Options:\n"
	  "  --between NODE NODE      the two nodes whose traffic crosses the router\n"
	  "  --ioam-id ID             make the router an IPv6 IOAM transit node of the kernel's own:\n"
	  "                           net.ipv6.ioam6_id and ioam6_id_wide ID, ioam6_enabled on eth0\n"
	  "  --ioam-ns ID[:DATA[:WIDE]]\n"
	  "                           a namespace the router fills traces of (repeatable, up to 8),\n"
	  "                           with its 32-bit and 64-bit data in hex (`ip ioam namespace add`)\n"
	  "  --name LAB               the lab (default: $PETREL_LAB or petrel)\n\n"
	  "Example:\n  petrel lab router add r1 --between node1 node2 --ioam-id 100 --ioam-ns 123:0x12345678\n" },
	{ "node", "status", cmd_node_status, "show this node's agent, blocks and cluster view",
	  "petrel [-j] [--node NAME | --socket PATH] node status\n\n"
	  "Shows the node's name, routing mode, state store, underlay addresses, address blocks,\n"
	  "the nodes it knows with their liveness, and the datapath's drop counters by reason.\n\n"
	  "Example:\n  petrel --node node2 node status\n" },
	{ "endpoint", "add", cmd_endpoint_add, "create an endpoint (netns + veth + addresses)",
	  "petrel [-j] [--node NAME] endpoint add NAME [--label KEY=VALUE]... [--publish HOSTPORT:PORT[/tcp|udp]]...\n\n"
	  "Creates endpoint NAME on the node: a network namespace with a veth, one IPv4 and one\n"
	  "IPv6 address from the node's block, default routes, and the host side attached to the\n"
	  "eBPF datapath. --publish makes HOSTPORT on the node's underlay addresses reach PORT.\n\n"
	  "Options:\n"
	  "  --label KEY=VALUE              a label (repeatable), used by policy selectors\n"
	  "  --publish HOSTPORT:PORT[/P]    publish a port, tcp by default (repeatable)\n\n"
	  "Example:\n  petrel --node node1 endpoint add web --label app=web --publish 8080:80/tcp\n" },
	{ "endpoint", "list", cmd_endpoint_list, "list every endpoint in the cluster",
	  "petrel [-j] [--node NAME] endpoint list [--on NODE]\n\n"
	  "Lists every endpoint in the cluster, whichever node answers, sorted by name; with\n"
	  "--on, only those that run on NODE. The answer comes from the agent's cache of\n"
	  "cluster state, so it needs no store round trip (and works while etcd is down).\n\n"
	  "Example:\n  petrel -j endpoint list | jq -r '.[] | .name + \" \" + .ipv4'\n"
	  "  petrel --node node2 endpoint list --on node2\n" },
	{ "endpoint", "show", cmd_endpoint_show, "show one endpoint",
	  "petrel [-j] [--node NAME] endpoint show NAME\n\n"
	  "Shows the endpoint's node, addresses, MAC, namespace, labels, published ports and\n"
	  "state; with its packet and byte counters when asked of the node hosting it.\n\n"
	  "Example:\n  petrel --node node1 endpoint show web\n" },
	{ "endpoint", "del", cmd_endpoint_del, "delete an endpoint",
	  "petrel [--node NAME] endpoint del NAME\n\n"
	  "Deletes the endpoint, its namespace and its published ports. Ask the node hosting\n"
	  "it. The address becomes unreachable from every node.\n\n"
	  "Example:\n  petrel --node node1 endpoint del web\n" },
	{ "endpoint", "exec", cmd_endpoint_exec, "run a command inside an endpoint's namespace",
	  "petrel [--node NAME] endpoint exec NAME -- CMD [ARG]...\n\n"
	  "Runs CMD in the endpoint's network namespace (on this machine). The exit status is CMD's.\n\n"
	  "Example:\n  petrel endpoint exec client -- ping -c1 10.244.1.2\n" },
	{ "policy", "apply", cmd_policy_apply, "apply the policies in a JSON file",
	  "petrel [-j] policy apply FILE\n\n"
	  "Reads one policy object or an array of them (docs/policy.md) and applies them across the\n"
	  "cluster, replacing policies of the same name. The file is checked first: any error names\n"
	  "the file, the policy and the field, and nothing is applied. Selectors that match no\n"
	  "endpoint yet are reported as warnings.\n\n"
	  "Example:\n  petrel policy apply web.json\n" },
	{ "policy", "list", cmd_policy_list, "list policies with their counters",
	  "petrel [-j] policy list\n\n"
	  "Lists every policy with its selector, rule count, and the packets and bytes this node's\n"
	  "datapath decided by it.\n\nExample:\n  petrel --node node2 policy list\n" },
	{ "policy", "show", cmd_policy_show, "show one policy and its counters",
	  "petrel [-j] policy show NAME\n\n"
	  "Shows the policy's selector, each rule, and its per-node packet and byte counters.\n\n"
	  "Example:\n  petrel policy show allow-web\n" },
	{ "policy", "delete", cmd_policy_delete, "delete a policy",
	  "petrel policy delete NAME\n\n"
	  "Deletes the policy everywhere. Endpoints no other policy selects become open again.\n\n"
	  "Example:\n  petrel policy delete allow-web\n" },
	{ "run", NULL, cmd_run, "run a container with runc on a petrel endpoint",
	  "petrel [-j] [--node NAME] run NAME --rootfs DIR [--publish HOSTPORT:PORT[/tcp|udp]]...\n"
	  "       [--label KEY=VALUE]... [--env KEY=VALUE]... [--memory BYTES] -- CMD [ARG]...\n\n"
	  "Runs CMD in a new container NAME on the node, with runc. Its root file system is an\n"
	  "overlay: DIR is the read-only lower layer and is never modified; writes land in the\n"
	  "container's bundle (<state-dir>/containers/NAME/upper). Its network is a petrel endpoint\n"
	  "of the same name (addresses, labels, published ports); it gets its own pid, ipc, uts and\n"
	  "mount namespaces and the cgroup /petrel/<node>/NAME. Standard output and error are\n"
	  "captured by the agent (see `petrel logs`); all three standard fds are pipes, so the\n"
	  "container can be checkpointed with CRIU. The node's <state-dir>/latency directory is\n"
	  "mounted read-only at /run/petrel. If any step fails, nothing of the container is left.\n\n"
	  "Options:\n"
	  "  --rootfs DIR                   root file system (e.g. from scripts/mkrootfs.sh); required\n"
	  "  --publish HOSTPORT:PORT[/P]    publish a port on the node, tcp by default (repeatable)\n"
	  "  --label KEY=VALUE              a label for policy selectors (repeatable)\n"
	  "  --env KEY=VALUE                an environment variable (repeatable); PATH has a default\n"
	  "  --memory BYTES                 memory limit; suffixes K, M, G (powers of 1024)\n\n"
	  "Example:\n  petrel --node node1 run web --rootfs /srv/rootfs --publish 8080:80 -- httpd -f -p 80\n" },
	{ "migrate", NULL, cmd_migrate, "move a running container to another node, connections intact",
	  "petrel [-j] [--node NAME] migrate NAME --to NODE [--lazy | --pre-copy]\n\n"
	  "Live-migrates container NAME to NODE with CRIU. The container keeps its IPv4 and IPv6\n"
	  "addresses, MAC, memory and file system changes, and every TCP connection and UDP flow:\n"
	  "with other containers, and with outside clients that came in through a port published\n"
	  "on the old node (that node keeps relaying those flows; new connections use the port\n"
	  "published on NODE). While it is frozen, packets for it are held on the node it leaves\n"
	  "and delivered as soon as it runs again, there or on NODE. Memory pages, images and the writable layer stream to NODE\n"
	  "compressed, over mutual TLS between the agents; nothing is staged on the source disk.\n\n"
	  "Any failure before NODE confirms the container runs there (NODE's agent dying, the link\n"
	  "failing, a corrupt stream, the restore failing) rolls back: the container keeps running\n"
	  "where it was, connections intact. It never runs on both nodes. Bad requests (unknown\n"
	  "container or node, not running, its own node, a migration already under way, no or an\n"
	  "older CRIU or kernel on NODE, the image missing there) fail before anything is frozen.\n\n"
	  "Progress goes to standard error, phase by phase with elapsed time and bytes. The report\n"
	  "(one JSON object with -j) gives total_ms, frozen_ms (freeze to resume), restore_ms and\n"
	  "runc_restore_ms, phases_ms (hold, pause, dump, transfer, restore, release: where the\n"
	  "freeze went), bytes (raw) and wire_bytes (compressed), tcp_connections, udp_flows,\n"
	  "published_flows, held_packets and mode.\n\n"
	  "Options:\n"
	  "  --to NODE   the destination node (required)\n"
	  "  --lazy      post-copy: restore first, fetch memory on demand (userfaultfd). Refused with\n"
	  "              the reason where CRIU's lazy pages do not work (see docs/migration.md)\n"
	  "  --pre-copy  iterative pre-copy (memory copied while the container runs). Needs\n"
	  "              soft-dirty page tracking; refused before anything is frozen, with the\n"
	  "              reason, where the kernel lacks it, and not implemented yet where it has it\n\n"
	  "Example:\n  petrel migrate web --to node2\n" },
	{ "ps", NULL, cmd_ps, "list every container in the cluster",
	  "petrel [-j] [--node NAME] ps\n\n"
	  "Lists every container in the cluster, whichever node answers: name, node, state\n"
	  "(creating, running, stopped, exited, error, migrating) with the exit code once it has\n"
	  "ended, host pid, addresses, published ports and command. A container whose process\n"
	  "ended on its own shows as exited.\n\n"
	  "Example:\n  petrel -j ps | jq -r '.[] | .name + \" \" + .state + \" \" + .ipv4'\n" },
	{ "logs", NULL, cmd_logs, "print a container's output",
	  "petrel [--node NAME] logs NAME [--follow]\n\n"
	  "Prints what the container wrote to its standard output and error, as captured by the\n"
	  "agent of its node (asked automatically in a lab). --follow (-f) keeps printing new\n"
	  "output until the container ends.\n\n"
	  "Example:\n  petrel logs web --follow\n" },
	{ "stop", NULL, cmd_stop, "stop a container (SIGTERM, then SIGKILL)",
	  "petrel [-j] [--node NAME] stop NAME [--timeout SECONDS]\n\n"
	  "Sends SIGTERM to the container's process, and SIGKILL when it has not ended after\n"
	  "SECONDS (default 10, 0-3600). The container becomes 'stopped' with its exit code (128+N\n"
	  "for signal N); its file system changes, logs and endpoint stay until `petrel rm`.\n"
	  "Stopping a container that already ended does nothing.\n\n"
	  "Example:\n  petrel stop web --timeout 2\n" },
	{ "rm", NULL, cmd_rm, "remove a container and everything it has",
	  "petrel [--node NAME] rm NAME [--force]\n\n"
	  "Removes a container that is not running: its runc state, overlay mount, bundle (file\n"
	  "system changes and logs), endpoint, network namespace and record. A running container\n"
	  "needs --force (-f), which kills it first.\n\n"
	  "Example:\n  petrel rm --force web\n" },
	{ "exec", NULL, cmd_exec, "run a command inside a running container",
	  "petrel [--node NAME] exec NAME -- CMD [ARG]...\n\n"
	  "Runs CMD inside the container (all its namespaces and its cgroup) with `runc exec`, on\n"
	  "this machine, with this terminal's standard input and output. The exit status is CMD's.\n"
	  "Needs root.\n\n"
	  "Example:\n  petrel exec web -- cat /etc/hostname\n" },
	{ "flows", "show", cmd_flows, "print policy decisions as JSON lines",
	  "petrel [--node NAME] flows show [--follow] [--endpoint NAME] [--verdict allowed|denied]\n\n"
	  "Prints one JSON object per policy decision on this node: source and destination (ip,\n"
	  "port, identity, labels), protocol, direction, verdict, and the policy and rule that\n"
	  "decided (\"default-deny\" when no rule matched). Events are rate-limited in the\n"
	  "datapath. --follow keeps printing new events.\n\n"
	  "Example:\n  petrel --node node1 flows show --follow --verdict denied\n" },
	{ "latency", "enable", cmd_latency_enable, "account an endpoint's network-stack latency per packet",
	  "petrel [-j] [--node NAME] latency enable NAME\n\n"
	  "Starts per-packet latency accounting for endpoint NAME on the node hosting it: egress\n"
	  "from the sending system call in the endpoint's namespace to transmission on the node's\n"
	  "underlay device, ingress from reception on the underlay device to delivery to the\n"
	  "endpoint's socket; ICMP, UDP and TCP, by tracepoint eBPF programs that are attached only\n"
	  "while some endpoint of the node is enabled. Records stream as JSON lines on the Unix\n"
	  "socket STATE-DIR/latency/NAME.sock (world-readable; a runtime bind-mounts it into the\n"
	  "container at /run/petrel/latency.sock). Enabling twice is an error; deleting the endpoint\n"
	  "or losing its namespace disables it.\n\n"
	  "Example:\n  petrel --node node1 latency enable web && socat - UNIX:/var/lib/petrel/latency/web.sock\n" },
	{ "latency", "disable", cmd_latency_disable, "stop accounting an endpoint's latency",
	  "petrel [-j] [--node NAME] latency disable NAME\n\n"
	  "Stops accounting for NAME: its map entries go, its record socket is closed and removed,\n"
	  "and the probes are detached when no endpoint of the node is left enabled. Prints the\n"
	  "final statistics with -j.\n\n"
	  "Example:\n  petrel --node node1 latency disable web\n" },
	{ "latency", "show", cmd_latency_show, "histograms, percentiles and match counters of an endpoint",
	  "petrel [-j] [--node NAME] latency show NAME\n\n"
	  "Shows, per direction, the number of accounted packets, mean, min, p50, p90, p99, p99.9 and\n"
	  "max latency with a histogram (16 sub-buckets per power of two, so within 1/32), and the\n"
	  "packets whose other end was not found: egress packets that never reached the underlay\n"
	  "within a second (dropped, or to a peer on the same node) and ingress packets delivered\n"
	  "without an underlay reception (e.g. from the node itself).\n\n"
	  "Example:\n  petrel -j --node node1 latency show web | jq .egress.histogram.p99_ns\n" },
	{ "latency", "list", cmd_latency_list, "list the endpoints whose latency is accounted",
	  "petrel [-j] [--node NAME] latency list\n\n"
	  "Lists the node's accounted endpoints with their packet counts and median latencies.\n\n"
	  "Example:\n  petrel --node node1 latency list\n" },
	{ "ping", "run", cmd_ping, "ping from an endpoint, with RTTs corrected by its stack latency",
	  "petrel [-j] [--node NAME] ping NAME TARGET [-c COUNT] [-s SIZE] [-i INTERVAL]\n\n"
	  "Runs iputils ping (user-to-user RTTs, -U) inside endpoint NAME's namespace and, for each\n"
	  "reply, prints the raw RTT, the accounted egress latency of the request and ingress\n"
	  "latency of the reply, and the corrected RTT = raw - egress - ingress: the RTT without\n"
	  "the container's network stack and virtual path. Accounting is enabled for the run if it\n"
	  "is not already (and disabled afterwards). The summary gives raw_avg_us,\n"
	  "corrected_avg_us, egress_avg_us, ingress_avg_us and matched_ratio (replies with both\n"
	  "latencies / replies); with -j it is one JSON object, with every reply in replies_detail.\n\n"
	  "Options:\n"
	  "  -c COUNT      echo requests to send (default 10)\n"
	  "  -s SIZE       ICMP payload bytes (default 56)\n"
	  "  -i INTERVAL   seconds between requests (default 1; below 0.2 needs root, as here)\n\n"
	  "Example:\n  petrel --node node1 ping web 198.18.0.254 -c 20 -i 0.05\n" },
	{ "ioam", "namespace", cmd_ioam_namespace, "add or delete an IOAM namespace (cluster-wide)",
	  "petrel [-j] ioam namespace add ID [data HEX] [wide HEX]\n"
	  "       petrel [-j] ioam namespace del ID\n\n"
	  "IPv6 In-situ OAM (RFC 9197) namespaces, as `ip ioam namespace` has them. Every node\n"
	  "fills its data into trace options of the namespaces it knows and leaves the others\n"
	  "alone. The namespace data (32 bits) and wide data (64 bits) go into trace fields 5 and\n"
	  "10; unset, they are all-ones (unknown). Namespaces live in cluster state, so every node\n"
	  "knows them. A namespace an encap rule uses cannot be deleted.\n\n"
	  "Example:\n  petrel ioam namespace add 123 data 0xdeadbeef wide 0xcafec0caf00dc0de\n" },
	{ "ioam", "encap", cmd_ioam_encap, "insert IOAM traces into pod traffic (cluster-wide)",
	  "petrel [-j] ioam encap add --ns ID --trace-type HEX --size BYTES [--freq K/N] [--to CIDR]\n"
	  "       petrel [-j] ioam encap del --ns ID [--to CIDR]\n\n"
	  "IPv6 packets a local endpoint sends to another node get, on the underlay device's egress,\n"
	  "a Hop-by-Hop header (or their existing one extended) with an RFC 9486 IOAM option of\n"
	  "type 0x31 carrying an RFC 9197 pre-allocated trace, this node's data filled in. Rules\n"
	  "to the same prefix share one header: one trace option per namespace, in id order.\n\n"
	  "Options:\n"
	  "  --ns ID            an existing namespace (`petrel ioam namespace add`)\n"
	  "  --trace-type HEX   24-bit IOAM-Trace-Type; bits 0-11 (mask 0xfff000): 0 hop limit +\n"
	  "                     node id, 1 interfaces, 2 seconds, 3 subseconds, 4 transit delay,\n"
	  "                     5 namespace data, 6 queue depth, 7 checksum complement, 8 wide\n"
	  "                     node id, 9 wide interfaces, 10 wide namespace data, 11 buffer\n"
	  "                     occupancy (fields a node cannot know are all-ones)\n"
	  "  --size BYTES       pre-allocated room for every node's data: a multiple of 4, at most\n"
	  "                     244, at least one node's data\n"
	  "  --freq K/N         insert into K of every N packets (default 1/1)\n"
	  "  --to CIDR          destinations this applies to (default: the cluster's IPv6 CIDR)\n\n"
	  "Example:\n  petrel ioam encap add --ns 123 --trace-type 0xf00000 --size 64 --freq 1/100\n" },
	{ "ioam", "role", cmd_ioam_role, "choose the IOAM roles of one of this node's devices",
	  "petrel [-j] [--node NAME] ioam role --dev DEV ingress|egress|none...\n\n"
	  "ingress attaches transit and decap to DEV's ingress (packets for local endpoints have\n"
	  "their IOAM removed and exported, others get this node's data); egress attaches encap to\n"
	  "its egress. Give both words for both. By default the underlay device has ingress once a\n"
	  "namespace exists and egress once an encap rule exists; none turns IOAM off there.\n\n"
	  "Example:\n  petrel --node node2 ioam role --dev eth0 ingress\n" },
	{ "ioam", "show", cmd_ioam_show, "show IOAM configuration, roles and counters",
	  "petrel [-j] [--node NAME] ioam show\n\n"
	  "Shows the node's IOAM node id, the namespaces and encap rules of the cluster, the\n"
	  "devices IOAM is attached to on this node, and its counters (inserted, transit, decap,\n"
	  "exported, overflow, unknown namespace, inconsistent, malformed-dropped, ...).\n\n"
	  "Example:\n  petrel --node node1 -j ioam show | jq .counters\n" },
	{ "ioam", "traces", cmd_ioam_traces, "print decapsulated IOAM traces as JSON lines",
	  "petrel [--node NAME] ioam traces [--follow]\n\n"
	  "Prints one JSON object per trace the node decapsulated: time, namespace, source and\n"
	  "destination, trace type, overflow, and the nodes in path order (first node first) with\n"
	  "their fields; unknown values are null. --follow keeps printing new traces.\n\n"
	  "Example:\n  petrel --node node2 ioam traces --follow | jq -c '[.nodes[].node_id]'\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	const char *last = "";

	fprintf(f, "Usage: petrel [-j] [--lab LAB] [--node NAME | --socket PATH] OBJECT VERB [ARGS]...\n"
		   "       petrel [-j] [--lab LAB] [--node NAME | --socket PATH] COMMAND [ARGS]...\n\n"
		   "petrel drives a petrel container network: its node agents (petreld) and lab clusters.\n\n"
		   "Global options:\n"
		   "  -j, --json       print JSON instead of text\n"
		   "  --lab LAB        the lab --node refers to (default: $PETREL_LAB or petrel)\n"
		   "  --node NAME      talk to the agent of lab node NAME\n"
		   "  --socket PATH    talk to the agent listening on PATH (default " DEFAULT_SOCKET ")\n"
		   "  -h, --help       this help; `petrel OBJECT VERB --help` describes one command\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(last, commands[i].object) && (commands[i].verb || (i && commands[i - 1].verb)))
			fputc('\n', f);
		fprintf(f, "  %-8s %-7s %s\n", commands[i].object, commands[i].verb ? commands[i].verb : "",
			commands[i].summary);
		last = commands[i].object;
	}
	fprintf(f, "\nExample:\n  petrel lab up --nodes 3 && petrel --node node1 endpoint add web\n"
		   "  petrel --node node1 run web --rootfs ./rootfs --publish 8080:80 -- httpd -f -p 80\n");
}

static int print_line(json_t *line, void *arg)
{
	json_dumpf(line, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	return 0;
}

int cli_stream(struct cli *c, const char *path, const char *what)
{
	const char *sock;
	long status = 0;
	int err, ret;

	sock = cli_socket(c, &err);
	if (!sock)
		return err;
	ret = api_stream(sock, "GET", path, NULL, print_line, NULL, &status);
	if (ret)
		return cli_error(c, "no agent answers on %s: %s", sock, strerror(-ret));
	if (status != 200)
		return cli_error(c, "the agent refused the %s query (HTTP %ld)", what, status);
	return 0;
}

const char *json_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int cli_error(struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c && c->json) {
		json_t *j = json_pack("{s:s}", "error", msg);
		json_dumpf(j, stderr, JSON_COMPACT);
		fputc('\n', stderr);
		json_decref(j);
	} else {
		fprintf(stderr, "petrel: %s\n", msg);
	}
	return 1;
}

int cli_usage(struct cli *c, const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error(c, "%s (see `petrel %s --help`)", msg, cmd);
	return 2;
}

bool cli_is_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

int cli_require_root(struct cli *c, const char *what)
{
	if (geteuid() == 0)
		return 0;
	return cli_error(c, "%s needs root (it creates network namespaces, links and eBPF programs); "
			 "run it with sudo", what);
}

const char *cli_socket(struct cli *c, int *err)
{
	struct stat st;
	char dir[256];

	*err = 0;
	if (*c->socket)
		return c->socket;
	if (c->socket_opt) {
		snprintf(c->socket, sizeof(c->socket), "%s", c->socket_opt);
	} else if (c->node) {
		snprintf(dir, sizeof(dir), LAB_DIR "/%s", c->lab);
		if (stat(dir, &st)) {
			*err = cli_error(c, "no lab '%s' on this machine (start one with `petrel lab up --name %s`)",
					 c->lab, c->lab);
			return NULL;
		}
		snprintf(dir, sizeof(dir), LAB_DIR "/%s/%s", c->lab, c->node);
		if (stat(dir, &st)) {
			*err = cli_error(c, "unknown node '%s' in lab '%s' (see `petrel lab status --name %s`)",
					 c->node, c->lab, c->lab);
			return NULL;
		}
		snprintf(c->socket, sizeof(c->socket), "%s/petreld.sock", dir);
	} else {
		snprintf(c->socket, sizeof(c->socket), DEFAULT_SOCKET);
		/* No agent of this machine, but a lab: its first node answers for the cluster. */
		snprintf(dir, sizeof(dir), LAB_DIR "/%s/node1/petreld.sock", c->lab);
		if (stat(DEFAULT_SOCKET, &st) && stat(dir, &st) == 0)
			snprintf(c->socket, sizeof(c->socket), "%s", dir);
	}
	return c->socket;
}

int cli_api(struct cli *c, const char *method, const char *path, json_t *body, json_t **resp)
{
	return cli_api_timeout(c, method, path, body, 0, resp);
}

int cli_api_timeout(struct cli *c, const char *method, const char *path, json_t *body,
		    long timeout_ms, json_t **resp)
{
	long status = 0;
	int err, ret;
	const char *sock = cli_socket(c, &err);

	*resp = NULL;
	if (!sock)
		return err;
	ret = api_call(sock, method, path, body, timeout_ms, &status, resp);
	if (ret == -ECONNREFUSED || ret == -ENOENT)
		return cli_error(c, "no agent answers on %s (is petreld running%s%s%s?)", sock,
				 c->node ? " for node " : "", c->node ? c->node : "", c->node ? " of the lab" : "");
	if (ret)
		return cli_error(c, "talking to the agent on %s: %s", sock, strerror(-ret));
	if (status < 200 || status >= 300) {
		const char *msg = json_string_value(json_object_get(*resp, "error"));
		const char *hint = json_string_value(json_object_get(*resp, "hint"));

		if (hint && *hint)
			cli_error(c, "%s (hint: %s)", msg ? msg : "request failed", hint);
		else
			cli_error(c, "%s", msg ? msg : "request failed");
		json_decref(*resp);
		*resp = NULL;
		return 1;
	}
	return 0;
}

/* Insert an implied verb after the object at argv[i]. -ENOMEM, or 0. */
static int insert_verb(int *argc, char ***argv, int i, char *verb)
{
	char **nargv = calloc((size_t)*argc + 2, sizeof(char *));

	if (!nargv)
		return -ENOMEM;
	memcpy(nargv, *argv, (size_t)(i + 1) * sizeof(char *));
	nargv[i + 1] = verb;
	memcpy(nargv + i + 2, *argv + i + 1, (size_t)(*argc - i - 1) * sizeof(char *));
	*argv = nargv;
	(*argc)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { .lab = getenv("PETREL_LAB") };
	int i;

	if (!c.lab || !*c.lab)
		c.lab = DEFAULT_LAB;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			c.json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if ((!strcmp(a, "--lab") || !strcmp(a, "--node") || !strcmp(a, "--socket")) && i + 1 < argc) {
			if (!strcmp(a, "--lab"))
				c.lab = argv[++i];
			else if (!strcmp(a, "--node"))
				c.node = argv[++i];
			else
				c.socket_opt = argv[++i];
		} else {
			fprintf(stderr, "petrel: unknown option '%s'\n\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (c.node && c.socket_opt)
		return cli_usage(&c, "--help", "--node and --socket are exclusive");
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "help")) {
		usage(stdout);
		return 0;
	}
	print_init(c.json);
	/* `petrel flows [OPTIONS]` is short for `petrel flows show [OPTIONS]`. */
	static char show[] = "show";
	if (!strcmp(argv[i], "flows") && (i + 1 >= argc || argv[i + 1][0] == '-') &&
	    insert_verb(&argc, &argv, i, show))
		return 1;
	/* `petrel ping NAME TARGET` is short for `petrel ping run NAME TARGET`. */
	static char run[] = "run";
	if (!strcmp(argv[i], "ping") && i + 1 < argc && strcmp(argv[i + 1], "run") &&
	    insert_verb(&argc, &argv, i, run))
		return 1;
	for (size_t k = 0; k < N_COMMANDS; k++) {
		if (strcmp(argv[i], commands[k].object))
			continue;
		if (!commands[k].verb) {
			if (cli_is_help(argc - i - 1, argv + i + 1)) {
				printf("Usage: %s", commands[k].help);
				return 0;
			}
			int ret = commands[k].fn(&c, argc - i - 1, argv + i + 1);
			if (ret == 0)
				print_flush();
			return ret;
		}
		if (i + 1 >= argc || !strcmp(argv[i + 1], "help") || !strcmp(argv[i + 1], "--help")) {
			fprintf(i + 1 >= argc ? stderr : stdout, "petrel %s verbs:\n", argv[i]);
			for (size_t v = 0; v < N_COMMANDS; v++)
				if (!strcmp(commands[v].object, argv[i]))
					fprintf(i + 1 >= argc ? stderr : stdout, "  %-7s %s\n", commands[v].verb,
						commands[v].summary);
			return i + 1 >= argc ? 2 : 0;
		}
		for (size_t v = 0; v < N_COMMANDS; v++) {
			if (strcmp(commands[v].object, argv[i]) || strcmp(commands[v].verb, argv[i + 1]))
				continue;
			if (cli_is_help(argc - i - 2, argv + i + 2)) {
				printf("Usage: %s", commands[v].help);
				return 0;
			}
			int ret = commands[v].fn(&c, argc - i - 2, argv + i + 2);
			if (ret == 0)
				print_flush();
			return ret;
		}
		fprintf(stderr, "petrel: '%s' is not a verb of '%s'; valid verbs:", argv[i + 1], argv[i]);
		for (size_t v = 0; v < N_COMMANDS; v++)
			if (!strcmp(commands[v].object, argv[i]))
				fprintf(stderr, " %s", commands[v].verb);
		fputc('\n', stderr);
		return 2;
	}
	fprintf(stderr, "petrel: unknown object '%s'; valid objects: lab node endpoint policy flows "
		"latency ioam; commands: run ps logs stop rm exec migrate ping\n", argv[i]);
	return 2;
}
