/* Policy files as people write them: JSON or YAML, several documents, each a petrel policy
 * (or an array of them) or a Cilium or Kubernetes policy object. The foreign kinds are
 * translated into petrel's own policy objects, which policy_parse then checks field by
 * field, so what petrel cannot enforce is refused there with the field's path and why. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "config.h"
#include "policy.h"
#include "policy_error.h"
#include "yaml_json.h"

/* --- selectors ------------------------------------------------------------------------ */

static bool names_namespace(json_t *sel)
{
	json_t *x;
	size_t i;

	if (json_object_get(json_object_get(sel, "matchLabels"), POLICY_NAMESPACE_LABEL))
		return true;
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, x)
		if (!strcmp(json_string_value(json_object_get(x, "key")) ?: "", POLICY_NAMESPACE_LABEL))
			return true;
	return false;
}

/* Cilium's label sources: "k8s:" and "any:" name the labels petrel has; others do not. */
static int strip_source(const char *key, const char **out, struct policy_error *e, const char *field)
{
	const char *colon = strchr(key, ':');

	*out = key;
	if (!colon)
		return 0;
	if (!strncmp(key, "k8s:", 4) || !strncmp(key, "any:", 4)) {
		*out = colon + 1;
		return 0;
	}
	if (!strncmp(key, "reserved:", 9))
		return policy_fail(e, field, "reserved labels are entities in petrel: use fromEntities/toEntities");
	return policy_fail(e, field, "label source '%.*s' is not one petrel has (k8s: or any:)",
		     (int)(colon - key), key);
}

/* A copy of a Cilium selector with label sources stripped, scoped to namespace ns (NULL:
 * cluster-wide) unless it names a namespace itself, as Cilium scopes a namespaced policy. */
static int cilium_selector(json_t *sel, const char *ns, json_t **out, struct policy_error *e, const char *where)
{
	json_t *copy, *ml, *mx, *v, *x;
	const char *k, *key;
	char field[224];
	size_t i;

	if (!json_is_object(sel))
		return policy_fail(e, where, "must be an object like {matchLabels: {app: web}}");
	copy = json_deep_copy(sel);
	ml = json_object_get(copy, "matchLabels");
	if (json_is_object(ml)) {
		json_t *fixed = json_object();

		json_object_foreach(ml, k, v) {
			snprintf(field, sizeof(field), "%s.matchLabels.%s", where, k);
			if (strip_source(k, &key, e, field)) {
				json_decref(fixed);
				json_decref(copy);
				return -EINVAL;
			}
			json_object_set(fixed, key, v);
		}
		json_object_set_new(copy, "matchLabels", fixed);
	}
	mx = json_object_get(copy, "matchExpressions");
	json_array_foreach(mx, i, x) {
		const char *xk = json_string_value(json_object_get(x, "key"));

		snprintf(field, sizeof(field), "%s.matchExpressions[%zu].key", where, i);
		if (xk && strip_source(xk, &key, e, field)) {
			json_decref(copy);
			return -EINVAL;
		}
		if (xk)
			json_object_set_new(x, "key", json_string(key));
	}
	if (ns && !names_namespace(copy)) {
		if (!json_is_object(json_object_get(copy, "matchLabels")))
			json_object_set_new(copy, "matchLabels", json_object());
		json_object_set_new(json_object_get(copy, "matchLabels"), POLICY_NAMESPACE_LABEL, json_string(ns));
	}
	*out = copy;
	return 0;
}

/* --- Cilium --------------------------------------------------------------------------- */

static const char *const peer_fields[] = { "fromEndpoints", "toEndpoints", "fromCIDR", "toCIDR",
					   "fromCIDRSet", "toCIDRSet", "fromEntities", "toEntities",
					   "toPorts", NULL };

/* Cilium's `{}` rule turns default-deny on and allows nothing: it adds no rule here, while
 * the section it sits in stays (petrel's empty section means the same). */
