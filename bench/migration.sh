#!/usr/bin/env bash
# Live-migration benchmark on a 3-node lab (native routing), two parts:
#
# 1. Streams through a published port, after the student system's experiment: an iperf3
#    TCP stream (outside -> container) and a UDP stream of 64-byte datagrams at unlimited
#    rate (container -> outside, iperf3 -R, so the client reports loss and jitter), both
#    through ports published on node1, with the container migrated at 1/4 and 1/2 of the
#    run. Throughput, RTT, loss and jitter over time go to bench/out/migration-streams.svg.
# 2. frozen_ms, total_ms and the stall a client sees, over N migrations (default 20) back
#    and forth, for an idle echo server and for containers holding 64 MiB and 512 MiB.
#    Medians and 95th percentiles go to bench/out/migration.md, with each migration's
#    floor: what CRIU itself spent dumping (from the end of its pre-dump hook, the freeze,
#    to its post-dump hook) and restoring this container, by its own logs' timestamps, so
#    frozen_ms / floor is the figure that carries from one machine to another, and the
#    milliseconds petrel adds outside CRIU, by phase. The memory's rate through the dump
#    and transfer (MiB/s) is set against this machine's own memcpy and zstd rates for the
#    same pages, measured in the same run (bench/tools/memrate.c). For context beside them:
#    CRIU alone dumping a memhog of that size into a tmpfs, the ceiling of a streamed dump
#    with no CRIU, TLS or TCP in it, and memcpy into freshly mapped memory.
# 3. With the workload "podman": the same echo server three ways, side by side, N
#    migrations each: a Podman container on the petrel network moved by `petrel migrate`;
#    Podman's own manual path (checkpoint --export, copy, restore --import on the other
#    node); and a `petrel run` container moved by `petrel migrate`. Client stall and total
#    time, medians and p95, and each row's floor: what CRIU itself spent dumping and
#    restoring, by its logs (Podman's kept with --keep on its manual path; Podman's
#    checkpoint and restore are the same whoever drives them), with stall / floor.
#
# Each workload runs in three modes, taking turns migration by migration on one container:
# "late", the default mode as it was before the early restore (the destination starts
# runc restore once the images have arrived: the baseline, in the same run); "default";
# and "lazy" (post-copy). "lazy-late" is lazy as it was before the early restore and the
# freeze at CRIU's hook (the source freezes before runc starts), its baseline; "cold" is
# the default mode without the destination's cgroup warm-up (agent/migrate/cgroup_warm.c),
# its baseline. Neither runs unless named with -m. A mode the agent refuses is reported
# with its reason.
# The lab sizes the host's conntrack hash to CT_BUCKETS (default 16384; 0 leaves it alone):
# CRIU walks every bucket twice inside each freeze. The old size is put back at the end.
# The median of each phase of the freeze (phases_ms) is logged per row.
# Usage: bench/migration.sh [-n MIGRATIONS] [-t STREAM_SECONDS] [-w "echo mem64 mem512 podman"]
#                           [-m "late default lazy lazy-late cold"] [-S]
#   -w  the part-2 workloads to run; -m  their modes; -S  skip part 1 (the streams)
. "$(dirname "$0")/lib/common.sh"
N=20 T=20 WORKLOADS="echo mem64 mem512 podman" STREAMS=1 MODES="late default lazy"
while getopts n:t:w:m:Sh o; do
	case $o in
	n) N=$OPTARG ;;
	t) T=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	m) MODES=$OPTARG ;;
	S) STREAMS=0 ;;
	*) sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
