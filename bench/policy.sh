#!/usr/bin/env bash
# Policy benchmark: petrel's eBPF enforcement against the classic iptables baseline
# (policy-backend = iptables: bridge, kernel routes, FORWARD rules after a conntrack accept),
# both built in the same run. For N = 0 (no policy), 1, 5, ... 10000 non-matching CIDR rules
# in front of the rule that allows the client (and, at 10000, with the allowing rule first),
# it measures iperf3 TCP throughput, sockperf TCP request/response round trips (100-byte
# requests; sockperf echoes them) and new TCP connections per second, each carrying a
# 100-byte request and a 200-byte response (bench/tools/crr.py: every connection meets the
# rules at set-up), from the allowed client to a policed server on the same node and on the
# other node, and the time `petrel policy apply` takes. Every round visits every rule count
# (in reverse order every other round) and both backends, so each ratio compares
# measurements taken close together; medians over the rounds are reported, with ratios against each backend's own 0 rules, and eBPF
# against iptables. Output: markdown on stdout, JSON and SVG plots in bench/out/. Last, the
# per-packet cost of the eBPF policy step alone, measured with BPF_PROG_RUN on the real
# program (build/bench/policy_cost, source in bench/tools/policy_cost.c): the same rule
# counts without the noise of veths, the scheduler and iperf3.
# Usage: [COUNTS="0 10000 top"] [METRICS="tn tf rn rf cn cf"] bench/policy.sh [ROUNDS (default 2)]
#        [SECONDS per point (default 2)]
. "$(dirname "$0")/lib/common.sh"
ROUNDS=${1:-2} SECS=${2:-2}
B=bq$$
read -r -a COUNTS <<< "${COUNTS:-0 1 5 10 25 50 100 200 1000 10000 top}"
# tn/tf: throughput to the same node / across; rn/rf: round trips; cn/cf: new connections
read -r -a METRICS <<< "${METRICS:-tn tf rn rf cn cf}"
BACKENDS=(ebpf iptables)
lab() { echo "$B${1:0:1}"; }                 # bqNNNe / bqNNNi
p() { local l; l=$(lab "$1"); shift; "$PETREL" --lab "$l" "$@"; }
cleanup() { for be in "${BACKENDS[@]}"; do "$PETREL" lab down --name "$(lab $be)" >/dev/null 2>&1; done; }
trap cleanup EXIT

declare -A CLIENT NEAR FAR
for be in "${BACKENDS[@]}"; do
	"$PETREL" lab up --name "$(lab $be)" --nodes 2 --mode native --policy-backend "$be" >/dev/null
	p $be --node node1 endpoint add client --label app=client >/dev/null
	p $be --node node1 endpoint add near --label app=server >/dev/null
	p $be --node node2 endpoint add far --label app=server >/dev/null
	for e in near far; do
		ns=$(p $be --node node1 -j endpoint show $e | jq -r .netns)
		ip netns exec "$ns" iperf3 -s -D -p 5201 >/dev/null 2>&1
		ip netns exec "$ns" sockperf server --tcp -p 11111 >/dev/null 2>&1 &
		ip netns exec "$ns" python3 bench/tools/crr.py server 7100 >/dev/null 2>&1 &
	done
	CLIENT[$be]=$(p $be --node node1 -j endpoint show client | jq -r .netns)
	NEAR[$be]=$(p $be --node node1 -j endpoint show near | jq -r .ipv4)
	FAR[$be]=$(p $be --node node1 -j endpoint show far | jq -r .ipv4)
done
sleep 1

