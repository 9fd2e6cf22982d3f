#!/usr/bin/env bash
# Latency-accounting benchmark, after MACE's evaluation, on one machine.
# A one-node native-mode lab; the target is the lab's outside namespace, reached through
# the node's underlay device. References: the native RTT (ping from the node's namespace)
# and the container RTT (ping from an endpoint, accounting off). With accounting on,
# `petrel ping` gives raw and corrected RTTs. 0..16 noisy-neighbour endpoints flood-ping
# the target. Every figure compares variants measured in the same run, interleaved.
#   1. ICMP payload 16..1472 bytes against container overhead (no neighbours);
#   2. mean error of the corrected container RTT against the native RTT, by neighbours;
#   3. coverage: replies with both latencies, and, for a flooding neighbour with accounting
#      on, the share of its packets matched in each direction;
#   4. perturbation: mean container RTT with accounting on minus off, against tracing the
#      same tracepoints with ftrace (an ftrace instance with those events on).
# Usage: bench/latency.sh [ROUNDS (default 3)] [PINGS per point (default 200)]
# Env: NEIGHBOURS="0 2 4 8 16", SIZES="16 64 256 512 1024 1472", INTERVAL=0.005.
# Output: markdown tables on stdout; JSON and SVG plots in bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3} COUNT=${2:-200}
NEIGHBOURS=${NEIGHBOURS:-"0 2 4 8 16"}
SIZES=${SIZES:-"16 64 256 512 1024 1472"}
INTERVAL=${INTERVAL:-0.005}
PETREL=build/bin/petrel
export PETRELD=build/bin/petreld
LAB=l$$ OUT=bench/out TRACE=/sys/kernel/tracing
INST=$TRACE/instances/petrel-bench-$$
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
command -v ping >/dev/null || { echo "bench: install iputils-ping (scripts/install-deps.sh)" >&2; exit 1; }

p() { "$PETREL" --lab "$LAB" "$@"; }
FLOODS=()
stop_floods() { for pid in "${FLOODS[@]}"; do kill "$pid" 2>/dev/null || true; done; FLOODS=(); wait 2>/dev/null || true; }
cleanup() {
	set +e
	stop_floods
	[ -d "$INST" ] && { echo 0 >"$INST/tracing_on"; echo >"$INST/set_event"; rmdir "$INST"; }
	"$PETREL" lab down --name "$LAB" >/dev/null 2>&1
}
trap cleanup EXIT

mountpoint -q "$TRACE" || mount -t tracefs nodev "$TRACE"
# The events the probes use, traced by ftrace into its own instance's ring buffer.
EVENTS="raw_syscalls:sys_enter raw_syscalls:sys_exit net:net_dev_queue net:net_dev_start_xmit
	net:netif_receive_skb sock:sk_data_ready"
mkdir "$INST"
echo 1024 >"$INST/buffer_size_kb"
ftrace() {   # on|off
	if [ "$1" = on ]; then
		for e in $EVENTS; do echo "$e" >>"$INST/set_event"; done
		echo 1 >"$INST/tracing_on"
	else
		echo 0 >"$INST/tracing_on"
		echo >"$INST/set_event"
		echo >"$INST/trace"
	fi
}

p lab up --name "$LAB" --nodes 1 --mode native >/dev/null
p --node node1 endpoint add probe >/dev/null
TARGET=$(p -j lab status | jq -r .outside.ipv4)
NODE_NS=$LAB-node1
PROBE_NS=$(p --node node1 -j endpoint show probe | jq -r .netns)
maxn=0; for n in $NEIGHBOURS; do [ "$n" -gt "$maxn" ] && maxn=$n; done
for i in $(seq "$maxn"); do p --node node1 endpoint add "n$i" >/dev/null; done
# Warm up neighbour tables and caches.
ip netns exec "$NODE_NS" ping -c 3 -i 0.05 -q "$TARGET" >/dev/null
ip netns exec "$PROBE_NS" ping -c 3 -i 0.05 -q "$TARGET" >/dev/null