LAB=bmig$$
TMP=$(mktemp -d /tmp/petrel-bench-XXXXXX)
p() { "$PETREL" --lab "$LAB" "$@"; }
CT_BUCKETS=${CT_BUCKETS:-16384}
CT_WAS=$(sysctl -n net.netfilter.nf_conntrack_buckets)
cleanup() {
	for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
	# Podman's containers first: a run stopped mid-way left their netns in /run/netns
	if [[ " $WORKLOADS " == *" podman "* ]] && command -v podman >/dev/null; then
		for n in node1 node2; do p lab exec "$n" -- podman rm -a -f -t 0 >/dev/null 2>&1 || true; done
	fi
	p lab down --name "$LAB" >/dev/null 2>&1 || true
	sysctl -qw net.netfilter.nf_conntrack_buckets="$CT_WAS" || true
	umount "$TMP/rate" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
[ -x "$PETREL" ] && [ -x build/tools/memhog ] || { echo "bench: build first (make all)" >&2; exit 1; }

ROOTFS=build/bench-rootfs
[ -x "$ROOTFS/usr/bin/iperf3" ] && [ -x "$ROOTFS/usr/bin/memhog" ] ||
	scripts/mkrootfs.sh "$ROOTFS" socat iperf3 build/tools/udp_echo build/tools/memhog >/dev/null
CT_OPT=(); [ "$CT_BUCKETS" = 0 ] || CT_OPT=(--conntrack-buckets "$CT_BUCKETS")
p lab up --name "$LAB" --nodes 3 --mode native "${CT_OPT[@]}" >/dev/null 2>&1
N1=$(p -j lab status | jq -r '.nodes[] | select(.name=="node1") | .ipv4')
NODE_STATES=$(p -j lab status | jq -r '.nodes[].socket | sub("/[^/]*$"; "/state")')

# ---- part 1: streams through node1's published ports, migrations at T/4 and T/2
if [ "$STREAMS" = 1 ]; then
p --node node1 run iperf --rootfs "$ROOTFS" --publish 5201:5201/tcp --publish 5202:5202/tcp \
	--publish 5202:5202/udp -- sh -c 'iperf3 -s -p 5201 & exec iperf3 -s -p 5202' >/dev/null
sleep 1
log "streams: ${T}s TCP and UDP through $N1, migrations at $((T / 4))s and $((T / 2))s"
ip netns exec "$LAB-outside" iperf3 -c "$N1" -p 5201 -t "$T" -i 0.5 -J >"$TMP/tcp.json" 2>&1 &
tcp_pid=$!
ip netns exec "$LAB-outside" iperf3 -c "$N1" -p 5202 -u -b 0 -l 64 -R -t "$T" -i 0.5 -J \
	>"$TMP/udp.json" 2>&1 &
udp_pid=$!
t0=$(date +%s.%N)
sleep $((T / 4))
m1=$(echo "$(date +%s.%N) - $t0" | bc)
p -j migrate iperf --to node2 >"$TMP/m1.json" 2>/dev/null || log "first migration failed"
sleep $((T / 2 - T / 4 - 1))
m2=$(echo "$(date +%s.%N) - $t0" | bc)
p -j migrate iperf --to node1 >"$TMP/m2.json" 2>/dev/null || log "second migration failed"
wait $tcp_pid || log "iperf3 TCP client failed: $(tail -c 300 "$TMP/tcp.json")"
wait $udp_pid || log "iperf3 UDP client failed: $(tail -c 300 "$TMP/udp.json")"
jq -r '.intervals[] | .sum.end as $t | .streams[0] | [$t, .bits_per_second / 1e6, .rtt / 1000] | @tsv' \
	"$TMP/tcp.json" >"$TMP/tcp.tsv" 2>/dev/null || : >"$TMP/tcp.tsv"
jq -r '.intervals[] | .sum | [.end, .lost_percent, .jitter_ms, .bits_per_second / 1e6] | @tsv' \
	"$TMP/udp.json" >"$TMP/udp.tsv" 2>/dev/null || : >"$TMP/udp.tsv"
tcp_err=$(jq -r '.error // empty' "$TMP/tcp.json" 2>/dev/null || echo "unreadable output")
udp_err=$(jq -r '.error // empty' "$TMP/udp.json" 2>/dev/null || echo "unreadable output")
gnuplot <<EOF
set terminal svg size 900,900 background rgb 'white'
set output '$OUT/migration-streams.svg'
set multiplot layout 4,1 title "Streams through a published port; migrations at ${m1%.*} s and ${m2%.*} s"
set xrange [0:$T]
set arrow 1 from $m1, graph 0 to $m1, graph 1 nohead dt 2
set arrow 2 from $m2, graph 0 to $m2, graph 1 nohead dt 2
set ylabel 'TCP Mbit/s'
plot '$TMP/tcp.tsv' using 1:2 with steps lw 2 notitle
set ylabel 'TCP RTT ms'
plot '$TMP/tcp.tsv' using 1:3 with steps lw 2 notitle
set ylabel 'UDP loss %'
plot '$TMP/udp.tsv' using 1:2 with steps lw 2 notitle
set ylabel 'UDP jitter ms'
set xlabel 'seconds'
plot '$TMP/udp.tsv' using 1:3 with steps lw 2 notitle
unset multiplot
EOF
p --node node1 rm iperf --force >/dev/null 2>&1 || true
fi

# ---- part 2: frozen_ms / total_ms / client stall over N migrations
declare -A CMD=(
	[echo]="socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE"
	[mem64]="sh -c 'socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE & exec memhog 64'"
	[mem512]="sh -c 'socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE & exec memhog 512'"
)
# This machine's memcpy and zstd rates for the largest workload's pages, in this run.
RATE_MIB=$(for w in $WORKLOADS; do case $w in mem*) echo "${w#mem}" ;; esac; done | sort -n | tail -1)
RATE_MIB=${RATE_MIB:-64}
# criu_ms LOG WORDS: CRIU's own time by its log, to the line with WORDS
criu_ms() { awk -F'[()]' -v w="$2" 'index($0, w) { printf "%d\n", $2 * 1000; exit }' "$1" 2>/dev/null; }
# Both on a tmpfs of their own, as the destination's images are.
mkdir -p "$TMP/rate" && mount -t tmpfs -o size=$((2 * RATE_MIB + 64))m petrel-bench "$TMP/rate"
# CRIU alone: its dump of a lone memhog of the same size into that tmpfs, no page server,
# network or petrel (--leave-running); by its own log, median of 5 after one untimed.
criu_alone_ms() {
	local pid i d ms=()
	setsid build/tools/memhog "$RATE_MIB" >"$TMP/rate.out" 2>&1 </dev/null &
	pid=$!
	for i in $(seq 100); do grep -q tick "$TMP/rate.out" && break; sleep 0.1; done
	for i in 0 1 2 3 4 5; do   # the first untimed, as memrate's first passes are
		d=$TMP/rate/criu; rm -rf "$d"; mkdir "$d"
		criu dump -t "$pid" -D "$d" --leave-running -o dump.log -v4 >/dev/null 2>&1 &&
			[ "$i" -gt 0 ] && ms+=("$(criu_ms "$d/dump.log" "Dumping finished successfully")")
	done
	kill "$pid"; wait "$pid" 2>/dev/null || true
	# its pages image stays, for memrate's check of zstd on the pages CRIU wrote
	mv "$d/pages-1.img" "$TMP/rate/criu-pages.img" 2>/dev/null || true
	rm -rf "$TMP/rate/criu"
	echo "${ms[*]}" | median
}
CRIU_ALONE_MS=$(criu_alone_ms)
MEMRATE=$("$BUILD/bench/memrate" "$RATE_MIB" 5 "$TMP/rate" "$TMP/rate/criu-pages.img")
log "this machine: $MEMRATE"
umount "$TMP/rate"
log "CRIU alone, ${RATE_MIB} MiB into a tmpfs: ${CRIU_ALONE_MS} ms"
p --node node3 endpoint add probe >/dev/null
PROBE_NS=$(p --node node1 -j endpoint show probe | jq -r .netns)
stats() { echo "$(median <"$1") $(percentile 95 <"$1")"; }   # FILE -> "median p95"
{
	echo "| workload | mode | migrations | frozen_ms median | frozen_ms p95 | floor_ms median (CRIU dump + restore) | frozen_ms / floor, median | memory MiB/s through dump + transfer, median | total_ms median | total_ms p95 | client stall ms median | p95 | sessions broken |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$TMP/table.md"
{
	echo "| workload | mode | hold | pause | dump outside CRIU | transfer | restore outside CRIU (runc, commit) | release | CRIU dump | CRIU restore |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$TMP/outside.md"
# One migration of workload W in MODE, from AT to TO, a client session across it; its
# figures go to $TMP/W.MODE.*. Returns non-zero with REFUSED set when the agent refused.
migrate_once() {
	local w=$1 mode=$2 at=$3 to=$4 ip=$5 f=$TMP/$1.$2 flag r n
	flag=$([[ $mode == lazy* ]] && echo --lazy || true)
	# "late": the default mode as it was before the early restore (each destination
	# starts runc restore only once the images have arrived), for the ratio before/after
	for n in $NODE_STATES; do
		if [[ $mode == *late ]]; then touch "$n/no-early-restore"; else rm -f "$n/no-early-restore"; fi
		if [ "$mode" = lazy-late ]; then touch "$n/no-criu-hook"; else rm -f "$n/no-criu-hook"; fi
		if [ "$mode" = cold ]; then touch "$n/no-cgroup-warm"; else rm -f "$n/no-cgroup-warm"; fi
	done
	rm -f "$TMP/stop" "$TMP/ready"
	ip netns exec "$PROBE_NS" python3 tools/echo_probe.py "$ip" 7000 --interval 0.01 \
		--duration 120 --ready "$TMP/ready" --stop "$TMP/stop" >"$TMP/probe.json" &
	for _ in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
	sleep 0.3
	REFUSED=""
	if r=$(p -j migrate "$w" --to "$to" $flag 2>"$TMP/err"); then
		echo "$r" | jq -r .frozen_ms >>"$f.frozen"
		echo "$r" | jq -r .total_ms >>"$f.total"
		echo "$r" | jq -c '.phases_ms + {criu_dump: .criu_dump_ms, criu_restore: .criu_restore_ms,
			frozen: .frozen_ms}' >>"$f.reports"
		echo "$r" | jq -r '.floor_ms // empty' >>"$f.floor"
		echo "$r" | jq -r '.frozen_over_floor // empty' >>"$f.ratio"
		echo "$r" | jq -r 'if (.phases_ms.dump + .phases_ms.transfer) > 0 then
			.bytes / 1048576 / ((.phases_ms.dump + .phases_ms.transfer) / 1000) else empty end' >>"$f.rate"
		echo 1 >>"$f.done"
	else
		REFUSED=$(grep -m1 '^petrel:' "$TMP/err" | sed 's/^petrel: //; s/|/\//g')
		log "$w $mode migration failed: $REFUSED"
	fi
	sleep 0.5
	touch "$TMP/stop"; wait $! || true
	jq -e '.error == null and .mismatches == 0' "$TMP/probe.json" >/dev/null || echo 1 >>"$f.broken"
	jq -r .max_stall_ms "$TMP/probe.json" >>"$f.stall"
	[ -z "$REFUSED" ]
}

# W MODE: its row in the table and in the phase table, and the medians and the slowest
# freeze's phases in the log.
report_row() {
	local w=$1 mode=$2 f=$TMP/$1.$2 fm fp tm tp sm sp flm rm_ rate done_n broken
	touch "$f.frozen" "$f.total" "$f.stall" "$f.reports" "$f.floor" "$f.ratio" "$f.rate" \
		"$f.done" "$f.broken"
	done_n=$(wc -l <"$f.done") broken=$(wc -l <"$f.broken")
	if [ -e "$f.refused" ]; then
		echo "| $w | $mode | 0/$N | refused: $(cat "$f.refused") | | | | | | | | | |" >>"$TMP/table.md"
		return
	fi
	read -r fm fp < <(stats "$f.frozen")
	read -r tm tp < <(stats "$f.total")
	read -r sm sp < <(stats "$f.stall")
	flm=$(median <"$f.floor") rm_=$(median <"$f.ratio" | fix2) rate=$(median <"$f.rate" | awk '{printf "%.0f", $1}')
	# Lazy mode moves the memory after the freeze: no floor and no rate through it.
	[[ $mode == lazy* ]] && flm="- (no floor: lazy)" rm_=- rate=-
	echo "| $w | $mode | $done_n/$N | $fm | $fp | $flm | $rm_ | $rate | $tm | $tp | $sm | $sp | $broken |" >>"$TMP/table.md"
	log "$w $mode: frozen $fm/$fp floor $flm ratio $rm_ total $tm/$tp stall $sm/$sp broken $broken"
	# What petrel adds outside CRIU, by phase (medians, ms); lazy dumps have no floor.
	[[ $mode != lazy* ]] && [ -s "$f.reports" ] && jq -rs --arg w "$w" --arg m "$mode" '
		def med(f): [.[] | f] | sort | .[length / 2 | floor];
		"| \($w) | \($m) | \(med(.hold)) | \(med(.pause)) | \(med(.dump - .criu_dump)) | \(med(.transfer)) | \(med(.restore - .criu_restore)) | \(med(.release)) | \(med(.criu_dump)) | \(med(.criu_restore)) |"' \
		"$f.reports" >>"$TMP/outside.md"
	log "$w $mode: median phases_ms $(jq -rs 'if length == 0 then "-" else
		. as $r | [.[0] | keys_unsorted[] | . as $k | "\($k) \([$r[][$k]] | sort | .[length / 2 | floor])"] | join(", ") end' "$f.reports")"
	# The tail's cause: the phases of the slowest freeze, beside the medians above.
	log "$w $mode: slowest phases_ms $(jq -rs 'if length == 0 then "-" else
		max_by(.frozen) | to_entries | map("\(.key) \(.value)") | join(", ") end' "$f.reports")"
}

# The modes take turns, one migration each, on the same container: a machine whose speed
# drifts during the run (a shared hypervisor's does) moves every mode's figures alike.
for w in $WORKLOADS; do
	[ "$w" = podman ] && continue
	eval "p --node node1 run $w --rootfs $ROOTFS -- ${CMD[$w]}" >/dev/null
	ip=$(p --node node1 -j ps | jq -r ".[] | select(.name==\"$w\") | .ipv4")
	sleep $([ $w = mem512 ] && echo 4 || echo 1)
	at=node1
	for i in $(seq "$N"); do
		for mode in $MODES; do
			[ -e "$TMP/$w.$mode.refused" ] && continue
			to=$([ $at = node1 ] && echo node2 || echo node1)
			if migrate_once "$w" "$mode" "$at" "$to" "$ip"; then
				at=$to
			elif [ "$i" = 1 ] && [ -n "$REFUSED" ]; then
				echo "$REFUSED" >"$TMP/$w.$mode.refused"     # refused outright: not retried
			fi
		done
	done
	for mode in $MODES; do report_row "$w" "$mode"; done
	p --node "$at" rm "$w" --force >/dev/null 2>&1 || true
done

# ---- part 3: the same echo server as a Podman container (petrel migrate), through
# Podman's own manual path, and as a petrel run container (petrel migrate)
: >"$TMP/podman.md"
if [[ " $WORKLOADS " == *" podman "* ]] && command -v podman >/dev/null; then
	pod() { local n=$1; shift; p lab exec "$n" -- podman "$@"; }
	LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
	tar -C "$ROOTFS" -cf "$TMP/rootfs.tar" .
	for n in node1 node2; do pod "$n" import "$TMP/rootfs.tar" localhost/bench-echo:1 >/dev/null 2>&1; done
	# row WHO NAME TITLE: N migrations of the echo server, a client session across each
	row() {
		local who=$1 name=$2 at=node1 to ip broken=0 done_n=0 t0 r dir d rs
		: >"$TMP/total"; : >"$TMP/stall"; : >"$TMP/floor"
		for i in $(seq "$N"); do
			to=$([ $at = node1 ] && echo node2 || echo node1)
			ip=$(p --node node1 -j endpoint list | jq -r --arg n "$name" \
				'.[] | select(.name == $n or .labels["io.kubernetes.pod.name"] == $n) | .ipv4')
			rm -f "$TMP/stop" "$TMP/ready"
			ip netns exec "$PROBE_NS" python3 tools/echo_probe.py "$ip" 7000 --interval 0.01 \
				--duration 120 --ready "$TMP/ready" --stop "$TMP/stop" >"$TMP/probe.json" &
			for _ in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
			sleep 0.3
			t0=$(date +%s%N)
			if [ "$who" = manual ]; then
				# Podman's path: export on one node, copy, import on the other.
				# --keep: CRIU's logs stay for the floor (read after the clock stops).
				pod "$at" container checkpoint --keep --tcp-established --export "$TMP/ckpt.tar" \
					--compress zstd "$name" >/dev/null 2>&1 &&
				cp "$TMP/ckpt.tar" "$TMP/ckpt-copy.tar" &&
				pod "$to" container restore --keep --tcp-established --import "$TMP/ckpt-copy.tar" >/dev/null 2>&1 &&
				ok=1 || ok=0
				r=$(( ($(date +%s%N) - t0) / 1000000 ))
				dir=$(pod "$at" inspect "$name" --format '{{.StaticDir}}' 2>/dev/null)
				d=$(criu_ms "$dir/dump.log" "Dumping finished successfully")
				dir=$(pod "$to" inspect "$name" --format '{{.StaticDir}}' 2>/dev/null)
				rs=$(criu_ms "$dir/restore.log" "Restore finished successfully")
				[ -n "$d" ] && [ -n "$rs" ] && echo $((d + rs)) >>"$TMP/floor"
				pod "$at" rm -f "$name" >/dev/null 2>&1
			else
				r=$(p -j migrate "$name" --to "$to" 2>/dev/null) && ok=1 || ok=0
				echo "$r" | jq -r '.floor_ms // empty' >>"$TMP/floor"
				r=$(echo "$r" | jq -r .total_ms)
			fi
			[ "$ok" = 1 ] && { echo "$r" >>"$TMP/total"; at=$to; done_n=$((done_n + 1)); }
			sleep 0.5
			touch "$TMP/stop"; wait $! || true
			if jq -e '.error == null and .mismatches == 0' "$TMP/probe.json" >/dev/null; then
				jq -r .max_stall_ms "$TMP/probe.json" >>"$TMP/stall"
			else
				broken=$((broken + 1))
			fi
			rm -f "$TMP/ckpt.tar" "$TMP/ckpt-copy.tar"
		done
		read -r tm tp < <(stats "$TMP/total")
		read -r sm sp < <(stats "$TMP/stall")
		flm=$(median <"$TMP/floor"); [ "$flm" = nan ] && flm=""
		ratio=""       # a row with no floor (Podman's own, read from its logs) has none
		[ -n "$flm" ] && [ -n "$sm" ] && ratio=$(awk -v s="$sm" -v f="$flm" 'BEGIN { printf "%.2f", s / f }')
		echo "| $3 | $done_n/$N | ${sm:--} | ${sp:--} | ${flm:--} | ${ratio:--} | $tm | $tp | $broken |" >>"$TMP/podman.md"
		log "podman part, $3: total $tm/$tp stall $sm/$sp floor ${flm:--} ratio ${ratio:--} broken $broken"
		LAST_AT=$at
	}
	{
		echo "| echo server | migrations | client stall ms median | p95 | floor_ms median (CRIU dump + restore) | stall / floor | total_ms median | p95 | sessions broken |"
		echo "|---|---|---|---|---|---|---|---|---|"
	} >>"$TMP/podman.md"
	pod node1 run -d --name pecho --network petrel "${LIMITS[@]}" localhost/bench-echo:1 \
		socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE >/dev/null
	sleep 1
	row petrel pecho "Podman container, \`petrel migrate\`"
	pod "$LAST_AT" rm -f -t 0 pecho >/dev/null 2>&1
	pod node1 run -d --name pecho --network petrel "${LIMITS[@]}" localhost/bench-echo:1 \
		socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE >/dev/null
	sleep 1
	row manual pecho "Podman container, Podman's manual path (checkpoint --export, copy, restore --import)"
	pod "$LAST_AT" rm -f -t 0 pecho >/dev/null 2>&1
	p --node node1 run pecho --rootfs "$ROOTFS" -- socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE >/dev/null
	sleep 1
	row petrel pecho "\`petrel run\` container, \`petrel migrate\`"
	p --node "$LAST_AT" rm pecho --force >/dev/null 2>&1 || true
fi

{
	echo "## Live migration benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, kernel $(uname -r))"
	echo
	if [ "$STREAMS" = 1 ]; then
	echo "Streams through node1's published ports (bench/out/migration-streams.svg):"
	echo "first migration $(jq -c '{frozen_ms, total_ms, relayed_flows}' "$TMP/m1.json" 2>/dev/null),"
	echo "second $(jq -c '{frozen_ms, total_ms, relayed_flows}' "$TMP/m2.json" 2>/dev/null);"
	echo "TCP stream ${tcp_err:+broke: $tcp_err}${tcp_err:-kept going}, UDP stream ${udp_err:+broke: $udp_err}${udp_err:-kept going};"
	echo "UDP loss over the whole run $(jq -r '.end.sum.lost_percent // "?"' "$TMP/udp.json" 2>/dev/null)%."
	else
	echo "Streams: not run (-S)."
	fi
	echo
	echo "This machine's own rates for ${RATE_MIB} MiB of such pages (bench/tools/memrate, medians of 5): memcpy $(jq -r .memcpy_mib_s <<<"$MEMRATE") MiB/s, zstd level 1 in 128 KiB flushed chunks, a frame per pass, $(jq -r .zstd_mib_s <<<"$MEMRATE") MiB/s (over the pages image of CRIU's own dump of a memhog, as a check: $(jq -r .zstd_criu_pages_mib_s <<<"$MEMRATE") MiB/s); the migration's target is at least half of the lower: $(jq -r '[.memcpy_mib_s, .zstd_mib_s] | min / 2 | floor' <<<"$MEMRATE") MiB/s. For context: CRIU alone, dumping a lone memhog of that size into a local tmpfs with no page server, network or petrel, by its log: ${CRIU_ALONE_MS} ms, $(awk -v m="$RATE_MIB" -v t="$CRIU_ALONE_MS" 'BEGIN { if (t > 0) printf "%.0f", m * 1000 / t; else print "?" }') MiB/s; the ceiling of a streamed dump here with no CRIU, TLS or TCP (one thread reading another process's pages and compressing them, a second decompressing them into a tmpfs file): $(jq -r .stream_ceiling_mib_s <<<"$MEMRATE") MiB/s; memcpy into freshly mapped memory, first touching every page as a restore does: $(jq -r .memcpy_fresh_mib_s <<<"$MEMRATE") MiB/s."
	echo
	cat "$TMP/table.md"
	echo
	echo "Where the freeze goes, default mode (medians, ms): petrel's own work by phase, and CRIU's."
	echo
	cat "$TMP/outside.md"
	if [ -s "$TMP/podman.md" ]; then
		echo
		echo "The same echo server as a Podman container and as a petrel container ($N migrations each, node1 <-> node2, a client session across each). Podman's manual path keeps the address (petrel-cni grants the addresses its restore asks for) but nothing holds the client's packets meanwhile, and the restored network takes traffic before CRIU has restored the sockets: a packet then meets no socket and the session resets."
		echo
		cat "$TMP/podman.md"
	fi
} | tee "$OUT/migration.md"
