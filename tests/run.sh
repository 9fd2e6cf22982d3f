#!/usr/bin/env bash
# Runs petrel's whole suite: unit tests, BPF_PROG_RUN fixtures, then integration tests in
# network namespaces. Exit code 77 from a test means "skipped" (with its printed reason).
# Usage: tests/run.sh [unit|bpf|fuzz|integration]... [-k PATTERN]
# Fuzz harnesses run for FUZZ_SECONDS each (default 10) as a smoke test of the parsers.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
layers=() pattern=""
while [ $# -gt 0 ]; do
	case "$1" in
	-k) pattern=$2; shift 2 ;;
	unit|bpf|fuzz|integration) layers+=("$1"); shift ;;
	*) echo "usage: tests/run.sh [unit|bpf|fuzz|integration]... [-k PATTERN]" >&2; exit 2 ;;
	esac
done
[ ${#layers[@]} -eq 0 ] && layers=(unit bpf fuzz integration)

passed=0 failed=0 skipped=0 failures=()
logdir=$BUILD/test-logs
mkdir -p "$logdir"

run_one() {   # name timeout cmd...
	local name=$1 limit=$2; shift 2
	local log=$logdir/${name//\//-}.log start=$SECONDS rc
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && return
	printf '%-44s ' "$name"
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	case $rc in
	0)  passed=$((passed + 1)); echo "ok ($((SECONDS - start))s)" ;;
	77) skipped=$((skipped + 1)); echo "SKIP: $(grep -m1 -i 'skip' "$log" | cut -c1-100)" ;;
	*)  failed=$((failed + 1)); failures+=("$name"); echo "FAIL (rc=$rc, $((SECONDS - start))s; log: $log)"
	    tail -n 25 "$log" | sed 's/^/    | /' ;;
	esac
}

for layer in "${layers[@]}"; do
	case $layer in
	unit)
		for t in "$BUILD"/tests/test_*; do
			[ -x "$t" ] || continue
			[ -f "tests/unit/$(basename "$t").c" ] || continue
			run_one "unit/$(basename "$t")" 300 "$t"
		done ;;
	bpf)
		for t in "$BUILD"/tests/test_*; do
			[ -x "$t" ] || continue
			[ -f "tests/bpf/$(basename "$t").c" ] || continue
			run_one "bpf/$(basename "$t")" 300 "$t"
		done ;;
	fuzz)
		for t in "$BUILD"/fuzz/fuzz_*; do
			[ -x "$t" ] || continue
			corpus=$BUILD/fuzz-corpus/$(basename "$t")
			mkdir -p "$corpus"
			# Checked-in seeds (tests/fuzz/seeds/NAME) start the search from real inputs.
			seeds=tests/fuzz/seeds/$(basename "$t")
			[ -d "$seeds" ] || seeds=
			run_one "fuzz/$(basename "$t")" 120 "$t" -max_total_time="${FUZZ_SECONDS:-10}" \
				-timeout=5 -rss_limit_mb=1024 -error_exitcode=1 \
				-artifact_prefix="$BUILD/test-logs/" "$corpus" $seeds
		done ;;
	integration)
		for t in tests/integration/test_*.sh; do
			[ -f "$t" ] || continue
			run_one "integration/$(basename "$t" .sh)" 900 bash "$t"
		done ;;
	esac
done

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