static bool rule_is_empty(json_t *rule)
{
	const char *k;
	json_t *v;

	json_object_foreach(rule, k, v)
		if (!json_is_array(v) || json_array_size(v))
			return false;
	return true;
}

/* Cilium's ports default to any protocol; petrel's own files default to TCP. */
static void default_any_protocol(json_t *rule)
{
	json_t *pr, *port;
	size_t i, k;

	json_array_foreach(json_object_get(rule, "toPorts"), i, pr)
		json_array_foreach(json_object_get(pr, "ports"), k, port)
			if (json_is_object(port) && !json_object_get(port, "protocol"))
				json_object_set_new(port, "protocol", json_string("ANY"));
}

static int cilium_rules(json_t *arr, const char *section, const char *ns, json_t *out, struct policy_error *e)
{
	json_t *rules = json_array(), *rule;
	char where[192];
	size_t i;

	if (!json_is_array(arr)) {
		json_decref(rules);
		return policy_fail(e, section, "must be a list of rules");
	}
	json_array_foreach(arr, i, rule) {
		json_t *copy;

		snprintf(where, sizeof(where), "%s[%zu]", section, i);
		if (!json_is_object(rule)) {
			json_decref(rules);
			return policy_fail(e, where, "must be an object");
		}
		if (rule_is_empty(rule))
			continue;
		copy = json_deep_copy(rule);
		for (int s = 0; s < 2; s++) {
			json_t *sels = json_object_get(copy, peer_fields[s]), *sel, *fixed;
			size_t k;
			char field[224];

			json_array_foreach(sels, k, sel) {
				snprintf(field, sizeof(field), "%s.%s[%zu]", where, peer_fields[s], k);
				if (cilium_selector(sel, ns, &fixed, e, field)) {
					json_decref(copy);
					json_decref(rules);
					return -EINVAL;
				}
				json_array_set_new(sels, k, fixed);
			}
		}
		default_any_protocol(copy);
		json_array_append_new(rules, copy);
	}
	/* An empty list (Go's nil) does not turn default-deny on; a list of rules does. */
	if (json_array_size(arr))
		json_object_set(out, section, rules);
	json_decref(rules);
	return 0;
}

static int cilium_spec(json_t *spec, const char *name, const char *ns, json_t *out_list,
		       struct policy_error *e, const char *where)
{
	static const char *const known[] = { "description", "endpointSelector", "nodeSelector",
					     "ingress", "ingressDeny", "egress", "egressDeny", "labels",
					     "enableDefaultDeny", NULL };
	static const char *const sections[] = { "ingress", "ingressDeny", "egress", "egressDeny" };
	json_t *pol, *sel, *dd;
	char field[192];
	int ret = 0;

	if (!json_is_object(spec))
		return policy_fail(e, where, "must be an object");
	if (policy_check_keys(spec, known, e, where))
		return -EINVAL;
	snprintf(field, sizeof(field), "%s.nodeSelector", where);
	if (json_object_get(spec, "nodeSelector"))
		return policy_fail(e, field, "host policies are not enforced: petrel filters endpoints' traffic");
	dd = json_object_get(spec, "enableDefaultDeny");
	snprintf(field, sizeof(field), "%s.enableDefaultDeny", where);
	if (dd && (json_is_false(json_object_get(dd, "ingress")) || json_is_false(json_object_get(dd, "egress"))))
		return policy_fail(e, field, "false is not supported: a petrel policy always turns default-deny "
			     "on in the directions it has rules for");
	snprintf(field, sizeof(field), "%s.endpointSelector", where);
	if (!json_object_get(spec, "endpointSelector"))
		return policy_fail(e, field, "required");
	if (cilium_selector(json_object_get(spec, "endpointSelector"), ns, &sel, e, field))
		return -EINVAL;
	pol = json_pack("{s:s, s:o}", "name", name, "endpointSelector", sel);
	if (json_is_string(json_object_get(spec, "description")))
		json_object_set(pol, "description", json_object_get(spec, "description"));
	for (int s = 0; s < 4 && !ret; s++) {
		json_t *arr = json_object_get(spec, sections[s]);

		snprintf(field, sizeof(field), "%s.%s", where, sections[s]);
		if (arr)
			ret = cilium_rules(arr, sections[s], ns, pol, e);
	}
	if (!ret && !json_object_get(pol, "ingress") && !json_object_get(pol, "egress") &&
	    !json_object_get(pol, "ingressDeny") && !json_object_get(pol, "egressDeny"))
		ret = policy_fail(e, where, "no rules: the policy would change nothing");
	if (!ret)
		json_array_append(out_list, pol);
	json_decref(pol);
	return ret;
}

