/* bench/scale.sh's driver: writes simulated nodes and endpoints into a lab's etcd in
 * petrel's own record format (docs/design.md), and times how long a write takes to reach
 * a node's datapath by polling that node's pinned location map.
 *
 *   scale_load fill NETNS ETCD NODES ENDPOINTS        simulated nodes, then endpoints
 *   scale_load probe NETNS ETCD PIN COUNT PID         COUNT single writes, one at a time
 *   scale_load burst NETNS ETCD PIN COUNT PID         COUNT new endpoints at once
 *   scale_load unburst NETNS ETCD PIN COUNT PID       remove the burst's endpoints
 *   scale_load settle NETNS ETCD PIN COUNT SECONDS    wait until fill's COUNT endpoints
 * A TLS etcd (https://) takes its CA and client certificate from $ETCD_CA, $ETCD_CERT and
 * $ETCD_KEY, and an etcd with users its user from $ETCD_USER and $ETCD_PASSWORD_FILE, as
 * `petrel -j lab status` gives them under .etcd (root's, for the simulated nodes' keys).
 *                                                     are all in the node's location map
 *
 * NETNS is where ETCD answers (the lab's fabric); PIN the node's pin directory; PID its
 * agent, whose CPU time is read around the writes. Each prints one JSON object. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include "bpf/datapath_abi.h"
#include "etcd_codec.h"
#include "store_etcd.h"
#include "util.h"

#define TXN_OPS 128                     /* etcd's default --max-txn-ops */
#define IDENTITIES 64                   /* label sets among the simulated endpoints */

static struct store *st;
static int loc4_fd = -1;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* POST a JSON body to the gateway; 0 on success. */
static int post(const char *path, json_t *body)
{
	json_t *resp = NULL;
	int ret = store_etcd_request(st, path, body, &resp);

	json_decref(resp);
	return ret;
}

/* The store, as the environment says (see the top). */
static int open_store(const char *endpoints)
{
	struct store_tls tls = { 0 };
	char *pw = NULL;
	int ret;

	snprintf(tls.ca, sizeof(tls.ca), "%s", getenv("ETCD_CA") ?: "");
	snprintf(tls.cert, sizeof(tls.cert), "%s", getenv("ETCD_CERT") ?: "");
	snprintf(tls.key, sizeof(tls.key), "%s", getenv("ETCD_KEY") ?: "");
	if (getenv("ETCD_USER") && getenv("ETCD_PASSWORD_FILE")) {
		if (read_file(getenv("ETCD_PASSWORD_FILE"), &pw))
			return fprintf(stderr, "cannot read $ETCD_PASSWORD_FILE\n"), -1;
		pw[strcspn(pw, "\n")] = 0;
		snprintf(tls.user, sizeof(tls.user), "%s", getenv("ETCD_USER"));
		snprintf(tls.password, sizeof(tls.password), "%s", pw);
		free(pw);
	}
	ret = store_open_etcd_tls(&st, endpoints, &tls);
	if (ret)
		fprintf(stderr, "cannot reach etcd at %s: %s\n", endpoints, strerror(-ret));
	return ret;
}

struct txn {
	json_t *ops;
};

static int txn_flush(struct txn *t)
{
	int ret = 0;

	if (json_array_size(t->ops))
		ret = post("/v3/kv/txn", json_pack("{s:O}", "success", t->ops));
	json_array_clear(t->ops);
	return ret;
}

static int txn_put(struct txn *t, const char *key, const char *value)
{
	char *k = etcd_b64(key), *v = etcd_b64(value);

	json_array_append_new(t->ops, json_pack("{s:{s:s, s:s}}", "request_put", "key", k, "value", v));
	free(k);
	free(v);
	return json_array_size(t->ops) == TXN_OPS ? txn_flush(t) : 0;
}

static int delete_prefix(const char *prefix)
{
	char end[128], *k, *e;
	size_t l = strlen(prefix);
	int ret;

	snprintf(end, sizeof(end), "%s", prefix);
	end[l - 1]++;
	k = etcd_b64(prefix);
	e = etcd_b64(end);
	ret = post("/v3/kv/deleterange", json_pack("{s:s, s:s}", "key", k, "range_end", e));
	free(k);
	free(e);
	return ret;
}

/* Every key NODE/NAMEPREFIX* of the endpoints of simulated nodes 0..nodes-1, in one txn. */
static int delete_per_node(const char *name_prefix, long nodes)
{
	json_t *ops = json_array();

	for (long n = 0; n < nodes; n++) {
		char key[128], end[128], *k, *e;

		snprintf(key, sizeof(key), "/petrel/endpoints/sim%ld/%s", n, name_prefix);
		snprintf(end, sizeof(end), "%s", key);
		end[strlen(end) - 1]++;
		k = etcd_b64(key);
		e = etcd_b64(end);
		json_array_append_new(ops, json_pack("{s:{s:s, s:s}}", "request_delete_range", "key", k,
						     "range_end", e));
		free(k);
		free(e);
	}
	return post("/v3/kv/txn", json_pack("{s:o}", "success", ops));
}

