#!/usr/bin/env bash
# Latency accounting on a 2-node lab: enable on an endpoint, ping an endpoint on the other
# node and the outside namespace, check that every reply got both latencies and a corrected
# RTT in (0, raw]; UDP and TCP records; the unprivileged record stream; show and metrics;
# bad input; cleanup when disabled, when the endpoint is deleted or its namespace vanishes.
MODE=${MODE:-vxlan}
. "$(dirname "$0")/lib.sh"

command -v ping >/dev/null || skip "ping (iputils-ping) is not installed"
command -v socat >/dev/null || skip "socat is not installed"
lab_up 2 "$MODE"
p --node node1 endpoint add a1 >/dev/null
p --node node1 endpoint add a2 >/dev/null
p --node node1 endpoint add a3 >/dev/null
p --node node2 endpoint add b1 >/dev/null
B1=$(ep_field b1 ipv4)
OUT=$(outside_ip 4)
SOCK=/run/petrel/labs/$LAB/node1/state/latency/a1/latency.sock
agent_pid() { p -j lab status | jq -r ".nodes[] | select(.name==\"$1\") | .pid"; }
# Latency programs the node1 agent holds (program and link fds both name their program).
lat_progs() {
	local pid n=0 f id
	pid=$(agent_pid node1)
	for f in /proc/"$pid"/fdinfo/*; do
		id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] && bpftool prog show id "$id" 2>/dev/null | grep -q ' name lat_' && n=$((n + 1))
	done
	echo "$n"
}

# Bad input first: nothing may be left behind.
out=$(p --node node1 latency enable nosuch 2>&1) && fail "enabling an unknown endpoint succeeded"
grep -q "does not exist" <<<"$out" || fail "unknown endpoint: unclear error: $out"
out=$(p --node node1 latency enable b1 2>&1) && fail "enabling another node's endpoint succeeded"
grep -q "lives on node node2" <<<"$out" || fail "remote endpoint: unclear error: $out"
out=$(p --node node1 latency disable a1 2>&1) && fail "disabling an endpoint never enabled succeeded"
grep -q "not enabled" <<<"$out" || fail "disable without enable: unclear error: $out"
[ "$(lat_progs)" = 0 ] || fail "probes attached although nothing is enabled"
ok "unknown, remote and never-enabled endpoints are refused with clear errors; no probes"

p --node node1 latency enable a1 >/dev/null || fail "latency enable a1"
[ -S "$SOCK" ] || fail "no record socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 666 ] || fail "record socket is not world-accessible"
[ "$(lat_progs)" -ge 5 ] || fail "probes not attached after enable"
out=$(p --node node1 latency enable a1 2>&1) && fail "enabling twice succeeded"
grep -q "already enabled" <<<"$out" || fail "enable twice: unclear error: $out"
ok "enable creates the record socket and attaches the probes; enabling twice is refused"

# The stream, read by an unprivileged user through a bind mount, as a container would.
REC=$(mktemp)
MNT=$(mktemp)
unshare -m sh -c "mount --bind '$SOCK' '$MNT' &&
	exec setpriv --reuid=65534 --regid=65534 --clear-groups timeout 30 socat -u UNIX-CONNECT:'$MNT' -" >"$REC" 2>/dev/null &
READER=$!
for i in $(seq 30); do [ -s "$REC" ] && break; sleep 0.1; done
[ -s "$REC" ] || fail "an unprivileged reader could not connect to the record stream"

check_ping() {   # TARGET LABEL
	local j
	j=$(p -j --node node1 ping a1 "$1" -c 20 -i 0.05) || fail "petrel ping a1 $1"
	jq -e '.replies == 20' <<<"$j" >/dev/null || fail "ping $2: not 20 replies: $(jq -c 'del(.replies_detail)' <<<"$j")"
	jq -e '.matched_ratio == 1' <<<"$j" >/dev/null || fail "ping $2: matched_ratio < 1: $(jq -c 'del(.replies_detail)' <<<"$j")"
	jq -e '[.replies_detail[] | (.egress_us > 0 and .ingress_us > 0)] | all' <<<"$j" >/dev/null ||
		fail "ping $2: a reply lacks a latency"
	jq -e '[.replies_detail[] | (.corrected_us > 0 and .corrected_us <= .raw_us)] | all' <<<"$j" >/dev/null ||
		fail "ping $2: corrected RTT outside (0, raw]: $(jq -c '[.replies_detail[] | [.raw_us, .egress_us, .ingress_us, .corrected_us]]' <<<"$j")"
	ok "ping $2: 20/20 replies with egress and ingress latency, 0 < corrected <= raw ($(jq -r '"raw \(.raw_avg_us|floor) us, corrected \(.corrected_avg_us|floor) us"' <<<"$j"))"
}
check_ping "$B1" "endpoint on another node"
check_ping "$(ep_field b1 ipv6)" "endpoint on another node over IPv6"
check_ping "$OUT" "outside namespace (masqueraded)"

# UDP and TCP through the same accounting.
echo_server "$(ep_ns b1)" 7000
for i in 1 2 3; do
	echo "udp $i" | in_ns "$(ep_ns a1)" timeout 3 socat -T1 - UDP:"$B1":7000 >/dev/null || fail "udp echo $i"
	echo "tcp $i" | in_ns "$(ep_ns a1)" timeout 3 socat - TCP:"$B1":7000 >/dev/null || fail "tcp echo $i"
done
sleep 1
kill "$READER" 2>/dev/null || true
wait "$READER" 2>/dev/null || true
for proto in icmp icmpv6 udp tcp; do
	for dir in egress ingress; do
		n=$(jq -c "select(.proto==\"$proto\" and .dir==\"$dir\")" "$REC" | wc -l)
		[ "$n" -gt 0 ] || fail "no $dir $proto records in the unprivileged stream"
	done
done
jq -se '[.[] | select(.proto=="icmp")] | length >= 80 and all(.key.seq >= 1 and .latency_ns > 0)' "$REC" >/dev/null ||
	fail "ICMP records lack seq or latency: $(jq -c 'select(.proto=="icmp" and (.key.seq < 1 or .latency_ns <= 0))' "$REC" | head -3)"
ok "an unprivileged reader got egress and ingress records for ICMP, ICMPv6, UDP and TCP ($(wc -l <"$REC") records)"

show=$(p -j --node node1 latency show a1)
jq -e '.egress.histogram.count > 40 and .ingress.histogram.count > 40 and .egress.histogram.p99_ns >= .egress.histogram.p50_ns and (.egress.unmatched|type)=="number"' <<<"$show" >/dev/null ||
	fail "latency show: $(jq -c 'del(.egress.histogram.buckets, .ingress.histogram.buckets)' <<<"$show")"
p --node node1 latency show a1 | grep -q "p99" || fail "latency show text lacks percentiles"
curl -sf --unix-socket "/run/petrel/labs/$LAB/node1/petreld.sock" http://agent/metrics |
	grep -q 'petrel_latency_seconds{node="node1",endpoint="a1",direction="egress",quantile="0.99"}' ||
	fail "metrics lack petrel_latency_seconds for a1"
ok "latency show gives histograms and percentiles; /metrics exports them"

# TCP bulk download from the other node: the stack merges segments into the receive queue's
# tail buffer, so ingress is matched by end sequence; nearly every delivery must match.
before=$(p -j --node node1 latency show a1)
in_ns "$(ep_ns b1)" timeout 20 iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
srv=$!
wait_port "$(ep_ns b1)" 5301
in_ns "$(ep_ns a1)" timeout 20 iperf3 -c "$B1" -p 5301 -R -t 2 >/dev/null 2>&1 || fail "iperf3 download"
wait "$srv"
after=$(p -j --node node1 latency show a1)
read -r delivered matched < <(jq -n --argjson a "$before" --argjson b "$after" \
	'"\($b.ingress.delivered - $a.ingress.delivered) \($b.ingress.matched - $a.ingress.matched)"' -r)
[ "$delivered" -gt 1000 ] || fail "TCP download: only $delivered deliveries accounted"
awk -v d="$delivered" -v m="$matched" 'BEGIN {exit !(m >= 0.99 * d)}' ||
	fail "TCP download: $matched of $delivered deliveries matched"
ok "TCP bulk download: $matched of $delivered deliveries matched on ingress"

# Disable: records stop, socket and probes go.
p --node node1 latency disable a1 >/dev/null || fail "latency disable a1"
[ ! -e "$SOCK" ] || fail "record socket left after disable"
[ "$(lat_progs)" = 0 ] || fail "probes still attached after the last disable"
timeout 3 socat -u UNIX-CONNECT:"$SOCK" - 2>/dev/null && fail "stream still readable after disable"
in_ns "$(ep_ns a1)" ping -c 3 -i 0.05 -q "$B1" >/dev/null || fail "ping after disable"
p -j --node node1 latency list | jq -e '.enabled == [] and .probes_attached == false' >/dev/null ||
	fail "latency list not empty after disable"
ok "disable removes the socket, the map entries and the probes; no more records"

# A container that dies while enabled: deleted endpoint, and a namespace gone behind our back.
p --node node1 latency enable a2 >/dev/null && p --node node1 latency enable a3 >/dev/null ||
	fail "enable a2 a3"
p --node node1 endpoint del a2 >/dev/null || fail "endpoint del a2"
ns3=$(ep_ns a3)
ip netns pids "$ns3" | xargs -r kill 2>/dev/null || true
ip netns del "$ns3"
for i in $(seq 30); do
	[ "$(p -j --node node1 latency list | jq '.enabled | length')" = 0 ] && break
	sleep 0.2
done
p -j --node node1 latency list | jq -e '.enabled == [] and .probes_attached == false' >/dev/null ||
	fail "a dead endpoint stayed enabled: $(p -j --node node1 latency list | jq -c '[.enabled[].name]')"
# The endpoints still there keep their (empty) directories, which their containers mount;
# a deleted endpoint's goes.
left=$(find "/run/petrel/labs/$LAB/node1/state/latency/" -name '*.sock' 2>/dev/null)
[ -z "$left" ] || fail "record sockets left behind: $left"
[ ! -e "/run/petrel/labs/$LAB/node1/state/latency/a2" ] || fail "deleted endpoint a2's directory left behind"
[ "$(lat_progs)" = 0 ] || fail "probes left after the enabled endpoints died"
ok "a deleted endpoint and a vanished namespace are disabled and cleaned up"
rm -f "$REC" "$MNT"