static int import_cilium(json_t *doc, const char *name, const char *ns, json_t *out, struct policy_error *e)
{
	json_t *spec = json_object_get(doc, "spec"), *specs = json_object_get(doc, "specs"), *s;
	size_t i, n = (spec ? 1 : 0) + json_array_size(specs);
	char where[32], sub[POLICY_NAME_MAX + 8];

	if (!spec && !specs)
		return policy_fail(e, "spec", "required (or specs)");
	if (specs && !json_is_array(specs))
		return policy_fail(e, "specs", "must be a list of rules");
	if (spec && cilium_spec(spec, name, ns, out, e, "spec"))
		return -EINVAL;
	json_array_foreach(specs, i, s) {
		/* Several specs become NAME, NAME-1, ...: petrel names each rule set. */
		snprintf(sub, sizeof(sub), n == 1 ? "%s" : "%s-%zu", name, i + (spec ? 1 : 0));
		snprintf(where, sizeof(where), "specs[%zu]", i);
		if (!name_valid(sub))
			return policy_fail(e, where, "'%s' is too long for a petrel policy name", sub);
		if (cilium_spec(s, sub, ns, out, e, where))
			return -EINVAL;
	}
	return 0;
}

/* --- Kubernetes NetworkPolicy ------------------------------------------------------------ */

#define K8S_NAMESPACE_NAME "kubernetes.io/metadata.name"

/* A namespace's labels as endpoint labels: its name is the namespace label itself. */
static const char *ns_key(const char *k, char *buf, size_t len)
{
	if (!strcmp(k, K8S_NAMESPACE_NAME))
		return POLICY_NAMESPACE_LABEL;
	snprintf(buf, len, POLICY_NAMESPACE_LABELS "%s", k);
	return buf;
}

/* podSelector (default: every pod) in the policy's namespace, or in the namespaces a
 * namespaceSelector picks. */
static json_t *k8s_selector(json_t *pods, json_t *namespaces, const char *ns)
{
	json_t *sel = json_is_object(pods) ? json_deep_copy(pods) : json_object(), *ml, *mx, *v, *x;
	const char *k;
	char buf[EP_LABEL_MAX * 2];
	size_t i;

	if (!json_is_object(ml = json_object_get(sel, "matchLabels")))
		json_object_set_new(sel, "matchLabels", ml = json_object());
	if (!namespaces) {
		json_object_set_new(ml, POLICY_NAMESPACE_LABEL, json_string(ns));
		return sel;
	}
	json_object_foreach(json_object_get(namespaces, "matchLabels"), k, v)
		json_object_set(ml, ns_key(k, buf, sizeof(buf)), v);
	if (!json_is_array(mx = json_object_get(sel, "matchExpressions")))
		json_object_set_new(sel, "matchExpressions", mx = json_array());
	json_array_foreach(json_object_get(namespaces, "matchExpressions"), i, x) {
		json_t *c = json_deep_copy(x);
		const char *xk = json_string_value(json_object_get(x, "key"));

		if (xk)
			json_object_set_new(c, "key", json_string(ns_key(xk, buf, sizeof(buf))));
		json_array_append_new(mx, c);
	}
	if (!json_array_size(mx))
		json_object_del(sel, "matchExpressions");
	return sel;
}

