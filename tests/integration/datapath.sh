# Foundation datapath checks on a 3-node lab in routing mode $MODE (sourced by
# test_datapath_vxlan.sh and test_datapath_native.sh): real TCP and UDP traffic over IPv4
# and IPv6, same node, across nodes, to the outside, in through published ports, deletion,
# and an agent restart under an iperf3 stream.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_up 3 "$MODE"
log "lab $LAB up in $MODE mode"
p --node node1 endpoint add a1 --label app=a >/dev/null
p --node node1 endpoint add a2 --label app=a >/dev/null
p --node node2 endpoint add b1 --label app=b --publish 8080:7000/tcp --publish 8080:7000/udp >/dev/null
p --node node3 endpoint add c1 >/dev/null

A1=$(ep_ns a1) A2=$(ep_ns a2) B1=$(ep_ns b1) C1=$(ep_ns c1)
for e in a2 b1 c1; do echo_server "$(ep_ns $e)" 7000; done
OUT=$LAB-outside

# endpoint JSON carries the documented keys
for k in name node ipv4 ipv6 netns labels state; do
	[ "$(p --node node2 -j endpoint show a1 | jq "has(\"$k\")")" = true ] || fail "endpoint JSON lacks $k"
done
[ "$(ep_field a1 node)" = node1 ] && [ "$(ep_field b1 node)" = node2 ] || fail "endpoint nodes"
ok "endpoint JSON has name, node, ipv4, ipv6, netns, labels, state on every node"

for fam in 4 6; do
	for proto in TCP UDP; do
		expect_echo "$A1" $proto "$(ep_field a2 ipv$fam)" 7000 "same node $proto/IPv$fam a1 -> a2"
		expect_echo "$A1" $proto "$(ep_field b1 ipv$fam)" 7000 "cross node $proto/IPv$fam a1 -> b1 (node1 -> node2)"
		expect_echo "$B1" $proto "$(ep_field c1 ipv$fam)" 7000 "cross node $proto/IPv$fam b1 -> c1 (node2 -> node3)"
	done
done

# Pod to outside: masqueraded to the node's underlay address.
echo_server "$OUT" 9000
peer_server "$OUT" 9001
for fam in 4 6; do
	for proto in TCP UDP; do
		expect_echo "$A1" $proto "$(outside_ip $fam)" 9000 "pod to outside $proto/IPv$fam"
	done
	seen=$(timeout 5 ip netns exec "$A1" socat -t 2 - "TCP:$(addr "$(outside_ip $fam)"):9001" </dev/null)
	want=$(norm_ip "$(node_ip node1 $fam)")
	[ -n "$seen" ] && [ "$(norm_ip "$seen")" = "$want" ] || fail "outside saw source '$seen', expected node1's $want"
	ok "pod to outside IPv$fam is masqueraded to node1's underlay address"
done

# Outside to pod through the port published on node2.
for fam in 4 6; do
	for proto in TCP UDP; do
		expect_echo "$OUT" $proto "$(node_ip node2 $fam)" 8080 "outside -> node2:8080/$proto (IPv$fam) -> b1:7000"
	done
done

# Per-endpoint counters and drop reasons are exposed.
rx=$(p --node node2 -j endpoint show b1 | jq '.counters.rx_packets')
[ "${rx:-0}" -gt 0 ] || fail "b1 rx_packets counter is '$rx'"
ok "per-endpoint counters count traffic (b1 rx_packets=$rx)"
p --node node1 -j node status | jq -e '.drops | length > 0' >/dev/null || fail "no drop reasons in node status"
curl -sf --unix-socket "/run/petrel/labs/$LAB/node1/petreld.sock" http://x/metrics | grep -q '^petrel_endpoint_tx_packets_total{node="node1",endpoint="a1"}' \
	|| fail "metrics lack a1's counters"
ok "metrics endpoint serves per-endpoint counters and drop reasons"

# Deleting an endpoint makes it unreachable from every node.
C1_4=$(ep_field c1 ipv4) C1_6=$(ep_field c1 ipv6)
p --node node3 endpoint del c1 >/dev/null
sleep 1
for fam in 4 6; do
	ip=$([ $fam = 4 ] && echo "$C1_4" || echo "$C1_6")
	expect_no_echo "$A1" TCP "$ip" 7000 "deleted c1 unreachable from node1 (IPv$fam)"
	expect_no_echo "$B1" UDP "$ip" 7000 "deleted c1 unreachable from node2 (IPv$fam)"
done
ip netns list | grep -q "^$C1\b" && fail "c1's netns survived deletion"
[ "$(p --node node2 -j endpoint list | jq '[.[] | select(.name=="c1")] | length')" = 0 ] || fail "c1 still listed"
ok "deleted endpoint is gone from every node's list and its netns is removed"

# Agent restart with traffic flowing: an iperf3 stream from a1 (node1) to b1 (node2) keeps
# going while both agents are killed and restarted.
B1_4=$(ep_field b1 ipv4)
ip netns exec "$B1" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
wait_port "$B1" 5201
ip netns exec "$A1" iperf3 -c "$B1_4" -p 5201 -t 8 -J > "$BUILD/iperf-restart-$LAB.json" 2>&1 &
IPERF=$!
sleep 2
for n in node1 node2; do
	pid=$(p -j lab status | jq -r ".nodes[] | select(.name==\"$n\") | .pid")
	kill -TERM "$pid"
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "agent of $n did not stop"
done
log "agents on node1 and node2 stopped"
sleep 1
for n in node1 node2; do
	conf=/run/petrel/labs/$LAB/$n/petreld.conf
	setsid "$PETRELD" --netns "$LAB-$n" --config "$conf" >>"/run/petrel/labs/$LAB/$n/petreld.log" 2>&1 </dev/null &
done
for i in $(seq 100); do
	p --node node1 node status >/dev/null 2>&1 && p --node node2 node status >/dev/null 2>&1 && break
	sleep 0.1
done
p --node node1 node status >/dev/null || fail "restarted agent on node1 does not answer"
log "agents restarted"
wait $IPERF || { cat "$BUILD/iperf-restart-$LAB.json"; fail "iperf3 stream broke across the agent restart"; }
bps=$(jq '.end.sum_received.bits_per_second' "$BUILD/iperf-restart-$LAB.json")
intervals=$(jq '[.intervals[] | select(.sum.bytes == 0)] | length' "$BUILD/iperf-restart-$LAB.json")
rm -f "$BUILD/iperf-restart-$LAB.json"
[ "$intervals" = 0 ] || fail "iperf3 had $intervals one-second intervals with no traffic across the restart"
ok "iperf3 stream kept flowing across an agent restart ($(echo "$bps" | awk '{printf "%.0f", $1/1e6}') Mbit/s, no empty interval)"

# The restarted agents still serve and keep state: a new endpoint reaches an old one.
p --node node1 endpoint add a3 >/dev/null
expect_echo "$(ep_ns a3)" TCP "$(ep_field b1 ipv6)" 7000 "new endpoint after restart reaches b1"
[ "$(p --node node2 -j endpoint list | jq length)" = 4 ] || fail "endpoint count after restart"
ok "state survived the restart (4 endpoints)"
echo "$CHECKS checks passed"
