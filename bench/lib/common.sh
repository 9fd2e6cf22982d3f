# What every benchmark driver starts with, sourced as its first line:
#   . "$(dirname "$0")/lib/common.sh"
# It stops at the first error, runs from the repository's root, checks for root, points
# PETREL/PETRELD at the build, makes bench/out, and gives the statistics the drivers share.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
PETREL=$BUILD/bin/petrel
export PETRELD=${PETRELD:-$BUILD/bin/petreld}
OUT=bench/out
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }

# A progress line on stderr; stdout carries the results.
log() { echo "# $*" >&2; }

# Numbers on stdin, one per line or separated by spaces (blank lines ignored), to one
# figure each; "nan" when there are none.
median() {
	tr ' ' '\n' | { grep . || true; } | sort -g | awk '{v[NR] = $1} END {
		if (!NR) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mean() { tr ' ' '\n' | { grep . || true; } | awk '{s += $1; n++} END {if (n) print s / n; else print "nan"}'; }
# P-th percentile, nearest rank: percentile 95 < FILE.
percentile() {
	tr ' ' '\n' | { grep . || true; } | sort -g | awk -v p="$1" '{v[NR] = $1} END {
		if (!NR) { print "nan"; exit } i = int(p / 100 * NR + 0.999); if (i > NR) i = NR; print v[i] }'
}
# Mean without the slowest and fastest 5% (scheduling outliers).
tmean() {
	tr ' ' '\n' | { grep . || true; } | sort -g | awk '{v[NR] = $1} END {k = int(NR * 0.05)
		for (i = k + 1; i <= NR - k; i++) { s += v[i]; n++ } if (n) print s / n; else print "nan"}'
}
# Two decimals, "nan" kept.
fix2() { awk '{ if ($1 == "nan") print "nan"; else printf "%.2f\n", $1 }'; }
# One JSON object from KEY=VALUE arguments, built by jq: numbers stay numbers, "nan" and
# empty values become null, anything else a string.
json_row() {
	local args=() kv
	for kv in "$@"; do args+=(--arg "${kv%%=*}" "${kv#*=}"); done
	# (jq 1.6 loses keys under |= with tonumber?; try/catch keeps them)
	jq -nc '$ARGS.named | with_entries(.value = (.value | if . == "nan" or . == "" then null
		else ((try tonumber catch null) // .) end))' "${args[@]}"
}
