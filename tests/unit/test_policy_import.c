/* Unit tests for policies as Cilium and Kubernetes write them: YAML and JSON documents
 * translated into petrel's model, the fields petrel refuses, and what the translated
 * policies compile to (selectors with expressions and namespaces, CIDR excepts, entities). */
#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include "identity.h"

#define POLICY_TEST_FILE "t.yaml"
#include "policy_expect.h"

/* Cilium's documentation, "Layer 3 Examples" and "Layer 4 Examples", as published. */
static const char cilium_l3_l4[] =
	"apiVersion: \"cilium.io/v2\"\n"
	"kind: CiliumNetworkPolicy\n"
	"metadata:\n"
	"  name: \"l3-rule\"\n"
	"spec:\n"
	"  endpointSelector:\n"
	"    matchLabels:\n"
	"      role: backend\n"
	"  ingress:\n"
	"  - fromEndpoints:\n"
	"    - matchLabels:\n"
	"        role: frontend\n"
	"---\n"
	"apiVersion: \"cilium.io/v2\"\n"
	"kind: CiliumNetworkPolicy\n"
	"metadata:\n"
	"  name: \"l4-rule\"\n"
	"spec:\n"
	"  endpointSelector:\n"
	"    matchLabels:\n"
	"      app: myService\n"
	"  ingress:\n"
	"    - toPorts:\n"
	"      - ports:\n"
	"        - port: \"80\"\n"
	"          protocol: TCP\n";

/* Kubernetes' documentation, "The NetworkPolicy resource", as published. */
static const char k8s_example[] =
	"apiVersion: networking.k8s.io/v1\n"
	"kind: NetworkPolicy\n"
	"metadata:\n"
	"  name: test-network-policy\n"
	"  namespace: default\n"
	"spec:\n"
	"  podSelector:\n"
	"    matchLabels:\n"
	"      role: db\n"
	"  policyTypes:\n"
	"  - Ingress\n"
	"  - Egress\n"
	"  ingress:\n"
	"  - from:\n"
	"    - ipBlock:\n"
	"        cidr: 172.17.0.0/16\n"
	"        except:\n"
	"        - 172.17.1.0/24\n"
	"    - namespaceSelector:\n"
	"        matchLabels:\n"
	"          project: myproject\n"
	"    - podSelector:\n"
	"        matchLabels:\n"
	"          role: frontend\n"
	"    ports:\n"
	"    - protocol: TCP\n"
	"      port: 6379\n"
	"  egress:\n"
	"  - to:\n"
	"    - ipBlock:\n"
	"        cidr: 10.0.0.0/24\n"
	"    ports:\n"
	"    - protocol: TCP\n"
	"      port: 5978\n";

static void test_cilium_yaml(void)
{
	struct policy *p;
	size_t n;

	CHECK(parse(cilium_l3_l4, &p, &n) == 0);
	CHECK(n == 2);
	CHECK_STR(p[0].name, "l3-rule");
	/* A namespaced policy selects in its namespace ("default" when it names none). */
	CHECK(p[0].subject.n == 2);
	CHECK(p[0].enforce[DIR_INGRESS] && !p[0].enforce[DIR_EGRESS]);
	CHECK(p[0].n_rules == 1 && p[0].rules[0].n_selectors == 1 && p[0].rules[0].selectors[0].n == 2);
	/* "80" as a string, TCP */
	CHECK(p[1].n_rules == 1 && p[1].rules[0].n_ports == 1 && p[1].rules[0].ports[0].port == 80 &&
	      p[1].rules[0].ports[0].proto == IPPROTO_TCP && p[1].rules[0].n_selectors == 0);
	policy_free(p, n);

	/* The same policy as JSON, the shape the old parser refused. */
	CHECK(parse("{\"name\":\"web\",\"endpointSelector\":{},\"ingress\":[{\"toPorts\":"
		    "[{\"ports\":[{\"port\":\"80\",\"protocol\":\"TCP\"}]}]}]}", &p, &n) == 0);
	CHECK(n == 1 && p[0].rules[0].n_ports == 1 && p[0].rules[0].ports[0].port == 80);
	policy_free(p, n);

	/* Cilium's ports default to any protocol; its `{}` rule allows nothing but enforces. */
	CHECK(parse("apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
		    "metadata: {name: deny-all}\nspec:\n  endpointSelector: {}\n  ingress:\n  - {}\n"
		    "  egress:\n  - toPorts: [{ports: [{port: \"53\"}]}]\n", &p, &n) == 0);
	CHECK(n == 1 && p[0].subject.n == 0 && p[0].enforce[DIR_INGRESS] && p[0].enforce[DIR_EGRESS]);
	CHECK(p[0].n_rules == 1 && p[0].rules[0].dir == DIR_EGRESS && p[0].rules[0].ports[0].proto == 0);
	/* Encoded and read back, the empty ingress section still enforces. */
	char *text = policy_encode(&p[0]);
	struct policy *q;
	size_t m;
	CHECK(text && strstr(text, "\"ingress\":[]") && parse(text, &q, &m) == 0);
	CHECK(m == 1 && q[0].enforce[DIR_INGRESS] && q[0].n_rules == 1);
	free(text);
	policy_free(q, m);
	policy_free(p, n);

	/* specs, entities, CIDR sets with except, matchExpressions, k8s: sources. */
	CHECK(parse("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
		    "metadata: {name: multi, namespace: shop}\nspecs:\n"
		    "- endpointSelector: {matchLabels: {k8s:app: web}}\n"
		    "  egress:\n  - toEntities: [world, host]\n"
		    "  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]\n"
		    "- endpointSelector:\n    matchExpressions:\n"
		    "    - {key: tier, operator: In, values: [db, cache]}\n"
		    "  ingressDeny:\n  - fromEndpoints: [{matchLabels: {io.kubernetes.pod.namespace: other}}]\n",
		    &p, &n) == 0);
	CHECK(n == 2);
	CHECK_STR(p[0].name, "multi-0");
	CHECK_STR(p[1].name, "multi-1");
	CHECK(p[0].rules[0].entities == (ENTITY_WORLD | ENTITY_HOST));
	CHECK(p[0].rules[1].n_cidrs == 1 && p[0].rules[1].cidrs[0].n_except == 1);
	CHECK_STR(p[0].subject.labels[0].key, "app");
	CHECK(p[1].subject.n_exprs == 1 && p[1].subject.exprs[0].op == SEL_IN);
	/* a selector naming a namespace keeps it; others get the policy's */
	CHECK(p[1].rules[0].selectors[0].n == 1);
	CHECK_STR(p[1].rules[0].selectors[0].labels[0].value, "other");
	policy_free(p, n);
}