/* Simulated endpoint i: 100.64.0.0/10 and fd00:5ca1::/64, never a real host (only data). */
static void sim_ip4(long i, char *buf)
{
	snprintf(buf, 16, "100.%ld.%ld.%ld", 64 + (i >> 16 & 63), i >> 8 & 255, i & 255);
}

static char *endpoint_record(const char *name, const char *node, long i)
{
	char ip4[16], ip6[48], mac[18], tier[8], *text;
	json_t *j;

	sim_ip4(i, ip4);
	snprintf(ip6, sizeof(ip6), "fd00:5ca1::%lx:%lx", i >> 16, i & 0xffff);
	snprintf(mac, sizeof(mac), "02:5c:%02lx:%02lx:%02lx:%02lx", i >> 24 & 255, i >> 16 & 255,
		 i >> 8 & 255, i & 255);
	snprintf(tier, sizeof(tier), "t%ld", i % IDENTITIES);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:[], s:s, s:I, s:I,"
		      " s:b, s:b}",
		      "name", name, "node", node, "ipv4", ip4, "ipv6", ip6, "mac", mac,
		      "netns", "sim", "ifname", "sim", "labels", "app", "sim", "tier", tier,
		      "publish", "state", "ready", "id", (json_int_t)(0x40000000 | i),
		      "identity", (json_int_t)(100000 + i % IDENTITIES), "netns_owned", 0, "moved", 0);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

static int put_one(const char *key, const char *value)
{
	char *k = etcd_b64(key), *v = etcd_b64(value);
	int ret = post("/v3/kv/put", json_pack("{s:s, s:s}", "key", k, "value", v));

	free(k);
	free(v);
	return ret;
}

static int put_endpoints(const char *prefix, long from, long count, long nodes)
{
	struct txn t = { json_array() };
	char key[128], name[64], node[32];
	int ret = 0;

	for (long i = from; i < from + count && !ret; i++) {
		char *rec;

		snprintf(name, sizeof(name), "%s%ld", prefix, i);
		snprintf(node, sizeof(node), "sim%ld", i % nodes);
		snprintf(key, sizeof(key), "/petrel/endpoints/%s/%s", node, name);
		rec = endpoint_record(name, node, i);
		ret = txn_put(&t, key, rec);
		free(rec);
	}
	if (!ret)
		ret = txn_flush(&t);
	json_decref(t.ops);
	return ret;
}

static int fill(long nodes, long endpoints)
{
	struct txn t = { json_array() };
	char key[128], value[512];
	int ret = 0;

	for (long n = 0; n < nodes && !ret; n++) {
		snprintf(key, sizeof(key), "/petrel/nodes/sim%ld", n);
		snprintf(value, sizeof(value),
			 "{\"name\":\"sim%ld\",\"ipv4\":\"100.127.%ld.%ld\",\"ipv6\":\"fd00:5ca1:ffff::%lx\","
			 "\"block4\":\"100.126.%ld.%ld/32\",\"block6\":\"fd00:5ca1:fffe:%lx::/64\"}",
			 n, n >> 8, n & 255, n, n >> 8, n & 255, n);
		ret = txn_put(&t, key, value);
	}
	if (!ret)
		ret = txn_flush(&t);
	json_decref(t.ops);
	return ret ? ret : put_endpoints("sim-ep", 0, endpoints, nodes);
}

static bool visible(long i)
{
	struct loc4_key k = { .prefixlen = 32 };
	struct loc_info v;
	char ip4[16];

	sim_ip4(i, ip4);
	inet_pton(AF_INET, ip4, k.addr);
	return bpf_map_lookup_elem(loc4_fd, &k, &v) == 0 && v.node4[0] == 100;
}

/* The agent's CPU time, all threads, in ns resolution (schedstat; /proc/PID/stat counts
 * 10 ms ticks, too coarse for a fraction of a millisecond per event). */
static double cpu_s(int pid)
{
	char path[64];
	double total = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return 0;
	while ((d = readdir(dir))) {
		char p[320];
		unsigned long long ns = 0;
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, d->d_name);
		if ((f = fopen(p, "r"))) {
			if (fscanf(f, "%llu", &ns) == 1)
				total += (double)ns / 1e9;
			fclose(f);
		}
	}
	closedir(dir);
	return total;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define PROBE_BASE 3000000L             /* simulated indices the probes use */