# ping_ns NS SIZE -> "mean_us median_us" of user-to-user RTTs (-U, like petrel ping).
ping_ns() {
	ip netns exec "$1" ping -U -n -c "$COUNT" -i "$INTERVAL" -s "$2" "$TARGET" |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -g |
		awk '{v[NR] = $1 * 1000; s += $1 * 1000} END {if (NR) printf "%.2f %.2f\n", s / NR, v[int((NR + 1) / 2)]; else print "nan nan"}'
}
# ping_acc SIZE -> "raw_mean corrected_mean matched_ratio raw_median corrected_median egress_mean ingress_mean"
ping_acc() {
	p --node node1 -j ping probe "$TARGET" -c "$COUNT" -i "$INTERVAL" -s "$1" | jq -r '
		def med: sort | if length == 0 then 0 else .[(length - 1) / 2 | floor] end;
		[.raw_avg_us, .corrected_avg_us, .matched_ratio,
		 ([.replies_detail[].raw_us] | med), ([.replies_detail[] | .corrected_us // empty] | med),
		 .egress_avg_us, .ingress_avg_us] | map(. * 100 | round / 100) | join(" ")'
}
floods() {   # start N neighbours flood-pinging the target
	for i in $(seq "$1"); do
		ip netns exec "$LAB-ep-n$i" ping -f -q -s 56 "$TARGET" >/dev/null 2>&1 &
		FLOODS+=($!)
	done
	sleep 0.5
}
avg() { awk '{s += $1; n++} END {if (n) printf "%.2f", s / n; else print "nan"}'; }
col() { tr ' ' '\n' | grep -v '^$'; }

declare -A R
echo "# figure 1: payload size vs container overhead (no neighbours, $ROUNDS rounds x $COUNT pings)" >&2
for r in $(seq "$ROUNDS"); do
	for s in $SIZES; do
		read -r nm _ <<<"$(ping_ns "$NODE_NS" "$s")"
		read -r cm _ <<<"$(ping_ns "$PROBE_NS" "$s")"
		read -r am corr ratio _ <<<"$(ping_acc "$s")"
		R[s$s,native]+="$nm " R[s$s,off]+="$cm " R[s$s,raw]+="$am " R[s$s,corr]+="$corr " R[s$s,cov]+="$ratio "
	done
done

echo "# figures 2-4: neighbours ($NEIGHBOURS)" >&2
for n in $NEIGHBOURS; do
	floods "$n"
	for r in $(seq "$ROUNDS"); do
		read -r nm nmed <<<"$(ping_ns "$NODE_NS" 56)"
		read -r cm cmed <<<"$(ping_ns "$PROBE_NS" 56)"
		read -r am corr ratio amed cormed eg in <<<"$(ping_acc 56)"
		ftrace on
		read -r fm fmed <<<"$(ping_ns "$PROBE_NS" 56)"
		ftrace off
		R[n$n,native]+="$nm " R[n$n,off]+="$cm " R[n$n,raw]+="$am " R[n$n,corr]+="$corr "
		R[n$n,cov]+="$ratio " R[n$n,ftrace]+="$fm " R[n$n,eg]+="$eg " R[n$n,in]+="$in "
		R[n$n,native_med]+="$nmed " R[n$n,corr_med]+="$cormed "
	done
	if [ "$n" -gt 0 ]; then
		# Coverage under load: account a flooding neighbour for a few seconds.
		p --node node1 latency enable n1 >/dev/null
		sleep 3
		st=$(p --node node1 -j latency show n1)
		R[n$n,flood_cov]=$(jq -r '[(.egress.matched / ([.egress.started, 1] | max)),
			(.ingress.matched / ([.ingress.delivered, 1] | max)), .egress.started, .ingress.delivered,
			.egress.unmatched, .ingress.unmatched, .records_lost] | map(tostring) | join(" ")' <<<"$st")
		p --node node1 latency disable n1 >/dev/null
	else
		R[n$n,flood_cov]="nan nan 0 0 0 0 0"
	fi
	stop_floods
done

# ---- report ----
json="{\"rounds\": $ROUNDS, \"pings\": $COUNT, \"interval_s\": $INTERVAL, \"sizes\": ["
{
	echo "| payload B | native µs | container µs | overhead µs | container, accounting on µs | corrected µs | corrected − native µs | coverage |"
	echo "|---|---|---|---|---|---|---|---|"
} >"$OUT/latency-sizes.md"
: >"$OUT/latency-sizes.dat"
first=1
for s in $SIZES; do
	nm=$(col <<<"${R[s$s,native]}" | avg) cm=$(col <<<"${R[s$s,off]}" | avg)
	am=$(col <<<"${R[s$s,raw]}" | avg) corr=$(col <<<"${R[s$s,corr]}" | avg) cov=$(col <<<"${R[s$s,cov]}" | avg)
	ovh=$(awk -v a="$cm" -v b="$nm" 'BEGIN {printf "%.2f", a - b}')
	err=$(awk -v a="$corr" -v b="$nm" 'BEGIN {printf "%.2f", a - b}')
	echo "| $s | $nm | $cm | $ovh | $am | $corr | $err | $cov |" >>"$OUT/latency-sizes.md"
	echo "$s $nm $cm $ovh $am $corr $err" >>"$OUT/latency-sizes.dat"
	[ $first = 1 ] || json+=", "; first=0
	json+="{\"size\": $s, \"native_us\": $nm, \"container_us\": $cm, \"overhead_us\": $ovh, \"accounted_raw_us\": $am, \"corrected_us\": $corr, \"corrected_minus_native_us\": $err, \"coverage\": $cov}"
done
json+="], \"neighbours\": ["
{
	echo "| neighbours | native µs | container µs | accounting on µs | corrected µs | corrected − native µs (median) | egress / ingress µs | coverage | flooding neighbour matched egress / ingress (packets) | perturbation on − off µs | ftrace − off µs |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT/latency-neighbours.md"
: >"$OUT/latency-neighbours.dat"
first=1
for n in $NEIGHBOURS; do
	nm=$(col <<<"${R[n$n,native]}" | avg) cm=$(col <<<"${R[n$n,off]}" | avg) am=$(col <<<"${R[n$n,raw]}" | avg)
	corr=$(col <<<"${R[n$n,corr]}" | avg) cov=$(col <<<"${R[n$n,cov]}" | avg) fm=$(col <<<"${R[n$n,ftrace]}" | avg)
	eg=$(col <<<"${R[n$n,eg]}" | avg) in=$(col <<<"${R[n$n,in]}" | avg)
	nmed=$(col <<<"${R[n$n,native_med]}" | avg) cormed=$(col <<<"${R[n$n,corr_med]}" | avg)
	err=$(awk -v a="$corr" -v b="$nm" 'BEGIN {printf "%.2f", a - b}')
	errmed=$(awk -v a="$cormed" -v b="$nmed" 'BEGIN {printf "%.2f", a - b}')
	pon=$(awk -v a="$am" -v b="$cm" 'BEGIN {printf "%.2f", a - b}')
	pft=$(awk -v a="$fm" -v b="$cm" 'BEGIN {printf "%.2f", a - b}')
	read -r fe fi fes fid feu fiu flost <<<"${R[n$n,flood_cov]}"
	echo "| $n | $nm | $cm | $am | $corr | $err ($errmed) | $eg / $in | $cov | $fe / $fi ($fes / $fid) | $pon | $pft |" >>"$OUT/latency-neighbours.md"
	echo "$n $nm $cm $am $corr $err $cov $pon $pft $fe $fi $errmed" >>"$OUT/latency-neighbours.dat"
	[ $first = 1 ] || json+=", "; first=0
	json+="{\"neighbours\": $n, \"native_us\": $nm, \"container_us\": $cm, \"accounted_raw_us\": $am, \"corrected_us\": $corr, \"corrected_minus_native_us\": $err, \"corrected_minus_native_median_us\": $errmed, \"egress_us\": $eg, \"ingress_us\": $in, \"coverage\": $cov, \"flood_egress_matched\": $fe, \"flood_ingress_matched\": $fi, \"flood_egress_packets\": $fes, \"flood_ingress_packets\": $fid, \"flood_records_lost\": $flost, \"perturbation_us\": $pon, \"ftrace_perturbation_us\": $pft}"
done
json+="]}"
echo "$json" | sed "s/: nan/: null/g" | jq . >"$OUT/latency.json"

if command -v gnuplot >/dev/null; then
	gnuplot <<EOF
set terminal svg size 720,420 dynamic font "sans,11"
set grid; set key top left
set output "$OUT/latency-size.svg"
set title "Container overhead by ICMP payload (no neighbours)"
set xlabel "payload (bytes)"; set ylabel "µs (mean RTT difference)"
plot "$OUT/latency-sizes.dat" using 1:4 with linespoints title "container − native", \
     "$OUT/latency-sizes.dat" using 1:7 with linespoints title "corrected container − native"
set output "$OUT/latency-error.svg"
set title "Corrected container RTT against native RTT"
set xlabel "noisy neighbours flood-pinging"; set ylabel "µs"
plot "$OUT/latency-neighbours.dat" using 1:6 with linespoints title "mean error (corrected − native)", \
     "$OUT/latency-neighbours.dat" using 1:12 with linespoints title "median error", \
     "$OUT/latency-neighbours.dat" using 1:(\$3-\$2) with linespoints title "uncorrected container − native", \
     10 with lines dt 2 title "+10 µs", -10 with lines dt 2 title "−10 µs"
set output "$OUT/latency-coverage.svg"
set title "Coverage"; set ylabel "fraction matched"; set yrange [0.9:1.005]
plot "$OUT/latency-neighbours.dat" using 1:7 with linespoints title "pings with both latencies", \
     "$OUT/latency-neighbours.dat" using 1:10 with linespoints title "flooding neighbour, egress", \
     "$OUT/latency-neighbours.dat" using 1:11 with linespoints title "flooding neighbour, ingress"
set output "$OUT/latency-perturbation.svg"
set title "Perturbation of the container's mean RTT"; set ylabel "µs"; set autoscale y
plot "$OUT/latency-neighbours.dat" using 1:8 with linespoints title "accounting on − off", \
     "$OUT/latency-neighbours.dat" using 1:9 with linespoints title "ftrace (same events) − off"
EOF
fi
cat "$OUT/latency-sizes.md"
echo
cat "$OUT/latency-neighbours.md"
