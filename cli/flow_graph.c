/* `petrel flows --graph`: the node's flow log drawn as a service map. Every decision is
 * an edge from the source's identity to the destination's, per protocol and port and
 * verdict, with its count and the policies that decided it; identities are the boxes,
 * each naming its labels and the node's endpoints seen in it. graphviz lays it out (dot
 * to SVG); with -j the same graph is printed as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "api_client.h"
#include "print.h"
#include "proc.h"
#include "util.h"

struct graph {
	json_t *nodes;          /* identity → {identity, labels[], endpoints{}} */
	json_t *edges;          /* "src>dst/proto/port/verdict" → {..., count, policies{}} */
};

static json_t *node_of(struct graph *g, json_t *peer)
{
	char id[24];
	json_t *n;

	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(peer, "identity")));
	if (!(n = json_object_get(g->nodes, id))) {
		json_t *labels = json_object_get(peer, "labels");

		n = json_pack("{s:I, s:o, s:{}}", "identity",
			      (json_int_t)json_integer_value(json_object_get(peer, "identity")),
			      "labels", labels ? json_incref(labels) : json_array(), "endpoints");
		json_object_set_new(g->nodes, id, n);
	}
	return n;
}

static int on_event(json_t *ev, void *arg)
{
	struct graph *g = arg;
	json_t *src = json_object_get(ev, "src"), *dst = json_object_get(ev, "dst"), *e;
	const char *verdict = json_str(ev, "verdict"), *proto = json_str(ev, "protocol");
	long long port = json_integer_value(json_object_get(dst, "port"));
	char key[160];

	if (!src || !dst || !*verdict)
		return 0;
	node_of(g, src);
	node_of(g, dst);
	/* The node's own endpoint is the destination of what it received, the source of
	 * what it sent. */
	json_object_set_new(json_object_get(node_of(g, !strcmp(json_str(ev, "direction"), "ingress") ?
						      dst : src), "endpoints"),
			    json_str(ev, "endpoint"), json_true());
	snprintf(key, sizeof(key), "%lld>%lld/%s/%lld/%s",
		 (long long)json_integer_value(json_object_get(src, "identity")),
		 (long long)json_integer_value(json_object_get(dst, "identity")), proto, port, verdict);
	if (!(e = json_object_get(g->edges, key))) {
		e = json_pack("{s:O, s:O, s:s, s:I, s:s, s:i, s:{}}",
			      "from", json_object_get(src, "identity"), "to", json_object_get(dst, "identity"),
			      "protocol", proto, "port", (json_int_t)port, "verdict", verdict, "count", 0,
			      "policies");
		json_object_set_new(g->edges, key, e);
	}
	json_object_set_new(e, "count", json_integer(json_integer_value(json_object_get(e, "count")) + 1));
	json_object_set_new(json_object_get(e, "policies"), json_str(ev, "policy"), json_true());
	return 0;
}

/* A JSON object's keys, joined. */
static void keys_joined(json_t *o, const char *sep, char *buf, size_t len)
{
	const char *k;
	size_t off = 0;
	json_t *v;

	buf[0] = 0;
	json_object_foreach(o, k, v)
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? sep : "", k);
}

/* DOT strings hold no quotes or backslashes of ours: names and labels are [A-Za-z0-9._/=-]. */
static void write_dot(FILE *f, struct graph *g)
{
	const char *k;
	char list[1024];
	json_t *n, *e, *l;
	size_t i;

	fprintf(f, "digraph flows {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans\"];\n"
		   "  edge [fontname=\"sans\", fontsize=10];\n");
	json_object_foreach(g->nodes, k, n) {
		fprintf(f, "  id%s [label=\"identity %s", k, k);
		json_array_foreach(json_object_get(n, "labels"), i, l)
			fprintf(f, "\\n%s", json_string_value(l));
		keys_joined(json_object_get(n, "endpoints"), ", ", list, sizeof(list));
		fprintf(f, "%s%s\"];\n", *list ? "\\nendpoints: " : "", list);
	}
	json_object_foreach(g->edges, k, e) {
		bool allowed = !strcmp(json_str(e, "verdict"), "allowed");

		keys_joined(json_object_get(e, "policies"), ", ", list, sizeof(list));
		fprintf(f, "  id%lld -> id%lld [label=\"%s/%lld\\n%lld %s\\n%s\", color=\"%s\", "
			   "fontcolor=\"%s\", style=%s];\n",
			(long long)json_integer_value(json_object_get(e, "from")),
			(long long)json_integer_value(json_object_get(e, "to")), json_str(e, "protocol"),
			(long long)json_integer_value(json_object_get(e, "port")),
			(long long)json_integer_value(json_object_get(e, "count")), json_str(e, "verdict"),
			list, allowed ? "darkgreen" : "red3", allowed ? "darkgreen" : "red3",
			allowed ? "solid" : "dashed");
	}
	fprintf(f, "}\n");
}

/* The graph as SVG, by graphviz's dot. */
static int render_svg(struct cli *c, struct graph *g)
{
	char path[] = "/tmp/petrel-flows-XXXXXX", *argv[] = { "dot", "-Tsvg", path, NULL }, *svg = NULL;
	int fd = mkstemp(path), ret;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return cli_error(c, "cannot write the graph: %s", strerror(errno));
	write_dot(f, g);
	fclose(f);
	ret = proc_output(argv, &svg, 30000);
	unlink(path);
	if (ret) {
		ret = cli_error(c, "graphviz's dot failed (%d)%s%s; is graphviz installed "
				"(scripts/install-deps.sh)?", ret, svg && *svg ? ": " : "", svg ? svg : "");
		free(svg);
		return ret;
	}
	print_string(PRINT_FP, NULL, "%s", svg);
	free(svg);
	return 0;
}

int flows_graph(struct cli *c, const char *path)
{
	struct graph g = { json_object(), json_object() };
	const char *sock;
	long status = 0;
	int err, ret;
	json_t *out, *edges = json_array(), *nodes = json_array(), *v;
	const char *k;

	sock = cli_socket(c, &err);
	if (!sock)
		return err;
	ret = api_stream(sock, "GET", path, NULL, on_event, &g, &status);
	if (ret)
		ret = cli_error(c, "no agent answers on %s: %s", sock, strerror(-ret));
	else if (status != 200)
		ret = cli_error(c, "the agent refused the flow query (HTTP %ld)", status);
	else if (is_json_context()) {
		json_object_foreach(g.nodes, k, v)
			json_array_append(nodes, v);
		json_object_foreach(g.edges, k, v)
			json_array_append(edges, v);
		out = json_pack("{s:O, s:O}", "nodes", nodes, "edges", edges);
		print_record(PRINT_JSON, out, NULL);
		json_decref(out);
	} else {
		ret = render_svg(c, &g);
	}
	json_decref(nodes);
	json_decref(edges);
	json_decref(g.nodes);
	json_decref(g.edges);
	return ret;
}
