#!/usr/bin/env bash
# CNI conformance: petrel-cni driven exactly as a runtime drives it (CNI_* environment plus
# the network config on stdin) against a lab node's agent: VERSION, ADD (result fields, the
# interface really configured, real traffic to an endpoint on another node), CHECK (passes,
# then fails once a route is removed), DEL twice, STATUS, GC, and the error codes.
. "$(dirname "$0")/lib.sh"
CNI="$BUILD/bin/petrel-cni"
NS=cni$$
lab_up 2 vxlan
trap 'ip netns del $NS 2>/dev/null; cleanup' EXIT
ip netns add "$NS"
SOCK=/run/petrel/labs/$LAB/node1/petreld.sock
conf() { printf '{"cniVersion":"%s","name":"petrel","type":"petrel-cni","socket":"%s","labels":{"app":"cni"}%s}' "${2:-1.0.0}" "$SOCK" "${1:-}"; }
cni() {   # COMMAND [extra-config] [cniVersion] → stdout in $OUT, exit code in $RC
	local cmd=$1 extra=${2:-} version=${3:-1.0.0}
	set +e
	OUT=$(conf "$extra" "$version" | CNI_COMMAND=$cmd CNI_CONTAINERID=ctr$$ CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 \
		CNI_PATH=$BUILD/bin "$CNI")
	RC=$?
	set -e
}
expect_code() {   # code what
	[ "$RC" -ne 0 ] || fail "$2: exit 0"
	[ "$(echo "$OUT" | jq .code)" = "$1" ] || fail "$2: expected code $1, got $OUT"
	ok "$2 → code $1: $(echo "$OUT" | jq -r .msg)"
}

out=$(echo '{}' | CNI_COMMAND=VERSION "$CNI")
echo "$out" | jq -e '.supportedVersions | index("1.0.0") and index("1.1.0")' >/dev/null || fail "VERSION: $out"
ok "VERSION lists 1.0.0 and 1.1.0"

cni ADD
[ "$RC" = 0 ] || fail "ADD failed: $OUT"
ADD_RESULT=$OUT
echo "$OUT" | jq -e '.cniVersion == "1.0.0" and (.interfaces[0].name == "eth0") and
	(.interfaces[0].sandbox | startswith("/run/netns/")) and (.ips | length == 2) and
	(.ips[0].gateway == "169.254.1.1") and (.routes | length == 2) and (.dns | type == "object")' >/dev/null \
	|| fail "ADD result not conformant: $OUT"
IP4=$(echo "$OUT" | jq -r '.ips[0].address' | cut -d/ -f1)
IP6=$(echo "$OUT" | jq -r '.ips[1].address' | cut -d/ -f1)
ok "ADD returns a conformant result ($IP4, $IP6)"
ip -n "$NS" -j addr show eth0 | jq -e ".[0].addr_info | map(.local) | index(\"$IP4\") and index(\"$IP6\")" >/dev/null \
	|| fail "eth0 in the runtime's netns lacks the addresses"
[ "$(ip -n "$NS" -j link show eth0 | jq -r '.[0].address')" = "$(echo "$ADD_RESULT" | jq -r '.interfaces[0].mac')" ] \
	|| fail "MAC differs from the result"
ip -n "$NS" route show default | grep -q "169.254.1.1" || fail "no IPv4 default route"
ip -n "$NS" -6 route show default | grep -q "fe80::1" || fail "no IPv6 default route"
ok "the runtime's netns has eth0 with both addresses, the MAC and both default routes"
p --node node1 -j endpoint list | jq -e 'map(select(.labels["petrel.io/cni"] == "true" and .labels.app == "cni")) | length == 1' \
	>/dev/null || fail "the CNI endpoint is not listed with its labels"
ok "the container is a petrel endpoint carrying the config's labels"

# Real traffic from the CNI container to an endpoint on another node.
p --node node2 endpoint add far >/dev/null
echo_server "$(ep_ns far)" 7000
expect_echo "$NS" TCP "$(ep_field far ipv4)" 7000 "CNI container reaches an endpoint on node2 (TCP/IPv4)"
expect_echo "$NS" UDP "$(ep_field far ipv6)" 7000 "CNI container reaches an endpoint on node2 (UDP/IPv6)"

PREV=",\"prevResult\":$(echo "$ADD_RESULT" | jq -c .)"
cni CHECK "$PREV"
[ "$RC" = 0 ] || fail "CHECK failed on a healthy container: $OUT"
ok "CHECK passes on a healthy container"
ip -n "$NS" route del default
cni CHECK "$PREV"
expect_code 100 "CHECK after the IPv4 default route was removed"
cni CHECK
expect_code 7 "CHECK without prevResult"

cni STATUS "" 1.1.0
[ "$RC" = 0 ] || fail "STATUS with a live agent: $OUT"
ok "STATUS succeeds while the agent answers"

cni DEL
[ "$RC" = 0 ] || fail "DEL failed: $OUT"
[ -z "$(ip -n "$NS" -o link show eth0 2>/dev/null)" ] || fail "eth0 survived DEL"
ip netns list | grep -q "^$NS\b" || fail "DEL removed the runtime's netns (it is not petrel's)"
cni DEL
[ "$RC" = 0 ] || fail "second DEL failed: $OUT"
ok "DEL removes the interface, keeps the runtime's netns, and succeeds twice"

# GC: an attachment the runtime no longer lists is removed.
cni ADD
[ "$RC" = 0 ] || fail "re-ADD failed: $OUT"
cni GC ',"cni.dev/valid-attachments":[]' 1.1.0
[ "$RC" = 0 ] || fail "GC failed: $OUT"
[ "$(p --node node1 -j endpoint list | jq 'map(select(.labels["petrel.io/cni"] == "true")) | length')" = 0 ] \
	|| fail "GC left a stale CNI endpoint"
ok "GC deletes attachments that are no longer valid"

# Error cases.
set +e
OUT=$(echo '{"cniVersion":' | CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 "$CNI"); RC=$?
set -e
expect_code 6 "malformed JSON"
set +e
OUT=$(conf | CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_IFNAME=eth0 "$CNI"); RC=$?
set -e
expect_code 4 "missing CNI_NETNS"
cni ADD "" 0.3.1
expect_code 1 "unsupported cniVersion 0.3.1"
cni ADD ',"labels":{"bad label":"x"}'
expect_code 7 "invalid config (bad label)"
SOCK=/run/petrel/labs/$LAB/nosuch.sock
cni ADD
expect_code 11 "agent not running"
cni STATUS "" 1.1.0
expect_code 50 "STATUS without an agent"
SOCK=/run/petrel/labs/$LAB/node1/petreld.sock
ip -n "$NS" -o link | grep -q eth0 && fail "failed ADDs left an interface in the netns"
[ "$(p --node node1 -j endpoint list | jq 'map(select(.labels["petrel.io/cni"] == "true")) | length')" = 0 ] \
	|| fail "failed ADDs left endpoints behind"
ok "failed ADDs leave nothing in the netns or in the agent's state"
echo "$CHECKS checks passed"
