#!/usr/bin/env bash
# Policy benchmark (eBPF side): iperf3 TCP throughput and sockperf TCP request/response
# latency (100-byte requests, 200-byte responses) from an allowed client to a policed server,
# on one node and across two nodes, as the number of non-matching rules in front of the
# allowing rule grows: 0 (no policy), 1, 5, 10, 25, 50, 100, 200, 1000, 10000. Ratios are
# against 0 rules measured in the same run. Also reports how long applying each policy
# took. Output: a markdown table on stdout and JSON in bench/out/policy.json.
# Usage: bench/policy.sh [SECONDS per point (default 3)] [MODE (default native)]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-3} MODE=${2:-native}
PETREL=build/bin/petrel
export PETRELD=build/bin/petreld
LAB=bq$$ OUT=bench/out
COUNTS=(0 1 5 10 25 50 100 200 1000 10000)
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
p() { "$PETREL" --lab "$LAB" "$@"; }
trap '"$PETREL" lab down --name "$LAB" >/dev/null 2>&1' EXIT

p lab up --name "$LAB" --nodes 2 --mode "$MODE" >/dev/null
p --node node1 endpoint add client --label app=client >/dev/null
p --node node1 endpoint add near --label app=server >/dev/null
p --node node2 endpoint add far --label app=server >/dev/null
for e in near far; do
	ns=$(p --node node1 -j endpoint show $e | jq -r .netns)
	ip netns exec "$ns" iperf3 -s -D -p 5201 >/dev/null 2>&1
	ip netns exec "$ns" sockperf server --tcp -p 11111 >/dev/null 2>&1 &
done
sleep 1
CLIENT=$(p --node node1 -j endpoint show client | jq -r .netns)
NEAR=$(p --node node1 -j endpoint show near | jq -r .ipv4)
FAR=$(p --node node1 -j endpoint show far | jq -r .ipv4)

policy_file() {   # N [top] → a policy with N non-matching CIDR rules and one allowing rule
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

tput() { ip netns exec "$CLIENT" iperf3 -c "$1" -p 5201 -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e9'; }
rr() {
	ip netns exec "$CLIENT" sockperf ping-pong --tcp -i "$1" -p 11111 -t "$SECS" -m 100 2>/dev/null |
		sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' | awk '{print $1 * 2}'
}

rows=() json='{"mode":"'$MODE'","seconds":'$SECS',"points":['
sep=""
for n in "${COUNTS[@]}" top; do
	label=$n
	if [ "$n" = 0 ]; then
		p --node node1 policy delete bench >/dev/null 2>&1 || true
		apply_ms=0
	else
		if [ "$n" = top ]; then policy_file 10000 top > "$OUT/policy-bench.json"; label="10000 (allow rule first)"
		else policy_file "$n" > "$OUT/policy-bench.json"; fi
		start=$(date +%s%N)
		p --node node1 policy apply "$OUT/policy-bench.json" >/dev/null 2>&1
		apply_ms=$(( ($(date +%s%N) - start) / 1000000 ))
		sleep 1   # node2 compiles it from its watch
	fi
	echo "rules $label: applied in ${apply_ms} ms" >&2
	tn=$(tput "$NEAR") tf=$(tput "$FAR") rn=$(rr "$NEAR") rf=$(rr "$FAR")
	[ "$n" = 0 ] && { b_tn=$tn b_tf=$tf b_rn=$rn b_rf=$rf; }
	r() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
	rows+=("| $label | $apply_ms | $(printf %.2f "$tn") ($(r "$tn" "$b_tn")) | $(printf %.2f "$tf") ($(r "$tf" "$b_tf")) | $(printf %.1f "$rn") ($(r "$rn" "$b_rn")) | $(printf %.1f "$rf") ($(r "$rf" "$b_rf")) |")
	json+="$sep{\"rules\":\"$n\",\"apply_ms\":$apply_ms,\"same_gbps\":$tn,\"cross_gbps\":$tf,\"same_rr_us\":$rn,\"cross_rr_us\":$rf}"
	sep=","
done
rm -f "$OUT/policy-bench.json"
echo "$json]}" | jq . > "$OUT/policy.json"
echo "| rules | apply ms | same node Gbit/s (ratio) | across nodes Gbit/s (ratio) | same node RR µs (ratio) | across nodes RR µs (ratio) |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "(eBPF datapath, $MODE mode, ${SECS}s per point; ratios against 0 rules in the same run)"
