#!/usr/bin/env bash
# IOAM benchmark (issue 6), after the Linux-kernel IOAM study: UDP throughput with
# 1200-octet datagrams (iperf3) across a chain of three petrel nodes in native mode —
# node1 encapsulates, node3 is a petrel transit, node2 decapsulates — for:
#   none      IOAM off (roles none on every node: no IOAM program runs): the baseline
#   unused    IOAM configured and on, but no packet matches an encap rule
#   freq      insertion into 0.01%, 0.1%, 1%, 10%, 50%, 100% of packets
#   types     1 to 11 trace data fields (trace-type bits 0-6 and 8-11), every packet
#   ns        1 to 7 namespaces (one trace option each), every packet
#   transit   the transit hop alone, petrel's (node3) against the Linux kernel's own IOAM
#             transit (a lab router), every packet traced: its cost in ns per packet
# and the per-node cost of each role: the datapath programs' run time per packet
# (kernel.bpf_stats_enabled) with IOAM on and off (IOAM runs inside them, by tail calls,
# so its own programs are not counted separately), the same with BPF_PROG_RUN
# (build/bench/ioam_cost), and the UDP round trip with and without IOAM
# (bench/tools/udp_rr.py; Debian's sockperf takes no IPv6 address).
# Every point is ROUNDS pairs of runs, IOAM off and on, back to back in alternating order;
# its ratio is the median of the pairs' ratios, so a shared machine's drift cancels.
# Output: a markdown table on stdout, JSON and SVG plots in bench/out/.
# Usage: bench/ioam.sh [ROUNDS (default 3)] [SECONDS per run (default 3)]
# IOAM_SERIES="unused freq" limits the run to those series, and IOAM_FREQS="1/100 1/1" the
# insertion points (more rounds for the points the targets name in the same time); the
# per-role cost is always measured.
. "$(dirname "$0")/lib/common.sh"
ROUNDS=${1:-3} SECS=${2:-3}
SERIES=${IOAM_SERIES:-unused freq types ns transit}
want() { [[ " $SERIES " == *" $1 "* ]]; }
LAB=io$$
. bench/lib/ioam_chain.sh
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)

cleanup() {
	set +e
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	"$PETREL" lab down --name "$LAB" >/dev/null 2>&1
}
trap cleanup EXIT

chain_up "$LAB"
ip netns exec "$C" python3 bench/tools/udp_rr.py server 11111 >/dev/null 2>&1 &
disown                            # lab down stops it; no "Killed" notice at exit
sleep 1

declare -A T R PAIRS LOST NSPP
OFF=""
# point LABEL: ROUNDS pairs of runs (see pair); the ratio is the median of the pairs'
# ratios. TOGGLE names what is switched (default: every role on every node); only those
# pairs' "off" runs make the no-IOAM baseline. NSPP gets the median of the pairs'
# differences in time per packet (ns).
point() {
	local on="" rat="" nspp="" t=${TOGGLE:-roles}
	for r in $(seq "$ROUNDS"); do
		pair "$r" "$t"
		# A pair with a run that measured nothing is left out, and counted.
		if ! awk -v n="$PAIR_ON" -v o="$PAIR_OFF" 'BEGIN {exit !(n > 0 && o > 0)}'; then
			LOST[$1]=$((${LOST[$1]:-0} + 1))
			continue
		fi
		[ "$t" = roles ] && OFF+="$PAIR_OFF "
		on+="$PAIR_ON "
		rat+="$(pair_ratio) "
		nspp+="$(pair_ns) "
	done
	T[$1]=$(echo $on | tr ' ' '\n' | median)
	R[$1]=$(echo $rat | tr ' ' '\n' | median)
	NSPP[$1]=$(echo $nspp | tr ' ' '\n' | median)
	PAIRS[$1]=$rat
}
encap() {  # ns type size freq
	p --node node1 ioam encap add --ns "$1" --trace-type "$2" --size "$3" --freq "$4" --to "$CIP/128" >/dev/null
}
clear_encap() {
	p --node node1 -j ioam show | jq -r '.encap[] | "\(.namespace) \(.to)"' |
		while read -r ns to; do p --node node1 ioam encap del --ns "$ns" --to "$to" >/dev/null; done
}
check_ioam() {  # the last point really carried IOAM end to end
	local d
	d=$(p --node node2 -j ioam show | jq '.counters.decap')
	[ "$d" -gt 0 ] || { echo "bench: no packet was decapsulated on node2" >&2; exit 1; }
	[ "$(p --node node1 -j ioam show | jq '.counters."encap-failed"')" = 0 ] ||
		{ echo "bench: node1 could not insert IOAM into some packets" >&2; exit 1; }
}

