#!/usr/bin/env bash
# Control-plane scale benchmark: a 2-node lab whose etcd also holds simulated nodes and
# endpoints, written in petrel's own record format (docs/design.md) by
# bench/tools/scale_load.c. For each size it measures, on node2's agent:
#   - agent CPU per single endpoint update, and the time from an etcd write to node2's
#     datapath (its pinned location map), p50 and p99, over PROBES one-at-a-time writes;
#   - etcd range requests per event (etcd's own gRPC counters, both agents);
#   - the time to absorb a burst of 10000 new endpoints (and their removal);
#   - the agent's RSS.
# Then, at the largest size, etcd is stopped (SIGSTOP): how long `node status` and
# `endpoint list --on node2` take, and how long an endpoint add takes to fail.
# CPU per event is also given as the ratio to the smallest size's.
# With BASELINE=REV the same runs with the petreld of commit REV (built in a worktree of
# its own) for comparison; it stops at the first size it cannot absorb within a minute.
# Usage: [SIZES="1000:100 10000:1000 100000:1000"] [PROBES=1000] [BASELINE=REV
#        [BASELINE_SIZES="200:100 ..."] [BASELINE_PROBES=100]] bench/scale.sh
. "$(dirname "$0")/lib/common.sh"
read -r -a SIZES <<< "${SIZES:-1000:100 10000:1000 100000:1000}"
# The code before the cache could not absorb 1000 endpoints in a minute: it starts smaller.
read -r -a BASELINE_SIZES <<< "${BASELINE_SIZES:-200:100 ${SIZES[*]}}"
PROBES=${PROBES:-1000} BURST=${BURST:-10000}
# The baseline's events cost up to seconds each: fewer of them.
BASELINE_PROBES=${BASELINE_PROBES:-100}
LOAD=$BUILD/bench/scale_load
ETCD=http://198.18.0.1:2379
[ -x "$LOAD" ] || { echo "bench: build first (make)" >&2; exit 1; }
LABS=() WORKTREE=""
cleanup() {
	for l in "${LABS[@]}"; do "$PETREL" lab down --name "$l" >/dev/null 2>&1 || true; done
	[ -z "$WORKTREE" ] || git worktree remove --force "$WORKTREE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# etcd's count of range requests it has served (every agent's reads).
etcd_ranges() {
	"$PETREL" lab exec --name "$1" fabric -- curl -s "$ETCD/metrics" |
		awk '/^grpc_server_started_total\{.*grpc_method="Range"/ { s += $2 } END { print s + 0 }'
}

# One code version (label, petreld, sizes...) over its sizes: JSON rows into
# $OUT/scale-LABEL.jsonl.
run_version() {
	local label=$1 petreld=$2 probes=$3 lab="sc$$${1:0:1}" rows=$OUT/scale-$1.jsonl pid pin
	shift 3
	: > "$rows"
	LABS+=("$lab")
	# Plain etcd for both versions: the baseline predates etcd TLS, and the two must pay
	# for the same store.
	PETRELD=$petreld "$PETREL" lab up --name "$lab" --nodes 2 --mode vxlan --insecure-etcd >/dev/null
	pid=$("$PETREL" -j lab status --name "$lab" | jq '.nodes[1].pid')
	pin=/sys/fs/bpf/petrel/$lab/node2
	for size in "$@"; do
		local eps=${size%%:*} nodes=${size##*:} t0 fill_s r0 probe burst unburst rss ranges
		echo "== $label: $eps endpoints over $nodes nodes" >&2
		t0=$(date +%s.%N)
		"$LOAD" fill "$lab-fabric" "$ETCD" "$nodes" "$eps"
		if ! "$LOAD" settle "$lab-fabric" "$ETCD" "$pin" "$eps" 60 >/dev/null; then
			echo "   $label did not absorb $eps endpoints within 60 s; stopping here" >&2
			jq -nc --arg v "$label" --argjson e "$eps" --argjson n "$nodes" \
				'{version: $v, endpoints: $e, nodes: $n, absorbed: false}' >> "$rows"
			break
		fi
		fill_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
		r0=$(etcd_ranges "$lab")
		probe=$("$LOAD" probe "$lab-fabric" "$ETCD" "$pin" "$probes" "$pid")
		ranges=$(( $(etcd_ranges "$lab") - r0 ))
		burst=$("$LOAD" burst "$lab-fabric" "$ETCD" "$pin" "$BURST" "$pid" || true)
		unburst=$("$LOAD" unburst "$lab-fabric" "$ETCD" "$pin" "$BURST" "$pid" || true)
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
		jq -nc --arg v "$label" --argjson e "$eps" --argjson n "$nodes" --argjson fill "$fill_s" \
			--argjson probe "$probe" --argjson burst "${burst:-null}" \
			--argjson unburst "${unburst:-null}" --argjson rss "$rss" \
			--argjson ranges "$ranges" --argjson probes "$probes" \
			'{version: $v, endpoints: $e, nodes: $n, absorbed: true, fill_s: $fill,
			  cpu_ms_per_event: $probe.agent_cpu_ms_per_event, p50_ms: $probe.p50_ms,
			  p99_ms: $probe.p99_ms, lost: $probe.lost,
			  etcd_ranges_per_event: ($ranges / $probes),
			  burst_write_s: $burst.write_s, burst_absorb_s: $burst.absorb_s,
			  burst_missing: $burst.missing,
			  unburst_absorb_s: $unburst.absorb_s, rss_mib: ($rss / 1024)}' | tee -a "$rows" >&2
	done
	[ "$label" = petrel ] && etcd_stopped "$lab" >> "$rows"
	"$PETREL" lab down --name "$lab" >/dev/null 2>&1 || true
}

# The API with etcd frozen: reads from the cache, a write that fails in bounded time.
etcd_stopped() {
	local lab=$1 epid t0 status_ms list_ms add_ms add_out
	epid=$("$PETREL" -j lab status --name "$lab" | jq '.etcd.pid')
	kill -STOP "$epid"
	t0=$(date +%s%N); "$PETREL" --lab "$lab" --node node2 node status >/dev/null
	status_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	t0=$(date +%s%N); "$PETREL" --lab "$lab" --node node2 endpoint list --on node2 >/dev/null
	list_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	t0=$(date +%s%N)
	add_out=$("$PETREL" --lab "$lab" --node node2 endpoint add frozen 2>&1 || true)
	add_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	kill -CONT "$epid"
	jq -nc --argjson s "$status_ms" --argjson l "$list_ms" --argjson a "$add_ms" --arg e "$add_out" \
		'{version: "etcd-stopped", node_status_ms: $s, endpoint_list_ms: $l,
		  endpoint_add_fail_ms: $a, endpoint_add_error: $e}'
}

