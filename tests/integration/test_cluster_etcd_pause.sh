#!/usr/bin/env bash
# The control plane with its store frozen: etcd stopped (SIGSTOP) for 10 s while an
# endpoint is added on node2. The agents' reads answer from their caches, the datapath
# keeps forwarding, the add fails in bounded time with a clear error and leaves nothing
# behind, and once etcd runs again every node converges on what is added then.
. "$(dirname "$0")/lib.sh"

lab_up 3 vxlan
p --node node1 endpoint add a >/dev/null
p --node node2 endpoint add b >/dev/null
echo_server "$(ep_ns b)" 7000
B4=$(ep_field b ipv4)
expect_echo "$(ep_ns a)" TCP "$B4" 7000 "node1 -> node2 before the pause"

ETCD_PID=$(p -j lab status | jq '.etcd.pid')
[ "$ETCD_PID" -gt 0 ] || fail "no etcd pid"
resume() { kill -CONT "$ETCD_PID" 2>/dev/null; }
trap 'rc=$?; resume; cleanup $rc' EXIT
kill -STOP "$ETCD_PID"
T0=$SECONDS
log "etcd stopped"

# Reads answer from the cache, fast.
for what in "node status" "endpoint list" "endpoint list --on node2" "endpoint show b"; do
	start=$(date +%s%N)
	# shellcheck disable=SC2086
	out=$(timeout 5 "$PETREL" --lab "$LAB" --node node2 -j $what) || fail "$what while etcd is stopped"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$ms" -lt 1000 ] || fail "$what took $ms ms while etcd is stopped"
	ok "$what answers in $ms ms while etcd is stopped"
done
[ "$(p --node node2 -j endpoint list | jq length)" -ge 2 ] || fail "endpoint list lost endpoints"

# The datapath keeps forwarding.
expect_echo "$(ep_ns a)" TCP "$B4" 7000 "node1 -> node2 while etcd is stopped"

# A write fails within the request's budget, saying why.
start=$(date +%s%N)
if out=$(timeout 20 "$PETREL" --lab "$LAB" --node node2 endpoint add c 2>&1); then
	fail "endpoint add succeeded with etcd stopped"
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 5000 ] || fail "endpoint add took $ms ms to fail"
grep -q "did not answer" <<<"$out" || fail "endpoint add's error does not say why: $out"
ok "endpoint add fails after $ms ms: $(head -1 <<<"$out" | cut -c1-90)"
ip netns list | grep -q "^$LAB-ep-c" && fail "the failed add left its namespace"
ok "the failed add left no namespace"

# Hold the pause for 10 s in all, reading again near its end.
while [ $((SECONDS - T0)) -lt 10 ]; do sleep 0.5; done
timeout 5 "$PETREL" --lab "$LAB" --node node3 node status >/dev/null || fail "node3 status at 10 s"
ok "node3 still answers after 10 s"
resume
log "etcd resumed"

# Every node converges: the add that failed is either gone or cleaned up by the janitor,
# and new endpoints appear everywhere and carry traffic.
for i in $(seq 1 50); do
	gone=1
	for n in node1 node2 node3; do
		p --node $n -j endpoint list | jq -e '.[] | select(.name == "c")' >/dev/null && gone=0
	done
	[ $gone = 1 ] && break
	sleep 0.2
done
[ $gone = 1 ] || fail "the failed add's record is still listed 10 s after etcd resumed"
ok "no node lists the failed add"
p --node node2 endpoint add c >/dev/null || fail "endpoint add c after etcd resumed"
p --node node3 endpoint add d >/dev/null || fail "endpoint add d after etcd resumed"
for n in node1 node2 node3; do
	for i in $(seq 1 50); do
		[ "$(p --node $n -j endpoint list | jq '[.[] | select(.name == "c" or .name == "d")] | length')" = 2 ] && break
		sleep 0.1
	done
	[ $i -lt 50 ] || fail "$n does not list c and d"
done
ok "every node lists the endpoints added after the pause"
echo_server "$(ep_ns d)" 7001
expect_echo "$(ep_ns c)" TCP "$(ep_field d ipv4)" 7001 "node2 -> node3 to an endpoint added after the pause"
echo "$CHECKS checks passed"