for ns in 1 2 3 4 5 6 7; do p --node node1 ioam namespace add $ns data 0x$ns >/dev/null; done

FREQS=${IOAM_FREQS:-1/10000 1/1000 1/100 1/10 1/2 1/1}
BITS=(0 1 2 3 4 5 6 8 9 10 11)
if want unused; then
	echo "# configured but unused" >&2
	p --node node1 ioam encap add --ns 1 --trace-type 0xf00000 --size 48 --to fd00:dead::/64 >/dev/null
	point unused
	clear_encap
fi

if want freq; then
	echo "# insertion frequency (trace type 0xf00000, room for 3 nodes)" >&2
	for f in $FREQS; do
		clear_encap
		encap 1 0xf00000 48 "$f"
		point "freq,$f"
	done
	check_ioam
fi

want types && echo "# trace data fields, every packet" >&2
type=0
for i in $(want types && seq 11); do
	b=${BITS[$((i - 1))]}
	type=$((type | 1 << (23 - b)))
	nl=0
	for j in $(seq 0 $((i - 1))); do case ${BITS[$j]} in 8|9|10) nl=$((nl + 2)) ;; *) nl=$((nl + 1)) ;; esac; done
	clear_encap
	encap 1 "$(printf 0x%06x $type)" $((nl * 4 * 3)) 1/1
	point "types,$i"
done
want types && check_ioam

if want ns; then
	echo "# namespaces (one trace option each: node id, room for 3 nodes), every packet" >&2
	clear_encap
	for k in 1 2 3 4 5 6 7; do
		encap $k 0x800000 12 1/1
		point "ns,$k"
	done
	check_ioam
fi

# Transit alone: encap on node1 and decap on node2 stay on, every packet carries a trace,
# and only the middle hop's IOAM is switched. petrel: node3's roles. Linux: a lab router
# with the kernel's own IOAM transit instead of node3, switched by ioam6_enabled on its
# eth0 (off, the kernel still parses the Hop-by-Hop header and skips the option).
petrel_transit() {   # on|off
	local r; [ "$1" = on ] && r="ingress egress" || r=none
	p --node node3 ioam role --dev eth0 $r >/dev/null
}
kernel_transit() {   # on|off
	ip netns exec "$LAB-rt-kt" sysctl -qw net.ipv6.conf.eth0.ioam6_enabled=$([ "$1" = on ] && echo 1 || echo 0)
}
if want transit; then
	echo "# transit alone: petrel (node3) against the Linux kernel's own (a lab router)" >&2
	clear_encap
	encap 1 0xf00000 48 1/1
	roles on
	TOGGLE=petrel_transit point transit,petrel
	p lab router add kt --between node1 node2 --ioam-id 100 --ioam-ns 1 >/dev/null
	TOGGLE=kernel_transit point transit,kernel
	p --node node2 ioam traces | jq -s -e 'any(.[]; [.nodes[].node_id] == [1, 100, 2])' >/dev/null ||
		{ echo "bench: the kernel router did not fill the traces" >&2; exit 1; }
	p lab router del kt >/dev/null    # it removes node1's route to node2: through node3 again
	via_node3
fi