run_version petrel build/bin/petreld "$PROBES" "${SIZES[@]}"
if [ -n "${BASELINE:-}" ]; then
	WORKTREE=$(mktemp -d /tmp/petrel-baseline.XXXX)
	git worktree add --detach "$WORKTREE" "$BASELINE" >/dev/null
	make -C "$WORKTREE" -j2 build/bin/petreld >/dev/null
	run_version baseline "$WORKTREE/build/bin/petreld" "$BASELINE_PROBES" "${BASELINE_SIZES[@]}"
fi

# Report: one table per version, ratios to its smallest size; the plot of cost per event.
cat "$OUT"/scale-petrel.jsonl ${BASELINE:+"$OUT"/scale-baseline.jsonl} > "$OUT/scale.jsonl"
jq -rs '
  def r(x; y): if (x // null) == null or (y // null) == null or y == 0 then "-"
               else ((x / y * 100 | round) / 100 | tostring) end;
  (map(select(.version != "etcd-stopped")) | group_by(.version)[] |
    (.[0] as $base |
     "\n### \(.[0].version)\n",
     "| endpoints | nodes | CPU ms/event | ratio | write→datapath p50 ms | p99 ms | etcd ranges/event | 10k burst: written s | absorbed s | removal s | RSS MiB |",
     "|---|---|---|---|---|---|---|---|---|---|---|",
     (.[] | if .absorbed then
        "| \(.endpoints) | \(.nodes) | \(.cpu_ms_per_event) | \(r(.cpu_ms_per_event; $base.cpu_ms_per_event)) | \(.p50_ms) | \(.p99_ms) | \(.etcd_ranges_per_event) | \(.burst_write_s) | \(.burst_absorb_s) | \(.unburst_absorb_s) | \(.rss_mib | floor) |"
      else "| \(.endpoints) | \(.nodes) | not absorbed within 60 s | | | | | | | | |" end))),
  (map(select(.version == "etcd-stopped"))[] |
    "\netcd stopped: node status \(.node_status_ms) ms, endpoint list --on \(.endpoint_list_ms) ms, endpoint add failed after \(.endpoint_add_fail_ms) ms: \(.endpoint_add_error | gsub("\n"; " "))")
' "$OUT/scale.jsonl"

jq -r 'select(.version == "petrel" and .absorbed) | "\(.endpoints) \(.cpu_ms_per_event) \(.p50_ms) \(.p99_ms)"' \
	"$OUT/scale.jsonl" > "$OUT/scale.dat"
gnuplot <<EOF
set terminal svg size 720,400 font "sans,12"
set output "$OUT/scale.svg"
set logscale x
set xrange [500:200000]
set yrange [0:*]
set xlabel "cluster endpoints"
set ylabel "milliseconds"
set key top right
set grid
set title "petreld per endpoint update: CPU, and etcd write to datapath"
plot "$OUT/scale.dat" using 1:2 with linespoints title "agent CPU per update", \
     "" using 1:3 with linespoints title "write to datapath p50", \
     "" using 1:4 with linespoints title "write to datapath p99"
EOF
echo "plot: $OUT/scale.svg; rows: $OUT/scale.jsonl" >&2