static int probe(long count, int pid)
{
	double *lat = calloc((size_t)count, sizeof(*lat)), cpu0 = cpu_s(pid), t_all = now_s();
	char name[64], key[128];
	long lost = 0;

	for (long i = 0; lat && i < count; i++) {
		long idx = PROBE_BASE + i;
		char *rec;
		double t0;

		snprintf(name, sizeof(name), "sim-probe%ld", i);
		snprintf(key, sizeof(key), "/petrel/endpoints/sim0/%s", name);
		rec = endpoint_record(name, "sim0", idx);
		t0 = now_s();
		if (put_one(key, rec))
			fprintf(stderr, "probe: put failed\n");
		free(rec);
		while (!visible(idx) && now_s() - t0 < 5)
			usleep(50);
		lat[i] = (now_s() - t0) * 1000;
		lost += lat[i] >= 5000;
	}
	double cpu = cpu_s(pid) - cpu0, wall = now_s() - t_all;

	qsort(lat, (size_t)count, sizeof(*lat), cmp_d);
	printf("{\"count\":%ld,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"lost\":%ld,"
	       "\"agent_cpu_ms_per_event\":%.3f,\"wall_s\":%.2f}\n", count, lat[count / 2],
	       lat[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1], lat[count - 1], lost,
	       cpu * 1000 / (double)count, wall);
	delete_prefix("/petrel/endpoints/sim0/sim-probe");
	free(lat);
	return lost ? 1 : 0;
}

#define BURST_BASE 2000000L

static int burst(long count, int pid)
{
	double cpu0 = cpu_s(pid), t0 = now_s(), t_written, t_seen;
	long missing = count;

	if (put_endpoints("sim-burst", BURST_BASE, count, 100))
		return fprintf(stderr, "burst: writing failed\n"), 1;
	t_written = now_s();
	/* Wait for the last one, then check them all. */
	while (missing && now_s() - t0 < 120) {
		missing = 0;
		for (long i = count - 1; i >= 0 && !missing; i--)
			missing += !visible(BURST_BASE + i);
		if (missing)
			usleep(1000);
	}
	for (long i = 0; i < count; i++)
		missing += !visible(BURST_BASE + i);
	t_seen = now_s();
	printf("{\"count\":%ld,\"write_s\":%.3f,\"absorb_s\":%.3f,\"missing\":%ld,"
	       "\"agent_cpu_s\":%.3f}\n", count, t_written - t0, t_seen - t0, missing,
	       cpu_s(pid) - cpu0);
	return missing ? 1 : 0;
}

static int unburst(long count, int pid)
{
	double cpu0 = cpu_s(pid), t0 = now_s();
	long present = 1;

	/* put_endpoints spread them over 100 nodes' keys: one removal of each, at once. */
	if (delete_per_node("sim-burst", 100))
		return 1;
	while (present && now_s() - t0 < 120) {
		present = 0;
		for (long i = 0; i < count && !present; i++)
			present += visible(BURST_BASE + i);
		if (present)
			usleep(1000);
	}
	printf("{\"count\":%ld,\"absorb_s\":%.3f,\"present\":%ld,\"agent_cpu_s\":%.3f}\n", count,
	       now_s() - t0, present, cpu_s(pid) - cpu0);
	return present ? 1 : 0;
}

/* Every filled endpoint in the map: what any version of the agent must get to. */
static int settle(long count, double limit)
{
	double t0 = now_s();
	long missing = count, first = 0;

	while (missing && now_s() - t0 < limit) {
		missing = 0;
		for (long i = first; i < count && !missing; i++)
			if (!visible(i)) {
				missing = 1;
				first = i;      /* the ones before stay: look on from here */
			}
		if (missing)
			usleep(20000);
	}
	printf("{\"count\":%ld,\"settled\":%s,\"seconds\":%.3f}\n", count,
	       missing ? "false" : "true", now_s() - t0);
	return missing ? 1 : 0;
}

static int enter(const char *netns)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		return fprintf(stderr, "cannot enter netns %s: %s\n", netns, strerror(errno)), -1;
	close(fd);
	return 0;
}

static int open_map(const char *pin)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/locations4", pin);
	loc4_fd = bpf_obj_get(path);
	if (loc4_fd < 0)
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
	return loc4_fd < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";

	if (argc < 4) {
		fprintf(stderr, "usage: scale_load fill|probe|burst|unburst|settle NETNS ETCD ...\n");
		return 2;
	}
	/* The map first: pinned maps are found through this mount namespace's bpffs. */
	if (strcmp(verb, "fill") && (argc < 6 || open_map(argv[4])))
		return 2;
	if (enter(argv[2]) || open_store(argv[3]))
		return 2;
	if (!strcmp(verb, "fill") && argc == 6)
		return fill(atol(argv[4]), atol(argv[5])) ? 1 : 0;
	if (!strcmp(verb, "probe") && argc == 7)
		return probe(atol(argv[5]), atoi(argv[6]));
	if (!strcmp(verb, "burst") && argc == 7)
		return burst(atol(argv[5]), atoi(argv[6]));
	if (!strcmp(verb, "settle") && argc == 7)
		return settle(atol(argv[5]), atof(argv[6]));
	if (!strcmp(verb, "unburst") && argc == 7)
		return unburst(atol(argv[5]), atoi(argv[6]));
	fprintf(stderr, "scale_load: bad arguments for '%s'\n", verb);
	return 2;
}