# --- per-role cost ------------------------------------------------------------------------
echo "# per-role cost" >&2
clear_encap
encap 1 0xf00000 48 1/1
rr() {   # median UDP round trip in µs, 1200-octet messages
	ip netns exec "$A" python3 bench/tools/udp_rr.py client "$CIP" 11111 "$SECS"
}
ENDPOINT_DEV=$(ip netns exec "$LAB-node1" ip -j link | jq -r '.[] | select(.ifname | startswith("lxc")) | .ifname' | head -1)
prog_stat() {   # node dev hook prog → "runs ns" of the datapath program attached there
	local id
	id=$(ip netns exec "$LAB-$1" tc -j filter show dev "$2" "$3" | jq -r ".[] | select((.options.bpf_name // \"\") | startswith(\"$4\")) | .options.prog.id" | head -1)
	bpftool -j prog show id "$id" | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"'
}
chain_stats() {   # "runs ns" of node1's from_container, node3's and node2's from_underlay
	echo "$(prog_stat node1 "$ENDPOINT_DEV" ingress from_container) $(prog_stat node3 eth0 ingress from_underlay) $(prog_stat node2 eth0 ingress from_underlay)"
}
datapath_ns() {   # → ns per packet of those three programs during one run
	local b a
	b=$(chain_stats)
	udp >/dev/null
	a=$(chain_stats)
	echo "$b $a" | awk '{for (i = 0; i < 3; i++) printf "%.0f ", ($(8 + 2 * i) - $(2 + 2 * i)) / ($(7 + 2 * i) - $(1 + 2 * i))}'
}
RR_OFF="" RR_ON=""
for r in $(seq "$ROUNDS"); do
	roles off; RR_OFF+="$(rr) "
	roles on; RR_ON+="$(rr) "
done
RR0=$(echo $RR_OFF | tr ' ' '\n' | median) RR1=$(echo $RR_ON | tr ' ' '\n' | median)
sysctl -qw kernel.bpf_stats_enabled=1
declare -a DP_OFF DP_ON
for r in $(seq "$ROUNDS"); do
	roles off; DP_OFF[$r]=$(datapath_ns)
	roles on; DP_ON[$r]=$(datapath_ns)
done
sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
dp_median() {   # off|on column(1-3) → median ns
	local arr="DP_${1^^}[@]"
	for v in "${!arr}"; do echo "$v"; done | awk -v c="$2" '{print $c}' | median
}
ENC_OFF=$(dp_median off 1) ENC_ON=$(dp_median on 1)
TRA_OFF=$(dp_median off 2) TRA_ON=$(dp_median on 2)
DEC_OFF=$(dp_median off 3) DEC_ON=$(dp_median on 3)
COST=$(build/bench/ioam_cost "$ROUNDS")

# --- report -------------------------------------------------------------------------------
B=$(echo $OFF | tr ' ' '\n' | median)
[ -n "$B" ] || B=null            # a run of the transit series alone has no IOAM-off baseline
json="{\"rounds\":$ROUNDS,\"seconds\":$SECS,\"no_ioam_mbps\":$B,\"points\":["
sep=""
row() {   # series x label key
	local range
	range=$(spread ${PAIRS[$4]})
	[ -n "${LOST[$4]:-}" ] && range+=" (${LOST[$4]} pair(s) left out: a run measured nothing)"
	printf '| %s | %s | %.0f | %.3f | %s |\n' "$1" "$3" "${T[$4]}" "${R[$4]}" "$range"
	json+="$sep{\"series\":\"$1\",\"x\":\"$2\",\"mbps\":${T[$4]},\"ratio\":${R[$4]},\"pairs\":[$(echo ${PAIRS[$4]} | tr ' ' ',')],\"pairs_left_out\":${LOST[$4]:-0}}"
	sep=","
}
[ "$B" = null ] || printf '| series | point | UDP Mbit/s with IOAM | ratio to no IOAM | pairs'"'"' ratios, lowest-highest |\n|---|---|---|---|---|\n'
[ "$B" = null ] || printf '| none | no IOAM (median of all %d runs without it) | %.0f | 1.000 | |\n' "$(echo $OFF | wc -w)" "$B"
want unused && row unused 0 "configured, unused" unused
: > "$OUT/ioam-freq.dat"
for f in $(want freq && echo $FREQS); do
	pct=$(awk -v f="$f" 'BEGIN {split(f, a, "/"); printf "%g", 100 * a[1] / a[2]}')
	row freq "$pct" "insertion $pct%" "freq,$f"
	echo "$pct ${R[freq,$f]}" >> "$OUT/ioam-freq.dat"