policy_file() {   # N [top] → N non-matching CIDR rules and one rule allowing the client
	python3 - "$1" "${2:-}" <<'PY'
import json, sys
n, top = int(sys.argv[1]), sys.argv[2] == "top"
rules = [{"fromCIDR": ["203.0.%d.%d/32" % ((i // 250) % 250, i % 250 + 1)],
          "toPorts": [{"port": 1000 + i % 60000, "protocol": "TCP"}]} for i in range(n)]
allow = {"fromEndpoints": [{"matchLabels": {"app": "client"}}]}
rules = [allow] + rules if top else rules + [allow]
print(json.dumps({"name": "bench", "endpointSelector": {"matchLabels": {"app": "server"}},
                  "ingress": rules}))
PY
}
tput() { ip netns exec "$1" iperf3 -c "$2" -p 5201 -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e9'; }
rr() {
	ip netns exec "$1" sockperf ping-pong --tcp -i "$2" -p 11111 -t "$SECS" -m 100 2>/dev/null |
		sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' | awk '{print $1 * 2}'
}
crr() { ip netns exec "$1" python3 bench/tools/crr.py client "$2" 7100 "$SECS"; }

# Rule counts alternate inside every round (in reverse order every other round), so each
# ratio against 0 rules compares measurements minutes apart at most, not a whole run apart.
declare -A R
apply_rules() {   # N: the policy with N rules (or none, or 10000 with the allow first) everywhere
	local n=$1 be ms start
	for be in "${BACKENDS[@]}"; do
		if [ "$n" = 0 ]; then
			p $be --node node1 policy delete bench >/dev/null 2>&1 || true
			ms=0
		else
			if [ "$n" = top ]; then policy_file 10000 top; else policy_file "$n"; fi > "$OUT/policy-bench.json"
			start=$(date +%s%N)
			p $be --node node1 policy apply "$OUT/policy-bench.json" >/dev/null 2>&1
			ms=$(( ($(date +%s%N) - start) / 1000000 ))
		fi
		R[$n,$be,apply]+="$ms "
	done
	sleep 2   # node2 compiles from its watch
}
for r in $(seq "$ROUNDS"); do
	order=("${COUNTS[@]}")
	[ $((r % 2)) = 0 ] && order=($(printf '%s\n' "${COUNTS[@]}" | tac))
	for n in "${order[@]}"; do
		apply_rules "$n"
		for be in "${BACKENDS[@]}"; do
			for m in "${METRICS[@]}"; do
				case $m in
				tn) v=$(tput "${CLIENT[$be]}" "${NEAR[$be]}") ;;
				tf) v=$(tput "${CLIENT[$be]}" "${FAR[$be]}") ;;
				rn) v=$(rr "${CLIENT[$be]}" "${NEAR[$be]}") ;;
				rf) v=$(rr "${CLIENT[$be]}" "${FAR[$be]}") ;;
				cn) v=$(crr "${CLIENT[$be]}" "${NEAR[$be]}") ;;
				cf) v=$(crr "${CLIENT[$be]}" "${FAR[$be]}") ;;
				esac
				R[$n,$be,$m]+="$v "
			done
		done
	done
	echo "round $r of $ROUNDS done" >&2
done
for n in "${COUNTS[@]}"; do
	for be in "${BACKENDS[@]}"; do R[$n,$be,apply]=$(echo "${R[$n,$be,apply]}" | median); done
	echo "rules $n: applied in ${R[$n,ebpf,apply]} ms (eBPF), ${R[$n,iptables,apply]} ms (iptables), medians" >&2
done
rm -f "$OUT/policy-bench.json"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
json='{"rounds":'$ROUNDS',"seconds":'$SECS',"points":[' sep=""
: > "$OUT/policy.dat"
echo "| rules | metric | eBPF | eBPF / eBPF@0 | iptables | iptables / iptables@0 | eBPF / iptables |"
echo "|---|---|---|---|---|---|---|"
for m in "${METRICS[@]}"; do
	case $m in tn) name="same node Gbit/s" ;; tf) name="across nodes Gbit/s" ;;
		rn) name="same node RR µs" ;; rf) name="across nodes RR µs" ;;
		cn) name="same node new connections/s" ;; cf) name="across nodes new connections/s" ;; esac
	e0=$(echo "${R[0,ebpf,$m]}" | median) i0=$(echo "${R[0,iptables,$m]}" | median)
	for n in "${COUNTS[@]}"; do
		e=$(echo "${R[$n,ebpf,$m]}" | median) i=$(echo "${R[$n,iptables,$m]}" | median)
		label=$([ "$n" = top ] && echo "10000 (allow first)" || echo "$n")
		echo "| $label | $name | $(printf %.2f "$e") | $(ratio "$e" "$e0") | $(printf %.2f "$i") | $(ratio "$i" "$i0") | $(ratio "$e" "$i") |"
		json+="$sep{\"rules\":\"$n\",\"metric\":\"$m\",\"ebpf\":$e,\"iptables\":$i,\"ebpf_apply_ms\":${R[$n,ebpf,apply]},\"iptables_apply_ms\":${R[$n,iptables,apply]}}"
		sep=","
		[ "$n" != top ] && echo "$m $n $e $i" >> "$OUT/policy.dat"
	done
