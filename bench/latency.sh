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
#   4. perturbation: mean container RTT (the same ping) with accounting on minus off,
#      against tracing the same tracepoints with ftrace (an ftrace instance with those
#      events on).
# Usage: bench/latency.sh [ROUNDS (default 6)] [PINGS per point and round (default 100)]
# Env: NEIGHBOURS="0 2 4 8 16", SIZES="16 64 256 512 1024 1472", INTERVAL=0.005.
# Means are what MACE reports; medians (in parentheses) resist this shared machine's
# scheduling outliers. Output: markdown tables on stdout; JSON and SVG plots in bench/out/.
. "$(dirname "$0")/lib/common.sh"
ROUNDS=${1:-6} COUNT=${2:-100}
NEIGHBOURS=${NEIGHBOURS:-"0 2 4 8 16"}
SIZES=${SIZES:-"16 64 256 512 1024 1472"}
INTERVAL=${INTERVAL:-0.005}
LAB=l$$ TRACE=/sys/kernel/tracing
INST=$TRACE/instances/petrel-bench-$$
command -v ping >/dev/null || { echo "bench: install iputils-ping (scripts/install-deps.sh)" >&2; exit 1; }

p() { "$PETREL" --lab "$LAB" "$@"; }
FLOODS=()
stop_floods() { for pid in "${FLOODS[@]}"; do kill "$pid" 2>/dev/null || true; done; FLOODS=(); wait 2>/dev/null || true; }
cleanup() {
	set +e
	stop_floods
	[ -d "$INST" ] && { echo 0 >"$INST/tracing_on"; echo >"$INST/set_event"; rmdir "$INST"; }
	[ -n "${S:-}" ] && rm -rf "$S"
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

S=$(mktemp -d)
# Samples (µs, one per line) accumulate per point and variant in $S/POINT.VARIANT.
# ping_ns NS SIZE FILE: user-to-user RTTs (-U, like petrel ping).
ping_ns() {
	ip netns exec "$1" ping -U -n -c "$COUNT" -i "$INTERVAL" -s "$2" "$TARGET" |
		sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | awk '{printf "%.1f\n", $1 * 1000}' >>"$3"
}
# ping_acc SIZE PREFIX: petrel ping; raw, corrected, egress, ingress samples and match counts.
ping_acc() {
	local j
	j=$(p --node node1 -j ping probe "$TARGET" -c "$COUNT" -i "$INTERVAL" -s "$1")
	jq -r '.replies_detail[].raw_us' <<<"$j" >>"$2.raw"
	jq -r '.replies_detail[] | .corrected_us // empty' <<<"$j" >>"$2.corr"
	jq -r '.replies_detail[] | .path_corrected_us // empty' <<<"$j" >>"$2.path"
	jq -r '.replies_detail[] | .egress_us // empty' <<<"$j" >>"$2.eg"
	jq -r '.replies_detail[] | .egress_stack_us // empty' <<<"$j" >>"$2.stack"
	jq -r '.replies_detail[] | .ingress_us // empty' <<<"$j" >>"$2.in"
	jq -r '"\(.replies) \(.matched)"' <<<"$j" >>"$2.cov"
}
# variant K PREFIX: one run of variant K at 56 bytes into PREFIX.VARIANT. The perturbation
# compares the same ping with accounting on (enabled for the whole run) and off.
variant() {
	case $1 in
	0) ping_ns "$NODE_NS" 56 "$2.native" ;;
	1) ping_ns "$PROBE_NS" 56 "$2.off" ;;
	2) p --node node1 latency enable probe >/dev/null
	   ping_ns "$PROBE_NS" 56 "$2.on"
	   p --node node1 latency disable probe >/dev/null ;;
	3) ping_acc 56 "$2" ;;
	4) ftrace on; ping_ns "$PROBE_NS" 56 "$2.ftrace"; ftrace off ;;
	esac
}
floods() {   # start N neighbours flood-pinging the target
	for i in $(seq "$1"); do
		ip netns exec "$LAB-ep-n$i" ping -f -q -s 56 "$TARGET" >/dev/null 2>&1 &
		FLOODS+=($!)
	done
	sleep 0.5
}
# FILE → mean, median, 5%-trimmed mean with two decimals (bench/lib/common.sh's statistics).
fmean() { mean <"$1" | fix2; }
fmedian() { median <"$1" | fix2; }
ftmean() { tmean <"$1" | fix2; }
coverage() { awk '{r += $1; m += $2} END {if (r) printf "%.4f", m / r; else print "nan"}' "$1"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "nan" || b == "nan") print "nan"; else printf "%.2f", a - b}'; }
# The figures both tables share, from the samples at PREFIX.{native,off,raw,corr,path,cov}:
# set as variables for the Markdown rows and as KEY=VALUE pairs in SHARED for the JSON.
shared_stats() {
	local f=$1
	nm=$(fmean "$f.native") cm=$(fmean "$f.off") am=$(fmean "$f.raw") corr=$(fmean "$f.corr")
	nmed=$(fmedian "$f.native") cmed=$(fmedian "$f.off") amed=$(fmedian "$f.raw") cormed=$(fmedian "$f.corr")
	cov=$(coverage "$f.cov")
	perr=$(sub "$(fmean "$f.path")" "$nm") perrmed=$(sub "$(fmedian "$f.path")" "$nmed")
	err=$(sub "$corr" "$nm") errmed=$(sub "$cormed" "$nmed")
	SHARED=(native_us="$nm" native_median_us="$nmed" container_us="$cm" container_median_us="$cmed"
		accounted_raw_us="$am" accounted_raw_median_us="$amed" corrected_us="$corr"
		corrected_median_us="$cormed" corrected_minus_native_us="$err"
		corrected_minus_native_median_us="$errmed" path_corrected_minus_native_us="$perr"
		path_corrected_minus_native_median_us="$perrmed" coverage="$cov")
}