done
: > "$OUT/ioam-types.dat"
for i in $(want types && seq 11); do
	row types "$i" "$i trace field(s), 100%" "types,$i"
	echo "$i ${R[types,$i]}" >> "$OUT/ioam-types.dat"
done
: > "$OUT/ioam-ns.dat"
for k in $(want ns && echo 1 2 3 4 5 6 7); do
	row ns "$k" "$k namespace(s), 100%" "ns,$k"
	echo "$k ${R[ns,$k]}" >> "$OUT/ioam-ns.dat"
done
json+="],\"udp_rtt_us\":{\"off\":$RR0,\"on\":$RR1},"
if want transit; then
	json+="\"transit_ns\":{\"petrel\":${NSPP[transit,petrel]},\"kernel\":${NSPP[transit,kernel]}},"
fi
json+="\"datapath_ns\":{\"encap\":[$ENC_OFF,$ENC_ON],\"transit\":[$TRA_OFF,$TRA_ON],\"decap\":[$DEC_OFF,$DEC_ON]}}"
echo "$json" | jq . > "$OUT/ioam.json"
echo
printf '| role | datapath program | ns per packet, IOAM off | IOAM on | IOAM'"'"'s cost |\n|---|---|---|---|---|\n'
cost_row() {   # role program off on
	printf '| %s | %s | %.0f | %.0f | %.0f |\n' "$1" "$2" "$3" "$4" "$(awk -v a="$4" -v b="$3" 'BEGIN {print a - b}')"
}
cost_row encap "node1 from_container" "$ENC_OFF" "$ENC_ON"
cost_row transit "node3 from_underlay" "$TRA_OFF" "$TRA_ON"
cost_row decap "node2 from_underlay" "$DEC_OFF" "$DEC_ON"
printf '\n(kernel.bpf_stats_enabled during iperf3 runs at 100%% insertion, medians of %d runs each.)\n\n' "$ROUNDS"
echo "$COST"
printf '\nUDP round trip a -> c -> a (1200 octets): %.1f µs without IOAM, %.1f µs with it (encap, transit\n' "$RR0" "$RR1"
printf 'and decap one way; encap and decap on the way back), medians of %d runs of %ds.\n' "$ROUNDS" "$SECS"
if want transit; then
	printf '\n| transit hop (every packet traced; encap and decap on) | UDP Mbit/s, its IOAM on | ratio to its IOAM off | its IOAM'"'"'s cost, ns per packet | pairs'"'"' ratios |\n|---|---|---|---|---|\n'
	for k in petrel kernel; do
		[ $k = petrel ] && what="petrel, eBPF (node3)" || what="Linux kernel's own (a lab router)"
		printf '| %s | %.0f | %.3f | %.0f | %s |\n' "$what" "${T[transit,$k]}" "${R[transit,$k]}" "${NSPP[transit,$k]}" \
			"$(spread ${PAIRS[transit,$k]})"
	done
	printf '\n(ns per packet: the median over the pairs of 9600 bits / on - 9600 bits / off, so the\nchains'"'"' different baselines cancel.)\n'
fi

for s in unused freq types ns; do want $s || { echo "(data: $OUT/ioam.json; plots only for a full run)"; exit 0; }; done
gnuplot <<EOF
set terminal svg size 900,300 dynamic background rgb 'white' font 'sans,11'
set output '$OUT/ioam.svg'
set multiplot layout 1,3
set yrange [0.4:1.2]
set grid
set ylabel 'throughput / no IOAM'
set title 'insertion rate'
set logscale x
set xlabel '% of packets'
plot '$OUT/ioam-freq.dat' with linespoints lw 2 pt 7 notitle, 0.93 dt 2 title '-7%', 0.99 dt 3 title '-1%'
unset logscale x
set title 'trace data fields'
set xlabel 'fields (100% insertion)'
plot '$OUT/ioam-types.dat' with linespoints lw 2 pt 7 notitle
set title 'namespaces'
set xlabel 'trace options (100% insertion)'
plot '$OUT/ioam-ns.dat' with linespoints lw 2 pt 7 notitle
unset multiplot
EOF
echo "(plots: $OUT/ioam.svg; data: $OUT/ioam.json)"