static int k8s_peer(json_t *peer, const char *ns, json_t *rule, const char *dir, struct policy_error *e,
		    const char *where)
{
	static const char *const known[] = { "podSelector", "namespaceSelector", "ipBlock", NULL };
	json_t *ip = json_object_get(peer, "ipBlock"), *list;
	char key[32], field[224];

	if (!json_is_object(peer))
		return policy_fail(e, where, "must be an object {podSelector, namespaceSelector, ipBlock}");
	if (policy_check_keys(peer, known, e, where))
		return -EINVAL;
	if (ip) {
		static const char *const ip_known[] = { "cidr", "except", NULL };

		snprintf(field, sizeof(field), "%s.ipBlock", where);
		if (json_object_size(peer) != 1)
			return policy_fail(e, field, "ipBlock cannot be combined with a selector");
		if (!json_is_object(ip) || policy_check_keys(ip, ip_known, e, field))
			return json_is_object(ip) ? -EINVAL : policy_fail(e, field, "must be {cidr, except}");
		snprintf(key, sizeof(key), "%sCIDRSet", dir);
		list = json_object_get(rule, key);
		json_array_append(list, ip);
		return 0;
	}
	snprintf(key, sizeof(key), "%sEndpoints", dir);
	list = json_object_get(rule, key);
	json_array_append_new(list, k8s_selector(json_object_get(peer, "podSelector"),
						 json_object_get(peer, "namespaceSelector"), ns));
	return 0;
}

static int k8s_ports(json_t *ports, json_t *rule, struct policy_error *e, const char *where)
{
	static const char *const known[] = { "port", "endPort", "protocol", NULL };
	json_t *out = json_array(), *p;
	char field[224];
	size_t i;

	json_array_foreach(ports, i, p) {
		json_t *q, *port = json_object_get(p, "port");
		const char *proto = json_string_value(json_object_get(p, "protocol"));

		snprintf(field, sizeof(field), "%s[%zu]", where, i);
		if (!json_is_object(p) || policy_check_keys(p, known, e, field)) {
			json_decref(out);
			return json_is_object(p) ? -EINVAL : policy_fail(e, field, "must be {port, endPort, protocol}");
		}
		snprintf(field, sizeof(field), "%s[%zu].port", where, i);
		if (json_is_string(port)) {
			json_decref(out);
			return policy_fail(e, field, "named port '%s' cannot be resolved: petrel knows no container "
				     "port names; give the number", json_string_value(port));
		}
		snprintf(field, sizeof(field), "%s[%zu].protocol", where, i);
		if (proto && strcmp(proto, "TCP") && strcmp(proto, "UDP")) {
			json_decref(out);
			return policy_fail(e, field, "%s is not filtered by petrel (TCP or UDP)", proto);
		}
		/* No port: every port of the protocol, which petrel writes as port 0. */
		q = json_pack("{s:s}", "protocol", proto ? proto : "TCP");
		json_object_set_new(q, "port", port ? json_incref(port) : json_integer(0));
		if (json_object_get(p, "endPort"))
			json_object_set(q, "endPort", json_object_get(p, "endPort"));
		json_array_append_new(out, q);
	}
	if (json_array_size(out))
		json_object_set(rule, "toPorts", out);
	json_decref(out);
	return 0;
}