echo "# figure 1: payload size vs container overhead (no neighbours, $ROUNDS rounds x $COUNT pings)" >&2
for r in $(seq "$ROUNDS"); do
	for s in $SIZES; do
		ping_ns "$NODE_NS" "$s" "$S/s$s.native"
		ping_ns "$PROBE_NS" "$s" "$S/s$s.off"
		ping_acc "$s" "$S/s$s"
	done
done

declare -A FC
echo "# figures 2-4: neighbours ($NEIGHBOURS)" >&2
for n in $NEIGHBOURS; do
	floods "$n"
	# The five variants alternate within each round, starting one further each round, so
	# load drift and ordering hit them alike.
	for r in $(seq "$ROUNDS"); do
		for k in 0 1 2 3 4; do
			variant $(((k + r) % 5)) "$S/n$n"
		done
	done
	if [ "$n" -gt 0 ]; then
		# Coverage under load: account a flooding neighbour for a few seconds.
		p --node node1 latency enable n1 >/dev/null
		sleep 3
		FC[$n]=$(p --node node1 -j latency show n1 | jq -r '[(.egress.matched / ([.egress.started, 1] | max)),
			(.ingress.matched / ([.ingress.delivered, 1] | max)), .egress.started, .ingress.delivered,
			.egress.unmatched, .ingress.unmatched, .records_lost] | map(tostring) | join(" ")')
		p --node node1 latency disable n1 >/dev/null
	else
		FC[$n]="nan nan 0 0 0 0 0"
	fi
	stop_floods
done

