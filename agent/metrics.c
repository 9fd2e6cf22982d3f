/* Prometheus text exposition of the datapath counters (GET /metrics). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "cluster_cache.h"
#include "netlink.h"

char *metrics_prometheus(struct agent *a)
{
	static const char *names[] = { "rx_packets", "rx_bytes", "tx_packets", "tx_bytes" };
	struct endpoint *eps = NULL;
	uint64_t drops[64] = { 0 };
	size_t n = 0, len = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	int nd;

	if (!f)
		return NULL;
	cluster_local_endpoints(a, &eps, &n);
	for (int m = 0; m < 4; m++) {
		fprintf(f, "# HELP petrel_endpoint_%s_total Packets or bytes %s the endpoint through the datapath.\n",
			names[m], m < 2 ? "delivered to" : "sent by");
		fprintf(f, "# TYPE petrel_endpoint_%s_total counter\n", names[m]);
		for (size_t i = 0; i < n; i++) {
			struct dp_counters c;
			uint64_t v[4];
			int idx;

			if (strcmp(eps[i].node, a->cfg.node))
				continue;
			idx = nl_link_index(eps[i].ifname);
			if (idx <= 0 || datapath_endpoint_counters(a->dp, idx, &c))
				continue;
			v[0] = c.rx_packets; v[1] = c.rx_bytes; v[2] = c.tx_packets; v[3] = c.tx_bytes;
			fprintf(f, "petrel_endpoint_%s_total{node=\"%s\",endpoint=\"%s\"} %llu\n",
				names[m], a->cfg.node, eps[i].name, (unsigned long long)v[m]);
		}
	}
	free(eps);
	nd = datapath_drop_counters(a->dp, drops, 64);
	fprintf(f, "# HELP petrel_drops_total Packets dropped by the datapath, by reason.\n");
	fprintf(f, "# TYPE petrel_drops_total counter\n");
	for (int i = 0; i < nd; i++)
		fprintf(f, "petrel_drops_total{node=\"%s\",reason=\"%s\"} %llu\n", a->cfg.node,
			datapath_drop_reason_name(i), (unsigned long long)drops[i]);
	fprintf(f, "# HELP petrel_map_full_total Updates a full datapath map refused.\n");
	fprintf(f, "# TYPE petrel_map_full_total counter\n");
	for (int i = 0; i < 2; i++) {
		const char *map = i ? "ipcache" : "locations";

		fprintf(f, "petrel_map_full_total{node=\"%s\",map=\"%s\"} %llu\n", a->cfg.node, map,
			(unsigned long long)datapath_map_full(a->dp, map));
	}
	fprintf(f, "# HELP petrel_cluster_records Records in this node's cluster cache.\n");
	fprintf(f, "# TYPE petrel_cluster_records gauge\n");
	fprintf(f, "petrel_cluster_records{node=\"%s\",kind=\"node\"} %zu\n", a->cfg.node,
		cluster_count(a, CC_NODE));
	fprintf(f, "petrel_cluster_records{node=\"%s\",kind=\"endpoint\"} %zu\n", a->cfg.node,
		cluster_count(a, CC_ENDPOINT));
	container_metrics(a, f);
	migrate_metrics(a, f);
	relays_metrics(a, f);
	policy_sync_metrics(a, f);
	latency_metrics(a, f);
	ioam_metrics(a, f);
	fclose(f);
	return buf;
}