done
echo
echo "| rules | apply eBPF ms | apply iptables ms |"
echo "|---|---|---|"
for n in "${COUNTS[@]}"; do echo "| $n | ${R[$n,ebpf,apply]} | ${R[$n,iptables,apply]} |"; done
echo "$json]}" | jq . > "$OUT/policy.json"
if command -v gnuplot >/dev/null; then
	for m in "${METRICS[@]}"; do
		case $m in tn|tf) y="Gbit/s" ;; rn|rf) y="round trip µs" ;; *) y="connections/s" ;; esac
		gnuplot <<GP
set terminal svg size 640,400 background rgb 'white'
set output "$OUT/policy-$m.svg"
set logscale x
set xlabel "non-matching rules (0 plotted at 0.5)"
set ylabel "$y"
set key bottom left
set title "policy $m: eBPF vs iptables (medians of $ROUNDS)"
plot "< awk '\$1==\"$m\" {print (\$2==0?0.5:\$2), \$3, \$4}' $OUT/policy.dat" using 1:2 with linespoints title "eBPF", \
     "" using 1:3 with linespoints title "iptables"
GP
	done
	echo "plots: $OUT/policy-{tn,tf,rn,rf,cn,cf}.svg"
fi
echo "(native mode; $ROUNDS alternating rounds of ${SECS}s per point; medians)"

# Ten thousand policies of one rule each from one YAML file (one request, one store
# transaction), against the single policy of 10000 rules, applied alternately on the eBPF
# lab: the ratio says what splitting the same rules into policies costs.
many_file() {
	python3 - <<'PY'
for i in range(10000):
    print(f"""---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: many-{i}}}
spec:
  endpointSelector: {{matchLabels: {{app: server}}}}
  ingress:
  - fromCIDR: ["203.0.{(i // 250) % 250}.{i % 250 + 1}/32"]
    toPorts: [{{ports: [{{port: "{1000 + i % 60000}", protocol: TCP}}]}}]""")
PY
}
many_file > "$OUT/policy-many.yaml"
policy_file 10000 > "$OUT/policy-bench.json"
one=() many=()
for r in $(seq "$ROUNDS"); do
	start=$(date +%s%N)
	p ebpf --node node1 policy apply "$OUT/policy-bench.json" >/dev/null 2>&1
	one+=($(( ($(date +%s%N) - start) / 1000000 )))
	start=$(date +%s%N)
	p ebpf --node node1 policy apply "$OUT/policy-many.yaml" >/dev/null 2>&1
	many+=($(( ($(date +%s%N) - start) / 1000000 )))
done
one_ms=$(printf '%s\n' "${one[@]}" | median) many_ms=$(printf '%s\n' "${many[@]}" | median)
echo
echo "| applied from one file | ms (median of $ROUNDS) | ratio to one policy of 10000 rules |"
echo "|---|---|---|"
echo "| 1 policy, 10000 rules (JSON) | $one_ms | 1.00 |"
echo "| 10000 policies, 1 rule each (YAML, one transaction) | $many_ms | $(ratio "$many_ms" "$one_ms") |"
echo
echo "Per-packet cost of the eBPF datapath's policy step against the rule count (BPF_PROG_RUN):"
echo
build/bench/policy_cost "$ROUNDS"