# ---- report ----
ROWS_SIZES=() ROWS_NEIGHBOURS=() ROWS_TARGETS=()
{
	echo "| payload B | native µs | container µs | overhead µs | accounting on (raw) µs | corrected µs | corrected − native µs | path-corrected − native µs | coverage |"
	echo "|---|---|---|---|---|---|---|---|---|"
} >"$OUT/latency-sizes.md"
: >"$OUT/latency-sizes.dat"
for s in $SIZES; do
	shared_stats "$S/s$s"
	ovh=$(sub "$cm" "$nm") ovhmed=$(sub "$cmed" "$nmed")
	echo "| $s | $nm ($nmed) | $cm ($cmed) | $ovh ($ovhmed) | $am | $corr ($cormed) | $err ($errmed) | $perr ($perrmed) | $cov |" >>"$OUT/latency-sizes.md"
	echo "$s $nm $cm $ovh $am $corr $err $ovhmed $errmed" >>"$OUT/latency-sizes.dat"
	ROWS_SIZES+=("$(json_row size="$s" overhead_us="$ovh" "${SHARED[@]}")")
done
{
	echo "| neighbours | native µs | container µs | accounting on (raw) µs | corrected µs | corrected − native µs | path-corrected − native µs | egress (stack part) / ingress µs | coverage | flooding neighbour matched egress / ingress (packets) | perturbation on − off µs | ftrace − off µs |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT/latency-neighbours.md"
: >"$OUT/latency-neighbours.dat"
for n in $NEIGHBOURS; do
	f=$S/n$n
	shared_stats "$f"
	fm=$(fmean "$f.ftrace") fmed=$(fmedian "$f.ftrace") onm=$(fmean "$f.on") onmed=$(fmedian "$f.on")
	eg=$(fmean "$f.eg") in=$(fmean "$f.in") stk=$(fmean "$f.stack")
	pon=$(sub "$onm" "$cm") ponmed=$(sub "$onmed" "$cmed") pft=$(sub "$fm" "$cm") pftmed=$(sub "$fmed" "$cmed")
	read -r fe fi fes fid feu fiu flost <<<"${FC[$n]}"
	echo "| $n | $nm ($nmed) | $cm ($cmed) | $am ($amed) | $corr ($cormed) | $err ($errmed) | $perr ($perrmed) | $eg ($stk) / $in | $cov | $fe / $fi ($fes / $fid) | $pon ($ponmed) | $pft ($pftmed) |" >>"$OUT/latency-neighbours.md"
	echo "$n $nm $cm $am $corr $err $cov $pon $pft $fe $fi $errmed $ponmed $pftmed $perr $perrmed" >>"$OUT/latency-neighbours.dat"
	ROWS_NEIGHBOURS+=("$(json_row neighbours="$n" "${SHARED[@]}" egress_us="$eg" egress_stack_us="$stk" \
		ingress_us="$in" flood_egress_matched="$fe" flood_ingress_matched="$fi" \
		flood_egress_packets="$fes" flood_ingress_packets="$fid" flood_unmatched_egress="$feu" \
		flood_unmatched_ingress="$fiu" flood_records_lost="$flost" perturbation_us="$pon" \
		perturbation_median_us="$ponmed" ftrace_perturbation_us="$pft" \
		ftrace_perturbation_median_us="$pftmed")")
done
{
	echo "| neighbours | corrected − native µs: mean / 5%-trimmed / median | path-corrected − native µs: mean / trimmed / median | perturbation µs: mean / trimmed / median | ftrace µs: mean / trimmed / median |"
	echo "|---|---|---|---|---|"
} >"$OUT/latency-targets.md"
for n in $NEIGHBOURS; do
	f=$S/n$n
	line="| $n |"
	for pair in "corr native" "path native" "on off" "ftrace off"; do
		read -r a b <<<"$pair"
		line+=" $(sub "$(fmean "$f.$a")" "$(fmean "$f.$b")") / $(sub "$(ftmean "$f.$a")" "$(ftmean "$f.$b")") / $(sub "$(fmedian "$f.$a")" "$(fmedian "$f.$b")") |"
	done
	echo "$line" >>"$OUT/latency-targets.md"
	ROWS_TARGETS+=("$(json_row \
		neighbours="$n" \
		corrected_minus_native_trimmed_us="$(sub "$(ftmean "$f.corr")" "$(ftmean "$f.native")")" \
		path_corrected_minus_native_trimmed_us="$(sub "$(ftmean "$f.path")" "$(ftmean "$f.native")")" \
		perturbation_trimmed_us="$(sub "$(ftmean "$f.on")" "$(ftmean "$f.off")")" \
		ftrace_perturbation_trimmed_us="$(sub "$(ftmean "$f.ftrace")" "$(ftmean "$f.off")")")")
done
jq -n --argjson run "$(json_row rounds="$ROUNDS" pings="$COUNT" interval_s="$INTERVAL")" \
	--argjson sizes "$(printf '%s\n' "${ROWS_SIZES[@]}" | jq -s .)" \
	--argjson neighbours "$(printf '%s\n' "${ROWS_NEIGHBOURS[@]}" | jq -s .)" \
	--argjson targets "$(printf '%s\n' "${ROWS_TARGETS[@]}" | jq -s .)" \
	'$run + {sizes: $sizes, neighbours: $neighbours, targets: $targets}' >"$OUT/latency.json"
rm -rf "$S"

if command -v gnuplot >/dev/null; then
	gnuplot <<EOF
set terminal svg size 720,420 dynamic font "sans,11"
set grid; set key top left
set output "$OUT/latency-size.svg"
set title "Container overhead by ICMP payload (no neighbours)"
set xlabel "payload (bytes)"; set ylabel "µs (mean RTT difference)"
plot "$OUT/latency-sizes.dat" using 1:4 with linespoints title "container − native (mean)", \
     "$OUT/latency-sizes.dat" using 1:8 with linespoints title "container − native (median)", \
     "$OUT/latency-sizes.dat" using 1:7 with linespoints title "corrected − native (mean)", \
     "$OUT/latency-sizes.dat" using 1:9 with linespoints title "corrected − native (median)"
set output "$OUT/latency-error.svg"
set title "Corrected container RTT against native RTT"
set xlabel "noisy neighbours flood-pinging"; set ylabel "µs"
plot "$OUT/latency-neighbours.dat" using 1:6 with linespoints title "mean error (corrected − native)", \
     "$OUT/latency-neighbours.dat" using 1:12 with linespoints title "median error", \
     "$OUT/latency-neighbours.dat" using 1:15 with linespoints title "path-corrected − native (mean)", \
     "$OUT/latency-neighbours.dat" using 1:(\$3-\$2) with linespoints title "uncorrected container − native", \
     10 with lines dt 2 title "+10 µs", -10 with lines dt 2 title "−10 µs"
set output "$OUT/latency-coverage.svg"
set title "Coverage"; set ylabel "fraction matched"; set yrange [0.9:1.005]
plot "$OUT/latency-neighbours.dat" using 1:7 with linespoints title "pings with both latencies", \
     "$OUT/latency-neighbours.dat" using 1:10 with linespoints title "flooding neighbour, egress", \
     "$OUT/latency-neighbours.dat" using 1:11 with linespoints title "flooding neighbour, ingress"
set output "$OUT/latency-perturbation.svg"
set title "Perturbation of the container's mean RTT"; set ylabel "µs"; set autoscale y
plot "$OUT/latency-neighbours.dat" using 1:8 with linespoints title "accounting on − off (mean)", \
     "$OUT/latency-neighbours.dat" using 1:13 with linespoints title "accounting on − off (median)", \
     "$OUT/latency-neighbours.dat" using 1:9 with linespoints title "ftrace (same events) − off (mean)", \
     "$OUT/latency-neighbours.dat" using 1:14 with linespoints title "ftrace − off (median)"
EOF
fi
cat "$OUT/latency-sizes.md"
echo
cat "$OUT/latency-neighbours.md"
echo
cat "$OUT/latency-targets.md"
