#!/usr/bin/env bash
# petreld on its own (no lab, no etcd): configuration errors, an unreachable etcd, and an
# address block that runs out.
. "$(dirname "$0")/lib.sh"
NS=pa$$
DIR=$(mktemp -d /tmp/petrel-agent-XXXXXX)
cleanup_standalone() {
	for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid"; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$DIR" "/sys/fs/bpf/petrel/$NS"
}
trap 'rc=$?; cleanup_standalone; cleanup $rc' EXIT

ip netns add "$NS"
ip -n "$NS" link add eth0 type veth peer name peer0
ip -n "$NS" addr add 192.0.2.10/24 dev eth0
ip -n "$NS" link set eth0 up; ip -n "$NS" link set peer0 up; ip -n "$NS" link set lo up

base="--node=solo --underlay-device=eth0 --underlay-ipv4=192.0.2.10 --state-dir=$DIR/state --socket=$DIR/sock --bpf-pin-dir=/sys/fs/bpf/petrel/$NS --netns-prefix=$NS-"

expect_fail() {   # WHAT PATTERN ARGS...
	local what=$1 pat=$2; shift 2
	out=$(timeout 20 "$PETRELD" --netns "$NS" $base "$@" 2>&1) && fail "$what: petreld started"
	echo "$out" | grep -q -- "$pat" || fail "$what: unclear error: $out"
	ok "$what: $out"
}
printf 'node = solo\nmode = sideways\n' > "$DIR/bad.conf"
expect_fail "bad config file" "mode" --config "$DIR/bad.conf"
printf 'node = solo\nfrobnicate = 1\n' > "$DIR/bad2.conf"
expect_fail "unknown config key" "frobnicate" --config "$DIR/bad2.conf"
expect_fail "underlay inside the cluster CIDR" "underlay" --cluster-ipv4=192.0.0.0/16
expect_fail "missing etcd" "etcd" --etcd=http://127.0.0.1:9
expect_fail "missing underlay device" "eth9" --underlay-device=eth9
[ -z "$(ls "$DIR/state" 2>/dev/null | grep -v state.db)" ] || true

# A /30 block holds exactly one endpoint: the second gets a clear "full" error.
setsid "$PETRELD" --netns "$NS" $base --block-ipv4-len=30 --block-ipv6-len=120 >"$DIR/log" 2>&1 </dev/null &
for i in $(seq 100); do "$PETREL" --socket "$DIR/sock" node status >/dev/null 2>&1 && break; sleep 0.1; done
"$PETREL" --socket "$DIR/sock" -j node status | jq -e '.store == "sqlite"' >/dev/null || fail "standalone agent not up: $(cat "$DIR/log")"
ok "standalone agent runs on SQLite with no other service"
"$PETREL" --socket "$DIR/sock" endpoint add one >/dev/null || fail "first endpoint in a /30"
out=$("$PETREL" --socket "$DIR/sock" endpoint add two 2>&1) && fail "second endpoint in a /30 accepted"
echo "$out" | grep -q "full" || fail "exhausted block error unclear: $out"
ip netns list | grep -q "^$NS-two\b" && fail "failed endpoint left its netns"
ok "exhausted address block: $out"
# The CNI plugin reports the full pool with an error code and leaves the netns empty.
ip netns add "$NS-cni"
out=$(printf '{"cniVersion":"1.0.0","name":"p","socket":"%s"}' "$DIR/sock" | CNI_COMMAND=ADD CNI_CONTAINERID=full \
	CNI_NETNS=/run/netns/$NS-cni CNI_IFNAME=eth0 "$BUILD/bin/petrel-cni") && fail "CNI ADD into a full pool succeeded"
[ "$(echo "$out" | jq .code)" = 100 ] && echo "$out" | jq -r .details | grep -q full || fail "CNI full-pool error: $out"
ip -n "$NS-cni" -o link | grep -q eth0 && fail "CNI left an interface after a failed ADD"
ip netns del "$NS-cni"
ok "CNI ADD into a full pool: code 100, $(echo "$out" | jq -r .details)"
"$PETREL" --socket "$DIR/sock" endpoint del one >/dev/null
"$PETREL" --socket "$DIR/sock" endpoint add two >/dev/null || fail "address not reused after delete"
ok "a freed address is reused"
"$PETREL" --socket "$DIR/sock" endpoint del two >/dev/null
echo "$CHECKS checks passed"