static void test_k8s(void)
{
	struct policy *p;
	size_t n;
	const struct policy_rule *r;

	CHECK(parse(k8s_example, &p, &n) == 0);
	CHECK(n == 1 && p[0].enforce[DIR_INGRESS] && p[0].enforce[DIR_EGRESS]);
	CHECK(p[0].n_rules == 2);
	r = &p[0].rules[0];
	CHECK(r->dir == DIR_INGRESS && r->n_cidrs == 1 && r->cidrs[0].n_except == 1);
	CHECK(r->n_selectors == 2);
	/* namespaceSelector project=myproject: the namespace's label, as Cilium writes it */
	CHECK_STR(r->selectors[0].labels[0].key, POLICY_NAMESPACE_LABELS "project");
	/* podSelector alone: the policy's own namespace */
	CHECK(r->selectors[1].n == 2);
	CHECK(r->n_ports == 1 && r->ports[0].port == 6379 && r->ports[0].proto == IPPROTO_TCP);
	policy_free(p, n);

	/* Deny-all ingress, from Kubernetes' documentation. */
	CHECK(parse("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
		    "  name: default-deny-ingress\nspec:\n  podSelector: {}\n  policyTypes:\n  - Ingress\n",
		    &p, &n) == 0);
	CHECK(n == 1 && p[0].enforce[DIR_INGRESS] && !p[0].enforce[DIR_EGRESS] && p[0].n_rules == 0);
	policy_free(p, n);

	/* Allow-all egress: an empty rule is every destination and port. */
	CHECK(parse("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\","
		    "\"metadata\":{\"name\":\"allow-all-egress\"},\"spec\":{\"podSelector\":{},"
		    "\"egress\":[{}],\"policyTypes\":[\"Egress\"]}}", &p, &n) == 0);
	CHECK(n == 1 && p[0].n_rules == 1 && !p[0].rules[0].n_selectors && !p[0].rules[0].n_cidrs);
	policy_free(p, n);
}

static void test_refused(void)
{
	static const char head[] = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
				   "metadata: {name: x}\nspec:\n  endpointSelector: {}\n";
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s  egress:\n  - toFQDNs: [{matchName: example.com}]\n", head);
	expect_error(buf, "egress[0].toFQDNs: not enforceable");
	snprintf(buf, sizeof(buf), "%s  ingress:\n  - toPorts:\n    - ports: [{port: \"80\"}]\n"
		 "      rules: {http: [{method: GET}]}\n", head);
	expect_error(buf, "ingress[0].toPorts[0].rules: L7 rules are not enforced");
	snprintf(buf, sizeof(buf), "%s  ingress:\n  - toPorts: [{ports: [{port: http}]}]\n", head);
	expect_error(buf, "named port 'http'");
	snprintf(buf, sizeof(buf), "%s  ingress:\n  - fromEntities: [kube-apiserver]\n", head);
	expect_error(buf, "'kube-apiserver' is not an entity");
	snprintf(buf, sizeof(buf), "%s  ingress:\n  - fromEndpoints: [{matchLabels: {reserved:host: \"\"}}]\n", head);
	expect_error(buf, "use fromEntities");
	expect_error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\n"
		     "spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: web}]\n",
		     "ingress[0].ports[0].port: named port 'web'");
	expect_error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\n"
		     "spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 9, protocol: SCTP}]\n",
		     "SCTP is not filtered");
	expect_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "not a policy kind");
	expect_error("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\n"
		     "spec:\n  endpointSelector: {}\n  ingres: []\n", "spec.ingres: unknown field");
	expect_error("a: [1, 2\n", "t.yaml: line");
	expect_error("a: &x 1\nb: *x\n", "aliases");
	/* One bad document: nothing in the file applies. */
	snprintf(buf, sizeof(buf), "%s  ingress: [{}]\n---\n%s  ingress: [{fromCIDR: [10.0.0.1/8]}]\n", head, head);
	expect_error(buf, "host bits");
}