static int k8s_rules(json_t *arr, bool ingress, const char *ns, json_t *out, struct policy_error *e)
{
	const char *section = ingress ? "ingress" : "egress", *dir = ingress ? "from" : "to";
	const char *const known[] = { ingress ? "from" : "to", "ports", NULL };
	json_t *rules = json_array(), *r;
	char where[192], key[32];
	size_t i;
	int ret = 0;

	json_object_set_new(out, section, rules);
	if (arr && !json_is_array(arr))
		return policy_fail(e, section, "must be a list of rules");
	json_array_foreach(arr, i, r) {
		json_t *rule = json_object(), *peers, *peer;
		size_t k;

		json_array_append_new(rules, rule);
		snprintf(where, sizeof(where), "%s[%zu]", section, i);
		if (!json_is_object(r))
			return policy_fail(e, where, "must be an object");
		if (policy_check_keys(r, known, e, where))
			return -EINVAL;
		peers = json_object_get(r, dir);
		/* No peer list, or an empty one: every source (or destination). */
		if (json_array_size(peers)) {
			snprintf(key, sizeof(key), "%sEndpoints", dir);
			json_object_set_new(rule, key, json_array());
			snprintf(key, sizeof(key), "%sCIDRSet", dir);
			json_object_set_new(rule, key, json_array());
		}
		json_array_foreach(peers, k, peer) {
			char field[224];

			snprintf(field, sizeof(field), "%s.%s[%zu]", where, dir, k);
			if ((ret = k8s_peer(peer, ns, rule, dir, e, field)))
				return ret;
		}
		for (int s = 0; s < 2 && json_array_size(peers); s++) {
			snprintf(key, sizeof(key), s ? "%sCIDRSet" : "%sEndpoints", dir);
			if (!json_array_size(json_object_get(rule, key)))
				json_object_del(rule, key);
		}
		snprintf(key, sizeof(key), "%s.ports", where);
		if (json_object_get(r, "ports") && (ret = k8s_ports(json_object_get(r, "ports"), rule, e, key)))
			return ret;
	}
	return 0;
}

static int import_k8s(json_t *doc, const char *name, const char *ns, json_t *out, struct policy_error *e)
{
	static const char *const known[] = { "podSelector", "policyTypes", "ingress", "egress", NULL };
	json_t *spec = json_object_get(doc, "spec"), *types, *t, *pol;
	bool dir[2] = { true, false };       /* Kubernetes' default: Ingress, Egress if rules */
	size_t i;
	int ret = 0;

	if (!json_is_object(spec))
		return policy_fail(e, "spec", "required object");
	if (policy_check_keys(spec, known, e, "spec"))
		return -EINVAL;
	if (!json_is_object(json_object_get(spec, "podSelector")))
		return policy_fail(e, "spec.podSelector", "required (use {} for every pod in the namespace)");
	dir[1] = json_object_get(spec, "egress") != NULL;
	types = json_object_get(spec, "policyTypes");
	if (types) {
		dir[0] = dir[1] = false;
		if (!json_is_array(types))
			return policy_fail(e, "spec.policyTypes", "must be a list of Ingress and Egress");
		json_array_foreach(types, i, t) {
			const char *s = json_string_value(t);

			if (s && !strcmp(s, "Ingress"))
				dir[0] = true;
			else if (s && !strcmp(s, "Egress"))
				dir[1] = true;
			else
				return policy_fail(e, "spec.policyTypes", "[%zu] must be Ingress or Egress", i);
		}
	}
	pol = json_pack("{s:s, s:o}", "name", name, "endpointSelector",
			k8s_selector(json_object_get(spec, "podSelector"), NULL, ns));
	/* A listed type without rules denies that direction; rules of an unlisted type are
	 * ignored, as Kubernetes does. */
	if (dir[0])
		ret = k8s_rules(json_object_get(spec, "ingress"), true, ns, pol, e);
	if (!ret && dir[1])
		ret = k8s_rules(json_object_get(spec, "egress"), false, ns, pol, e);
	if (!ret)
		json_array_append(out, pol);
	json_decref(pol);
	return ret;
}

/* --- documents ---------------------------------------------------------------------------- */

