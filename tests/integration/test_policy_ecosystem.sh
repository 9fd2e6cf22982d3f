#!/usr/bin/env bash
# Policies as Cilium and Kubernetes write them, checked with traffic on a 2-node lab:
# examples from both projects' documentation applied as YAML, namespaces, entities, a
# refused L7 rule that applies nothing, and ten thousand policies in one file, all or none.
. "$(dirname "$0")/lib.sh"

lab_up 2 vxlan
NS=io.kubernetes.pod.namespace
p --node node1 endpoint add fe --label role=frontend >/dev/null
p --node node1 endpoint add be --label role=backend >/dev/null
p --node node2 endpoint add be2 --label role=backend >/dev/null
p --node node2 endpoint add other --label role=other >/dev/null
p --node node2 endpoint add db --label role=db --label $NS=prod >/dev/null
for e in be be2 db; do
	echo_server "$(ep_ns $e)" 80
	echo_server "$(ep_ns $e)" 81
done
FE=$(ep_ns fe) OTHER=$(ep_ns other)
echo_server "$LAB-outside" 80
F=$(mktemp -d /tmp/petrel-pol-XXXXXX)
trap 'rc=$?; rm -rf "$F"; cleanup $rc' EXIT

# Cilium's "Layer 3 Examples" policy, exactly as its documentation prints it.
cat > "$F/l3.yaml" <<'YAML'
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "l3-rule"
spec:
  endpointSelector:
    matchLabels:
      role: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        role: frontend
YAML
p --node node1 policy apply "$F/l3.yaml" >/dev/null || fail "the Cilium l3-rule as written"
sleep 1
for e in be be2; do
	expect_echo "$FE" TCP "$(ep_field $e ipv4)" 80 "l3-rule: frontend → $e allowed"
	expect_echo "$FE" TCP "$(ep_field $e ipv6)" 81 "l3-rule: frontend → $e over IPv6, any port"
	expect_no_echo "$OTHER" TCP "$(ep_field $e ipv4)" 80 "l3-rule: other → $e denied"
done
expect_echo "$OTHER" TCP "$(ep_field db ipv4)" 80 "l3-rule selects nothing in namespace prod: db open"
p --node node2 flows --endpoint be2 --verdict allowed | jq -se \
	'map(select(.policy == "l3-rule")) | length > 0' >/dev/null || fail "no flow names l3-rule"
ok "the flow log names the Cilium policy"

# Kubernetes: deny all ingress in prod, then allow frontends of namespace default on 80/TCP,
# two documents in one file.
cat > "$F/k8s.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: prod
spec:
  podSelector: {}
  policyTypes:
  - Ingress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-from-frontend
  namespace: prod
spec:
  podSelector:
    matchLabels:
      role: db
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: default
      podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 80
YAML
p --node node1 policy apply "$F/k8s.yaml" >/dev/null || fail "Kubernetes NetworkPolicies"
sleep 1
DB4=$(ep_field db ipv4)
expect_echo "$FE" TCP "$DB4" 80 "NetworkPolicy: frontend of namespace default → db:80 allowed"
expect_no_echo "$FE" TCP "$DB4" 81 "NetworkPolicy: frontend → db:81 denied"
expect_no_echo "$OTHER" TCP "$DB4" 80 "NetworkPolicy: other → db:80 denied"
expect_no_echo "$FE" UDP "$DB4" 80 "NetworkPolicy: 80/UDP is not 80/TCP"

# Entities: other may reach the world but nothing in the cluster.
cat > "$F/world.json" <<'JSON'
{"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
 "metadata": {"name": "other-to-world"},
 "spec": {"endpointSelector": {"matchLabels": {"role": "other"}},
          "egress": [{"toEntities": ["world"]}]}}
JSON
p --node node1 policy apply "$F/world.json" >/dev/null || fail "toEntities world"
sleep 1
expect_echo "$OTHER" TCP "$(outside_ip 4)" 80 "toEntities world: other → outside allowed"
expect_no_echo "$OTHER" TCP "$(ep_field fe ipv4)" 80 "toEntities world: other → a cluster endpoint denied"

p --node node1 policy delete other-to-world >/dev/null

# What petrel cannot enforce is refused with the field, and nothing of the file applies.
n0=$(p --node node1 -j policy list | jq length)
cat > "$F/l7.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: fine
spec:
  endpointSelector: {matchLabels: {role: other}}
  ingress: [{}]
---
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  name: "rule1"
spec:
  endpointSelector:
    matchLabels:
      app: myService
  ingress:
  - toPorts:
    - ports:
      - port: "80"
        protocol: TCP
      rules:
        http:
        - method: GET
          path: "/public"
YAML
expect_error "an L7 rule" "policy 'rule1': spec.ingress\[0\].toPorts\[0\].rules: L7 rules are not enforced\|policy 'rule1': ingress\[0\].toPorts\[0\].rules: L7" \
	p --node node1 policy apply "$F/l7.yaml"
[ "$(p --node node1 -j policy list | jq length)" = "$n0" ] || fail "a refused file applied something"
ok "a refused file applied nothing ($n0 policies before and after)"

# Ten thousand policies in one file: one request, one transaction. The last one lets
# other reach be2:81 again, which only the whole file can do.
python3 - "$F/many.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(9999):
        f.write(f"""---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: bulk-{i}}}
spec:
  endpointSelector: {{matchLabels: {{bulk: "{i}"}}}}
  ingress:
  - fromEndpoints: [{{matchLabels: {{role: frontend}}}}]
    toPorts: [{{ports: [{{port: "{1000 + i % 60000}", protocol: TCP}}]}}]
""")
    f.write("""---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bulk-last}
spec:
  endpointSelector: {matchLabels: {role: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {role: other}}]
    toPorts: [{ports: [{port: "81"}]}]
""")
PY
cp "$F/many.yaml" "$F/many-bad.yaml"
printf -- '---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bulk-bad}\nspec:\n  endpointSelector: {}\n  egress: [{toFQDNs: [{matchName: example.com}]}]\n' >> "$F/many-bad.yaml"
expect_error "10001 policies with one bad one" "bulk-bad.*toFQDNs" p --node node1 policy apply "$F/many-bad.yaml"
[ "$(p --node node1 -j policy list | jq length)" = "$n0" ] || fail "a bad large file applied part"
start=$(date +%s%N)
p --node node1 policy apply "$F/many.yaml" >/dev/null || fail "10000 policies in one file"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
# node1 answered once its own cache had them; node2's watch delivers them a moment later.
for _ in $(seq 50); do
	[ "$(p --node node2 -j policy list | jq length)" = $((n0 + 10000)) ] && break
	sleep 0.2
done
[ "$(p --node node2 -j policy list | jq length)" = $((n0 + 10000)) ] ||
	fail "node2 does not list all 10000 policies"
ok "10000 policies from one YAML file applied in one transaction (${ms} ms here)"
sleep 1
expect_echo "$OTHER" TCP "$(ep_field be2 ipv4)" 81 "the file's last policy is in force on node2"
expect_no_echo "$OTHER" TCP "$(ep_field be2 ipv4)" 80 "and only what it allows"
echo "$CHECKS checks passed"