static const struct policy_entry *find(const struct policy_compiled *c, uint32_t ep, int dir, uint32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->entries[i].ep_id == ep && c->entries[i].dir == dir && c->entries[i].identity == id)
			return &c->entries[i];
	return NULL;
}

static void test_semantics(void)
{
	struct ep_label web[] = { { "app", "web" } },
		db_other[] = { { "app", "db" }, { POLICY_NAMESPACE_LABEL, "other" } },
		db_prod[] = { { "app", "db" }, { POLICY_NAMESPACE_LABEL, "prod" },
			      { POLICY_NAMESPACE_LABELS "env", "prod" } };
	struct policy_subject subj[] = { { 10, web, 1 } };
	struct identity_ref ids[] = {
		{ .identity = 300, .labels = web, .n_labels = 1 },
		{ .identity = 301, .labels = db_other, .n_labels = 2 },
		{ .identity = 302, .labels = db_prod, .n_labels = 3 },
		{ .identity = IDENTITY_FIRST_CIDR },       /* 10.0.0.0/8 */
		{ .identity = IDENTITY_FIRST_CIDR + 1 },   /* 10.96.0.0/12, the except */
		{ .identity = IDENTITY_WORLD },
	};
	struct policy_compiled c;
	struct policy *p;
	size_t n;

	cidr_parse("10.0.0.0/8", &ids[3].cidr);
	cidr_parse("10.96.0.0/12", &ids[4].cidr);
	cidr_parse("0.0.0.0/0", &ids[5].cidr);
	/* egress to db pods in namespaces labelled env=prod, and to 10/8 but not 10.96/12 */
	CHECK(parse("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\n"
		    "spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n"
		    "  egress:\n  - to:\n    - namespaceSelector: {matchLabels: {env: prod}}\n"
		    "      podSelector: {matchLabels: {app: db}}\n"
		    "    - ipBlock: {cidr: 10.0.0.0/8, except: [10.96.0.0/12]}\n", &p, &n) == 0);
	CHECK(policy_compile(p, n, subj, 1, ids, 6, &c) == 0);
	CHECK(c.n_enforce == 1 && c.enforce[0].egress && !c.enforce[0].ingress);
	CHECK(find(&c, 10, DIR_EGRESS, 302) && !find(&c, 10, DIR_EGRESS, 301));
	CHECK(find(&c, 10, DIR_EGRESS, IDENTITY_FIRST_CIDR) && !find(&c, 10, DIR_EGRESS, IDENTITY_FIRST_CIDR + 1));
	CHECK(!find(&c, 10, DIR_EGRESS, IDENTITY_WORLD) && !find(&c, 10, DIR_EGRESS, 300));
	policy_compiled_free(&c);
	policy_free(p, n);

	/* entities: cluster is every endpoint and the host; world every outside identity */
	CHECK(parse("{\"name\":\"e\",\"endpointSelector\":{},\"ingress\":[{\"fromEntities\":[\"cluster\"]}],"
		    "\"egress\":[{\"toEntities\":[\"world\"]}]}", &p, &n) == 0);
	CHECK(policy_compile(p, n, subj, 1, ids, 6, &c) == 0);
	CHECK(find(&c, 10, DIR_INGRESS, 300) && find(&c, 10, DIR_INGRESS, 301) &&
	      find(&c, 10, DIR_INGRESS, IDENTITY_HOST) && !find(&c, 10, DIR_INGRESS, IDENTITY_WORLD));
	CHECK(find(&c, 10, DIR_EGRESS, IDENTITY_WORLD) && find(&c, 10, DIR_EGRESS, IDENTITY_FIRST_CIDR) &&
	      !find(&c, 10, DIR_EGRESS, 300));
	policy_compiled_free(&c);
	policy_free(p, n);

	/* NotIn over the namespace: an endpoint without the label is in "default". */
	CHECK(parse("{\"name\":\"n\",\"endpointSelector\":{\"matchExpressions\":[{\"key\":\""
		    POLICY_NAMESPACE_LABEL "\",\"operator\":\"NotIn\",\"values\":[\"default\"]}]},"
		    "\"ingress\":[]}", &p, &n) == 0);
	CHECK(policy_compile(p, n, subj, 1, ids, 6, &c) == 0);
	CHECK(c.n_enforce == 0);
	policy_compiled_free(&c);
	policy_free(p, n);
}

int main(void)
{
	test_cilium_yaml();
	test_k8s();
	test_refused();
	test_semantics();
	return harness_done("test_policy_import");
}