static int import_doc(json_t *doc, json_t *out, struct policy_error *e, size_t index)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));
	json_t *meta = json_object_get(doc, "metadata"), *item;
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	static const char *const known[] = { "apiVersion", "kind", "metadata", "spec", "specs", "status", NULL };
	char field[64];
	size_t i;
	bool cilium;

	snprintf(field, sizeof(field), "documents[%zu].kind", index);
	if (!kind)
		return policy_fail(e, field, "must be a string");
	if (!strcmp(kind, "List")) {
		json_array_foreach(json_object_get(doc, "items"), i, item)
			if (import_doc(item, out, e, i))
				return -EINVAL;
		return 0;
	}
	cilium = !strcmp(kind, "CiliumNetworkPolicy") || !strcmp(kind, "CiliumClusterwideNetworkPolicy");
	if (!cilium && strcmp(kind, "NetworkPolicy"))
		return policy_fail(e, field, "'%s' is not a policy kind petrel reads (CiliumNetworkPolicy, "
			     "CiliumClusterwideNetworkPolicy, NetworkPolicy)", kind);
	snprintf(field, sizeof(field), "documents[%zu].apiVersion", index);
	if (!api || strcmp(api, cilium ? "cilium.io/v2" : "networking.k8s.io/v1"))
		return policy_fail(e, field, "%s needs apiVersion %s", kind, cilium ? "cilium.io/v2" : "networking.k8s.io/v1");
	snprintf(field, sizeof(field), "documents[%zu].metadata.name", index);
	if (!name || !name_valid(name))
		return policy_fail(e, field, "required; a-z, 0-9 and '-', at most 63 characters (petrel's policy names)");
	e->policy = name;
	if (policy_check_keys(doc, known, e, ""))
		return -EINVAL;
	if (ns && !ep_label_valid(POLICY_NAMESPACE_LABEL, ns))
		return policy_fail(e, "metadata.namespace", "'%s' is not a valid namespace", ns);
	if (!strcmp(kind, "CiliumClusterwideNetworkPolicy")) {
		if (ns)
			return policy_fail(e, "metadata.namespace", "a clusterwide policy has no namespace");
		return import_cilium(doc, name, NULL, out, e);
	}
	ns = ns ? ns : POLICY_NAMESPACE_DEFAULT;
	return cilium ? import_cilium(doc, name, ns, out, e) : import_k8s(doc, name, ns, out, e);
}

int policy_documents(const char *text, const char *file, json_t **out, char *err, size_t errlen)
{
	struct policy_error e = { err, errlen, file, NULL };
	const char *p = text + strspn(text, " \t\r\n");
	json_t *docs, *list = json_array(), *doc, *item;
	json_error_t jerr;
	size_t i, k;
	int ret = 0;

	/* JSON keeps jansson's own error positions; anything else is read as YAML. */
	if (*p == '{' || *p == '[') {
		json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

		if (!root) {
			json_decref(list);
			snprintf(err, errlen, "%s: line %d, column %d: %s", file, jerr.line, jerr.column, jerr.text);
			return -EINVAL;
		}
		docs = json_pack("[o]", root);
	} else {
		char yerr[256];

		if (yaml_documents(text, &docs, yerr, sizeof(yerr))) {
			json_decref(list);
			snprintf(err, errlen, "%s: %s", file, yerr);
			return -EINVAL;
		}
	}
	json_array_foreach(docs, i, doc) {
		json_t *items = json_is_array(doc) ? doc : NULL;

		for (k = 0; !ret && k < (items ? json_array_size(items) : 1); k++) {
			item = items ? json_array_get(items, k) : doc;
			e.policy = NULL;
			if (json_is_object(item) && json_object_get(item, "kind"))
				ret = import_doc(item, list, &e, i);
			else
				json_array_append(list, item);
		}
		if (ret)
			break;
	}
	json_decref(docs);
	if (ret) {
		json_decref(list);
		return ret;
	}
	*out = list;
	return 0;
}
