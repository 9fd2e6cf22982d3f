#!/usr/bin/env bash
# Datapath benchmark (issue: foundation): iperf3 TCP throughput and sockperf TCP
# request/response latency, pod to pod on one node and across nodes, for petrel (vxlan and
# native) against a baseline of plain veth-plus-routing namespaces built in the same run.
# Runs alternate baseline and petrel ROUNDS times and report medians and ratios, because
# these machines are noisy. Output: a markdown table on stdout, JSON in bench/out/.
# Usage: bench/datapath.sh [ROUNDS (default 3)] [SECONDS per point (default 4)]
. "$(dirname "$0")/lib/common.sh"
ROUNDS=${1:-3} SECS=${2:-4}
B=bb$$ LAB=b$$

cleanup() {
	set +e
	for ns in $(ip netns list | awk '{print $1}' | grep "^$B-"); do
		for pid in $(ip netns pids "$ns"); do kill -9 "$pid"; done
		ip netns del "$ns"
	done
	for l in "${LAB}v" "${LAB}n"; do "$PETREL" lab down --name "$l" >/dev/null 2>&1; done
}
trap cleanup EXIT

# --- baseline: two "nodes" joined by a veth underlay, pods on veths, kernel routing only.
baseline_up() {
	for n in n1 n2 a b c; do ip netns add "$B-$n"; ip -n "$B-$n" link set lo up; done
	for n in n1 n2; do ip netns exec "$B-$n" sysctl -qw net.ipv4.ip_forward=1; done
	ip -n "$B-n1" link add eth0 type veth peer name eth0 netns "$B-n2"
	ip -n "$B-n1" addr add 198.18.0.1/24 dev eth0; ip -n "$B-n2" addr add 198.18.0.2/24 dev eth0
	ip -n "$B-n1" link set eth0 up; ip -n "$B-n2" link set eth0 up
	pod() {   # pod node subnet-octet
		ip -n "$B-$2" link add "v$1" type veth peer name eth0 netns "$B-$1"
		ip -n "$B-$2" addr add "10.250.$3.1/24" dev "v$1"; ip -n "$B-$2" link set "v$1" up
		ip -n "$B-$1" addr add "10.250.$3.2/24" dev eth0; ip -n "$B-$1" link set eth0 up
		ip -n "$B-$1" route add default via "10.250.$3.1"
	}
	pod a n1 1; pod b n1 2; pod c n2 3
	ip -n "$B-n1" route add 10.250.3.0/24 via 198.18.0.2
	ip -n "$B-n2" route add 10.250.1.0/24 via 198.18.0.1
	ip -n "$B-n2" route add 10.250.2.0/24 via 198.18.0.1
}

servers() {   # ns...
	for ns in "$@"; do
		ip netns exec "$ns" iperf3 -s -D -p 5201 >/dev/null 2>&1
		ip netns exec "$ns" sockperf server --tcp -p 11111 >/dev/null 2>&1 &
	done
	sleep 1
}

tput() {   # client-ns server-ip → Gbit/s
	ip netns exec "$1" iperf3 -c "$2" -p 5201 -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e9'
}
rr() {     # client-ns server-ip → mean round trip in µs (100-byte requests)
	ip netns exec "$1" sockperf ping-pong --tcp -i "$2" -p 11111 -t "$SECS" -m 100 2>/dev/null |
		sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' | awk '{print $1 * 2}'
}


declare -A R
measure() {   # label client-ns same-ip cross-ip
	R[$1,same,tput]+="$(tput "$2" "$3") "
	R[$1,cross,tput]+="$(tput "$2" "$4") "
	R[$1,same,rr]+="$(rr "$2" "$3") "
	R[$1,cross,rr]+="$(rr "$2" "$4") "
}

baseline_up
servers "$B-b" "$B-c"
labs=()
for mode in vxlan native; do
	l=${LAB}${mode:0:1}
	"$PETREL" lab up --name "$l" --nodes 2 --mode "$mode" >/dev/null
	"$PETREL" --lab "$l" --node node1 endpoint add a >/dev/null
	"$PETREL" --lab "$l" --node node1 endpoint add b >/dev/null
	"$PETREL" --lab "$l" --node node2 endpoint add c >/dev/null
	servers "$l-ep-b" "$l-ep-c"
	labs+=("$mode")
done
ipof() { "$PETREL" --lab "${LAB}${1:0:1}" --node node1 -j endpoint show "$2" | jq -r .ipv4; }

for r in $(seq "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	measure baseline "$B-a" 10.250.2.2 10.250.3.2
	for mode in "${labs[@]}"; do
		measure "$mode" "${LAB}${mode:0:1}-ep-a" "$(ipof "$mode" b)" "$(ipof "$mode" c)"
	done
done

json='{"rounds":'$ROUNDS',"seconds":'$SECS',"results":['
printf '| path | metric | baseline | petrel vxlan | ratio | petrel native | ratio |\n|---|---|---|---|---|---|---|\n'
sep=""
for path in same cross; do
	for m in tput rr; do
		b=$(echo ${R[baseline,$path,$m]} | tr ' ' '\n' | median)
		row="| $([ $path = same ] && echo "same node" || echo "across nodes") | $([ $m = tput ] && echo "TCP Gbit/s" || echo "TCP RR µs") | $(printf %.2f "$b")"
		for mode in vxlan native; do
			v=$(echo ${R[$mode,$path,$m]} | tr ' ' '\n' | median)
			ratio=$(awk -v v="$v" -v b="$b" 'BEGIN {printf "%.3f", v / b}')
			row+=" | $(printf %.2f "$v") | $ratio"
			json+="$sep{\"path\":\"$path\",\"metric\":\"$m\",\"mode\":\"$mode\",\"baseline\":$b,\"petrel\":$v,\"ratio\":$ratio}"
			sep=","
		done
		echo "$row |"
	done
done
echo "$json]}" | jq . > "$OUT/datapath.json"
echo "(throughput ratio > 1 is better; latency ratio < 1 is better; medians of $ROUNDS rounds of ${SECS}s)"
