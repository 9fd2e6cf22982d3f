#!/usr/bin/env bash
# The control plane with 5000 simulated endpoints over 50 simulated nodes in etcd (petrel's
# own record format, written by bench/tools/scale_load.c): both agents converge, their
# location maps hold every simulated endpoint, and a real endpoint added afterwards is
# reachable from the other node within 1 s.
. "$(dirname "$0")/lib.sh"
LOAD=$BUILD/bench/scale_load
[ -x "$LOAD" ] || fail "build first: make all ($LOAD)"

lab_up 2 vxlan
etcd_env
p --node node1 endpoint add client >/dev/null
"$LOAD" fill "$LAB-fabric" "$ETCD" 50 5000 || fail "writing 5000 simulated endpoints"

records() {   # NODE → endpoints in its cluster cache
	local sock
	sock=$(p -j lab status | jq -r ".nodes[] | select(.name == \"$1\") | .socket")
	curl -s --unix-socket "$sock" http://x/metrics | awk '/^petrel_cluster_records\{.*kind="endpoint"/ { print $2 }'
}
for n in node1 node2; do
	for i in $(seq 1 300); do
		[ "$(records $n)" -ge 5001 ] && break
		sleep 0.1
	done
	[ "$(records $n)" -ge 5001 ] || fail "$n's cache holds $(records $n) endpoints, not 5001"
	ok "$n converged on 5001 endpoints in about $((i / 10)) s"
done

# Every simulated endpoint is in node2's location map (pinned; read from this mount ns).
n4=$(bpftool -j map dump pinned "/sys/fs/bpf/petrel/$LAB/node2/locations4" |
	jq '[.[] | select(.formatted.key.prefixlen == 32)] | length' 2>/dev/null ||
	bpftool map dump pinned "/sys/fs/bpf/petrel/$LAB/node2/locations4" | grep -c '"prefixlen": 32')
[ "$n4" -ge 5001 ] || fail "node2's IPv4 location map has $n4 host entries, not 5001"
ok "node2's location map holds $n4 IPv4 endpoint entries"

# A real endpoint added now is reachable from the other node within 1 s.
p --node node2 endpoint add server >/dev/null
NS=$(ep_ns server) IP=$(ep_field server ipv4)
ip netns exec "$NS" socat TCP-LISTEN:7000,fork,reuseaddr PIPE >/dev/null 2>&1 &
wait_port "$NS" 7000
start=$(date +%s%N)
for i in $(seq 1 100); do
	send "$(ep_ns client)" TCP "$IP" 7000 && break
	sleep 0.01
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
send "$(ep_ns client)" TCP "$IP" 7000 || fail "node1 cannot reach the new endpoint"
[ "$ms" -lt 1000 ] || fail "the new endpoint took $ms ms to become reachable"
ok "a new endpoint on node2 answers node1 after $ms ms"

# Removing the simulated endpoints converges too (each simulated node's, /petrel/endpoints/simN/).
etcd_curl /v3/kv/deleterange \
	-d "{\"key\":\"$(printf /petrel/endpoints/sim | base64)\",\"range_end\":\"$(printf /petrel/endpoints/sin | base64)\"}" >/dev/null ||
	fail "cannot remove the simulated endpoints"
for i in $(seq 1 100); do
	[ "$(records node2)" -le 2 ] && break
	sleep 0.1
done
[ "$(records node2)" -le 2 ] || fail "node2 still holds $(records node2) endpoints after the removal"
ok "node2 drops the 5000 removed endpoints"
echo "$CHECKS checks passed"
