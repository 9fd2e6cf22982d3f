#!/usr/bin/env bash
# What each part of IOAM's work costs at 100% insertion, against issue 6's target of at most
# 7% of throughput. The chain of bench/ioam.sh (node1 encap, node3 transit, node2 decap,
# 1200-octet UDP from iperf3, trace type 0xf00000 with room for 3 nodes) is built three
# times, each with its agents' BPF programs built differently:
#   full      petrel as it is;
#   no-data   node1 inserts the trace option and node2 removes it, but no node fills its
#             data (IOAM_BENCH_NO_DATA): the cost of carrying the option through the chain;
#   clock     no-data, plus the one clock read per packet on node1 and node3, where they
#             would fill timestamps (IOAM_BENCH_CLOCK_ONLY): what a timestamped trace cannot
#             leave out.
# Every round runs an IOAM off/on pair on each chain in turn (off first in odd rounds, on
# first in even ones), so a shared machine's drift reaches all three alike; a chain's ratio is the median of its
# pairs' ratios, its cost the median of the pairs' differences in time per packet. The
# BPF_PROG_RUN cost of each role (bench/tools/ioam_cost.c) is given for each build too.
# Usage: bench/ioam-parts.sh [ROUNDS (default 9)] [SECONDS per run (default 2)]
. "$(dirname "$0")/lib/common.sh"
ROUNDS=${1:-9} SECS=${2:-2}
. bench/lib/ioam_chain.sh

BUILDS="full no-data clock"
declare -A DEFS=([no-data]="-DIOAM_BENCH_NO_DATA" [clock]="-DIOAM_BENCH_NO_DATA -DIOAM_BENCH_CLOCK_ONLY")
dir() { [ "$1" = full ] && echo build || echo "build/ioam-parts/$1"; }
for b in $BUILDS; do
	[ "$b" = full ] && continue
	echo "# building the $b agent" >&2
	make -s -j2 BUILD="$(dir "$b")" BPF_EXTRA="${DEFS[$b]}" "$(dir "$b")/bin/petreld" "$(dir "$b")/bench/ioam_cost" >/dev/null
done

LABS=""
cleanup() {
	set +e
	for l in $LABS; do "$PETREL" lab down --name "$l" >/dev/null 2>&1; done
}
trap cleanup EXIT
declare -A LAB_OF
for b in $BUILDS; do
	LAB_OF[$b]=ip$$${b:0:1}          # lab names are at most 12 characters
	LABS+="${LAB_OF[$b]} "
	echo "# chain for $b" >&2
	PETRELD=$(dir "$b")/bin/petreld chain_up "${LAB_OF[$b]}"
	p --node node1 ioam namespace add 1 data 0x1 >/dev/null
	p --node node1 ioam encap add --ns 1 --trace-type 0xf00000 --size 48 --to "$CIP/128" >/dev/null
done

declare -A RAT NSPP
for r in $(seq "$ROUNDS"); do
	echo "# round $r of $ROUNDS" >&2
	for b in $BUILDS; do
		chain_use "${LAB_OF[$b]}"
		pair "$r" roles
		RAT[$b]+="$(pair_ratio) "
		NSPP[$b]+="$(pair_ns) "
	done
done
# Every chain really carried IOAM: node2 removed it from the packets.
for b in $BUILDS; do
	chain_use "${LAB_OF[$b]}"
	[ "$(p --node node2 -j ioam show | jq '.counters.decap')" -gt 0 ] ||
		{ echo "bench: the $b chain decapsulated nothing" >&2; exit 1; }
done

printf '| build | what IOAM does at 100%% insertion | ratio to IOAM off | cost, ns per packet | pairs'"'"' ratios, lowest-highest | BPF_PROG_RUN ns: encap, transit, decap |\n|---|---|---|---|---|---|\n'
declare -A WHAT=([full]="everything: insert, fill on each node, remove"
	[no-data]="insert on node1, remove on node2, no node data"
	[clock]="no-data plus a clock read on node1 and node3")
for b in $BUILDS; do
	cost=$("$(dir "$b")/bench/ioam_cost" 3 | awk -F'|' '/^\| (encap|transit|decap) /{gsub(/ /, "", $5); printf "%s%s", s, $5; s=", "}')
	printf '| %s | %s | %.3f | %.0f | %s | %s |\n' "$b" "${WHAT[$b]}" \
		"$(echo ${RAT[$b]} | tr ' ' '\n' | median)" "$(echo ${NSPP[$b]} | tr ' ' '\n' | median)" \
		"$(spread ${RAT[$b]})" "$cost"
done
printf '\n(%d pairs of %ds runs per chain; the target is a ratio of at least 0.930.)\n' "$ROUNDS" "$SECS"
