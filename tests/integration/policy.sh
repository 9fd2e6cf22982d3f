# Policy enforcement on a 2-node lab in routing mode $MODE with policy backend $BACKEND
# (sourced by test_policy_{vxlan,native,iptables}.sh): a policy allowing app1 → app2:80/tcp,
# checked with real traffic on one node and across nodes; with eBPF, flow events name the
# deciding policy. The iptables backend is the classic baseline the benchmark compares with.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKEND=${BACKEND:-ebpf}
lab_up 2 "$MODE" "$BACKEND"
p --node node1 endpoint add app1 --label app=app1 >/dev/null
p --node node1 endpoint add app2 --label app=app2 >/dev/null      # same node as app1
p --node node2 endpoint add app2b --label app=app2 >/dev/null     # across nodes
p --node node2 endpoint add app3 --label app=app3 >/dev/null
for e in app2 app2b; do
	for port in 80 81; do
		ip netns exec "$(ep_ns $e)" socat TCP6-LISTEN:$port,fork,reuseaddr,ipv6only=0 PIPE >/dev/null 2>&1 &
	done
	wait_port "$(ep_ns $e)" 81
done
A1=$(ep_ns app1) A3=$(ep_ns app3)
targets="app2:$(ep_field app2 ipv4) app2:$(ep_field app2 ipv6) app2b:$(ep_field app2b ipv4) app2b:$(ep_field app2b ipv6)"

# Before any policy everything is open.
expect_echo "$A3" TCP "$(ep_field app2 ipv4)" 81 "no policy yet: app3 reaches app2:81"

cat > "$BUILD/policy-$LAB.json" <<'JSON'
{"name": "app1-to-app2-web", "endpointSelector": {"matchLabels": {"app": "app2"}},
 "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "app1"}}],
              "toPorts": [{"port": 80, "protocol": "TCP"}]}]}
JSON
p --node node1 policy apply "$BUILD/policy-$LAB.json" >/dev/null
rm -f "$BUILD/policy-$LAB.json"
sleep 1   # the other node compiles it when its watch fires

for t in $targets; do
	name=${t%%:*} ip=${t#*:}
	expect_echo "$A1" TCP "$ip" 80 "app1 → $name:80 allowed, replies flow back ($ip)"
	expect_no_echo "$A1" TCP "$ip" 81 "app1 → $name:81 denied ($ip)"
	expect_no_echo "$A3" TCP "$ip" 80 "app3 → $name:80 denied ($ip)"
done

if [ "$BACKEND" = ebpf ]; then
# Flow events name the deciding policy (allowed) and default-deny (denied).
p --node node1 flows --endpoint app2 --verdict allowed | jq -se \
	'map(select(.policy == "app1-to-app2-web" and .dst.port == 80 and (.src.labels | index("app=app1")))) | length > 0' \
	>/dev/null || fail "no allowed flow event naming the policy on node1"
p --node node2 flows --endpoint app2b --verdict denied | jq -se \
	'map(select(.policy == "default-deny" and (.src.labels | index("app=app3")))) | length > 0' \
	>/dev/null || fail "no denied flow event for app3 on node2"
ok "flow events name the deciding policy and default-deny, with identities and labels"
# The flow log as a service map: identities as boxes, allowed and denied edges with counts.
MAP=$(mktemp /tmp/petrel-map-XXXXXX)
p --node node1 flows --graph >"$MAP" || { rm -f "$MAP"; fail "flows --graph"; }
svg=$(cat "$MAP"); rm -f "$MAP"
grep -q '<svg' <<<"$svg" && grep -q 'app=app1' <<<"$svg" && grep -q 'app=app2' <<<"$svg" ||
	fail "the service map lacks its identities: ${svg:0:300}"
grep -q 'tcp/80' <<<"$svg" && grep -q 'allowed' <<<"$svg" && grep -q 'denied' <<<"$svg" ||
	fail "the service map lacks allowed and denied edges"
g=$(p --node node1 -j flows --graph)
jq -e '[.edges[] | select(.verdict == "allowed" and .port == 80 and .count > 0 and
	(.policies | has("app1-to-app2-web")))] | length > 0' <<<"$g" >/dev/null ||
	fail "flows --graph -j has no allowed edge to port 80 by app1-to-app2-web: $g"
jq -e '[.edges[] | select(.verdict == "denied" and .count > 0)] | length > 0' <<<"$g" >/dev/null ||
	fail "flows --graph -j has no denied edge: $g"
jq -e '[.nodes[] | select(.labels | index("app=app1"))] | length == 1' <<<"$g" >/dev/null ||
	fail "flows --graph -j does not group app1 as one identity: $g"
ok "flows --graph draws the service map (SVG) and gives it as JSON: allowed and denied edges with counts"
p --node node1 -j policy show app1-to-app2-web | jq -e '.counters.packets > 0' >/dev/null \
	|| fail "policy counters did not move"
ok "per-policy counters count the traffic the policy allowed"
fi

# An outside client through a published port is world: denied by the same policy.
p --node node2 endpoint add pub --label app=app2 --publish 8080:80/tcp >/dev/null
ip netns exec "$(ep_ns pub)" socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 PIPE >/dev/null 2>&1 &
wait_port "$(ep_ns pub)" 80
sleep 0.5
expect_no_echo "$LAB-outside" TCP "$(node_ip node2 4)" 8080 "outside → published port of a policed endpoint: denied (world)"

# Bad policy files are rejected with the file, policy and field named; nothing applied.
printf '{"name":"bad","endpointSelector":{},"ingress":[{"toPorts":[{"port":70000}]}]}' > "$BUILD/bad-$LAB.json"
out=$(p --node node1 policy apply "$BUILD/bad-$LAB.json" 2>&1) && fail "bad policy accepted"
rm -f "$BUILD/bad-$LAB.json"
echo "$out" | grep -q "bad-$LAB.json: policy 'bad': ingress\[0\].toPorts\[0\].port: 70000" || fail "unclear error: $out"
[ "$(p --node node1 -j policy list | jq length)" = 1 ] || fail "a rejected file applied something"
ok "a bad policy file is rejected with file, policy and field: $out"

# Deleting the policy restores open access everywhere.
p --node node1 policy delete app1-to-app2-web >/dev/null
sleep 1
expect_echo "$A3" TCP "$(ep_field app2 ipv4)" 81 "after delete: app3 (node2) reaches app2:81 (node1)"
expect_echo "$A3" TCP "$(ep_field app2b ipv6)" 81 "after delete: app3 reaches app2b:81"
echo "$CHECKS checks passed"
