#!/usr/bin/env bash
# petrel check on a 3-node lab: every probe passes on a healthy cluster (agents, same node
# and across nodes over IPv4 and IPv6, MTU, a published port, the outside, a policy that
# must deny, the latency probes) and leaves nothing behind; with node2's agent stopped the
# check fails, names node2, and exits 1.
. "$(dirname "$0")/lib.sh"

lab_up 3 vxlan
OUT4=$(outside_ip 4)
in_ns "$LAB-outside" socat TCP-LISTEN:8080,fork,reuseaddr PIPE >/dev/null 2>&1 &
wait_port "$LAB-outside" 8080
p --node node1 endpoint add app --label app=web >/dev/null

R=$(p --node node1 -j check --outside "$OUT4:8080") || fail "check failed on a healthy lab: $R"
for c in "agent node1" "agent node2" "agent node3" "same node, TCP over IPv4" "same node, UDP over IPv6" \
	"across nodes to node2, TCP over IPv6" "across nodes to node3, UDP over IPv4" "MTU" \
	"in through a published port" "to the outside" "a policy that must deny" "stack latency probes"; do
	jq -e --arg c "$c" '.checks[] | select(.check == $c and .result == "pass")' <<<"$R" >/dev/null ||
		fail "check '$c' did not pass: $(jq -c --arg c "$c" '.checks[] | select(.check == $c)' <<<"$R")"
done
[ "$(jq '[.checks[] | select(.result != "pass")] | length' <<<"$R")" = 0 ] || fail "not all passed: $R"
ok "a healthy lab passes all $(jq '.checks | length' <<<"$R") checks, exit status 0"
jq -e '.checks[] | select(.check == "MTU") | .detail | test("[0-9]+-byte UDP datagram with DF")' <<<"$R" >/dev/null ||
	fail "the MTU check does not say what it sent"

# Nothing of the check stays: endpoints, policies, identities' endpoints on any node.
for n in node1 node2 node3; do
	left=$(p --node $n -j endpoint list | jq '[.[] | select(.name | startswith("chk-"))] | length')
	[ "$left" = 0 ] || fail "$left probe endpoints left, seen from $n"
done
[ "$(p --node node1 -j policy list | jq length)" = 0 ] || fail "the probe policy stayed"
[ -z "$(ip netns list | grep -- "-ep-chk-")" ] || fail "probe namespaces left: $(ip netns list | grep -- -ep-chk-)"
ok "the check leaves no endpoint, policy or namespace behind"

text=$(p --node node1 check 2>&1) || fail "text mode: $text"
grep -q '^pass  agent node3' <<<"$text" && grep -q '^0 checks failed' <<<"$text" && grep -q '^skip  to the outside' <<<"$text" ||
	fail "text output: $text"
ok "text mode prints pass/fail/skip per check and the count (outside skipped without --outside)"

# A node's agent stopped: that check fails and names it; the others still pass.
kill "$(p -j lab status | jq -r '.nodes[] | select(.name == "node2") | .pid')"
sleep 1
set +e
R=$(p --node node1 -j check --outside "$OUT4:8080")
rc=$?
set -e
[ $rc = 1 ] || fail "check exited $rc with node2's agent stopped"
jq -e '.checks[] | select(.check == "agent node2" and .result == "fail" and (.detail | test("node2")))' <<<"$R" >/dev/null ||
	fail "no failed check naming node2: $R"
jq -e '.checks[] | select(.check == "across nodes to node3, TCP over IPv4" and .result == "pass")' <<<"$R" >/dev/null ||
	fail "the probes to node3 should still pass: $R"
[ "$(jq .failed <<<"$R")" = 1 ] || fail "only node2's check should fail: $R"
ok "with node2's agent stopped the check fails, names node2 ($(jq -r '.checks[] | select(.check == "agent node2") | .detail' <<<"$R" | cut -c1-60)...), exit 1"
[ "$(p --node node1 -j endpoint list | jq '[.[] | select(.name | startswith("chk-"))] | length')" = 0 ] ||
	fail "probe endpoints left after the failing check"
ok "the failing check cleaned up too"
echo "$CHECKS checks passed"
