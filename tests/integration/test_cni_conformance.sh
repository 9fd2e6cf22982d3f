#!/usr/bin/env bash
# CNI conformance: petrel-cni driven exactly as a runtime drives it (CNI_* environment plus
# the network config on stdin) against a lab node's agent: VERSION, ADD (result fields, the
# interface really configured, labels, real traffic to an endpoint on another node), CHECK
# (passes, then fails once a route or an address is removed), DEL twice and after the netns
# is gone, STATUS, GC, and the error codes, including a full address pool (a standalone
# agent with a /30 block).
. "$(dirname "$0")/lib.sh"
CNI="$BUILD/bin/petrel-cni"
NS=cni$$
lab_up 2 vxlan
PNS=cnp$$
DIR=$(mktemp -d /tmp/petrel-cni-XXXXXX)
cleanup_cni() {
	local rc=$?
	for ns in "$NS" "$NS-b" "$NS-c" "$PNS"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$DIR" "/sys/fs/bpf/petrel/$PNS"
	cleanup $rc
}
trap cleanup_cni EXIT
ip netns add "$NS"
SOCK=/run/petrel/labs/$LAB/node1/petreld.sock
NET=petrel
conf() {   # [extra-config] [cniVersion]
	printf '{"cniVersion":"%s","name":"%s","type":"petrel-cni","socket":"%s","labels":{"app":"cni"}%s}' \
		"${2:-1.0.0}" "$NET" "$SOCK" "${1:-}"
}
cni() {   # COMMAND [extra-config] [cniVersion] → stdout in $OUT, exit code in $RC
	local cmd=$1 extra=${2:-} version=${3:-1.0.0}
	set +e
	OUT=$(conf "$extra" "$version" | CNI_COMMAND=$cmd CNI_CONTAINERID=${CID:-ctr$$} CNI_NETNS=/run/netns/${CNS:-$NS} \
		CNI_IFNAME=${IFN:-eth0} CNI_PATH=$BUILD/bin CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0" "$CNI")
	RC=$?
	set -e
}
expect_code() {   # code what
	[ "$RC" -ne 0 ] || fail "$2: exit 0"
	[ "$(echo "$OUT" | jq .code)" = "$1" ] || fail "$2: expected code $1, got $OUT"
	echo "$OUT" | jq -e '(.cniVersion | type == "string") and (.msg | type == "string")' >/dev/null \
		|| fail "$2: not a spec error: $OUT"
	ok "$2 → code $1: $(echo "$OUT" | jq -r '.msg + ": " + (.details // "")')"
}
cni_endpoints() { p --node node1 -j endpoint list | jq "map(select(.labels[\"petrel.io/cni\"] == \"true\")) $1"; }

out=$(echo '{"cniVersion":"1.1.0"}' | CNI_COMMAND=VERSION "$CNI")
echo "$out" | jq -e '.cniVersion == "1.1.0" and (.supportedVersions | index("1.0.0") and index("1.1.0"))' >/dev/null \
	|| fail "VERSION: $out"
ok "VERSION lists 1.0.0 and 1.1.0"

cni ADD ',"args":{"labels":{"team":"blue"}}'
[ "$RC" = 0 ] || fail "ADD failed: $OUT"
ADD_RESULT=$OUT
echo "$OUT" | jq -e --arg ns "/run/netns/$NS" '.cniVersion == "1.0.0" and (.interfaces | length == 1) and
	(.interfaces[0].name == "eth0") and (.interfaces[0].sandbox == $ns) and
	(.interfaces[0].mac | test("^([0-9a-f]{2}:){5}[0-9a-f]{2}$")) and (.ips | length == 2) and
	(.ips[0].address | endswith("/32")) and (.ips[0].gateway == "169.254.1.1") and (.ips[0].interface == 0) and
	(.ips[1].address | endswith("/128")) and (.ips[1].gateway == "fe80::1") and (.ips[1].interface == 0) and
	(.routes == [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}, {"dst": "::/0", "gw": "fe80::1"}]) and
	(.dns | type == "object")' >/dev/null || fail "ADD result not conformant: $OUT"
IP4=$(echo "$OUT" | jq -r '.ips[0].address' | cut -d/ -f1)
IP6=$(echo "$OUT" | jq -r '.ips[1].address' | cut -d/ -f1)
ok "ADD returns a conformant result ($IP4, $IP6)"
ip -n "$NS" -j addr show eth0 | jq -e ".[0].addr_info | map(.local + \"/\" + (.prefixlen | tostring)) |
	index(\"$IP4/32\") and index(\"$IP6/128\")" >/dev/null || fail "eth0 in the runtime's netns lacks the addresses"
[ "$(ip -n "$NS" -j link show eth0 | jq -r '.[0].address')" = "$(echo "$ADD_RESULT" | jq -r '.interfaces[0].mac')" ] \
	|| fail "MAC differs from the result"
ip -n "$NS" route show default | grep -q "via 169.254.1.1 dev eth0" || fail "no IPv4 default route"
ip -n "$NS" -6 route show default | grep -q "via fe80::1 dev eth0" || fail "no IPv6 default route"
ok "the runtime's netns has eth0 with both addresses, the MAC and both default routes"
cni_endpoints '| map(select(.labels.app == "cni" and .labels.team == "blue" and
	.labels["petrel.io/cni-network"] == "petrel" and .labels["io.kubernetes.pod.namespace"] == "shop" and
	.labels["io.kubernetes.pod.name"] == "web-0" and .ipv4 == "'"$IP4"'")) | length == 1' | grep -qx true \
	|| fail "the CNI endpoint is not listed with its labels: $(cni_endpoints '')"
ok "the container is a petrel endpoint with the config's, args' and CNI_ARGS' labels"
cni ADD
expect_code 100 "a second ADD for the same attachment"

# Real traffic from the CNI container to an endpoint on another node.
p --node node2 endpoint add far >/dev/null
echo_server "$(ep_ns far)" 7000
expect_echo "$NS" TCP "$(ep_field far ipv4)" 7000 "CNI container reaches an endpoint on node2 (TCP/IPv4)"
expect_echo "$NS" UDP "$(ep_field far ipv6)" 7000 "CNI container reaches an endpoint on node2 (UDP/IPv6)"

PREV=",\"prevResult\":$(echo "$ADD_RESULT" | jq -c .)"
cni CHECK "$PREV"
[ "$RC" = 0 ] && [ -z "$OUT" ] || fail "CHECK failed on a healthy container: $OUT"
ok "CHECK passes on a healthy container (exit 0, no output)"
cni CHECK
expect_code 7 "CHECK without prevResult"
cni CHECK "$(echo "$PREV" | sed "s/$IP4/10.244.99.99/")"
expect_code 101 "CHECK with a prevResult naming another address"
ip -n "$NS" route del default
cni CHECK "$PREV"
expect_code 101 "CHECK after the IPv4 default route was removed"
ip -n "$NS" route add default via 169.254.1.1 dev eth0 onlink
cni CHECK "$PREV"
[ "$RC" = 0 ] || fail "CHECK after the route was restored: $OUT"
ip -n "$NS" addr del "$IP6/128" dev eth0
cni CHECK "$PREV"
expect_code 101 "CHECK after the IPv6 address was removed"

cni STATUS "" 1.1.0
[ "$RC" = 0 ] && [ -z "$OUT" ] || fail "STATUS with a live agent: $OUT"
ok "STATUS succeeds while the agent answers"
cni STATUS
expect_code 1 "STATUS with a 1.0.0 config"

cni DEL "$PREV"
[ "$RC" = 0 ] && [ -z "$OUT" ] || fail "DEL failed: $OUT"
[ -z "$(ip -n "$NS" -o link show eth0 2>/dev/null)" ] || fail "eth0 survived DEL"
ip netns list | grep -q "^$NS\b" || fail "DEL removed the runtime's netns (it is not petrel's)"
[ "$(cni_endpoints '| length')" = 0 ] || fail "DEL left the endpoint in the agent"
cni DEL
[ "$RC" = 0 ] || fail "second DEL failed: $OUT"
ok "DEL removes the interface and the endpoint, keeps the runtime's netns, and succeeds twice"

# DEL after the runtime already deleted the namespace (CNI_NETNS may even be unset).
cni ADD
[ "$RC" = 0 ] || fail "re-ADD failed: $OUT"
ip netns del "$NS"
cni CHECK ",\"prevResult\":$(echo "$OUT" | jq -c .)"
expect_code 3 "CHECK after the netns is gone"
cni DEL
[ "$RC" = 0 ] || fail "DEL after the netns was deleted: $OUT"
[ "$(cni_endpoints '| length')" = 0 ] || fail "DEL after the netns was deleted left the endpoint"
set +e
OUT=$(conf | CNI_COMMAND=DEL CNI_CONTAINERID=ctr$$ CNI_IFNAME=eth0 CNI_PATH=$BUILD/bin "$CNI"); RC=$?
set -e
[ "$RC" = 0 ] || fail "DEL without CNI_NETNS: $OUT"
ok "DEL succeeds after the runtime removed the netns, also without CNI_NETNS"
ip netns add "$NS"

# GC: attachments the runtime no longer lists go; listed ones and other networks' stay.
ip netns add "$NS-b"
cni ADD
CID=keep$$ CNS=$NS-b cni ADD
[ "$RC" = 0 ] || fail "ADD of a second container: $OUT"
[ "$RC" = 0 ] || fail "ADD of a second container: $OUT"
NET=othernet CID=other$$ IFN=eth1 cni ADD
[ "$RC" = 0 ] || fail "ADD on a second network: $OUT"
[ "$(cni_endpoints '| length')" = 3 ] || fail "expected 3 CNI endpoints before GC: $(cni_endpoints '| map(.name)')"
cni GC "" 1.1.0
expect_code 7 "GC without cni.dev/valid-attachments"
cni GC ",\"cni.dev/valid-attachments\":[{\"containerID\":\"keep$$\",\"ifname\":\"eth0\"}]" 1.1.0
[ "$RC" = 0 ] || fail "GC failed: $OUT"
left=$(cni_endpoints '| map(.labels["petrel.io/container"]) | sort | join(",")' | tr -d '"')
[ "$left" = "keep$$,other$$" ] || fail "GC left the wrong endpoints: $left"
[ -z "$(ip -n "$NS" -o link show eth0 2>/dev/null)" ] || fail "GC left the stale container's interface"
[ -n "$(ip -n "$NS" -o link show eth1 2>/dev/null)" ] || fail "GC removed another network's interface"
ok "GC deletes stale attachments of its network and keeps valid ones and other networks'"
cni GC ',"cni.dev/valid-attachments":[]' 1.0.0
expect_code 1 "GC with a 1.0.0 config"
CID=keep$$ CNS=$NS-b cni DEL
NET=othernet CID=other$$ IFN=eth1 cni DEL
[ "$(cni_endpoints '| length')" = 0 ] || fail "endpoints left after the GC test"

# Error cases.
set +e
OUT=$(echo '{"cniVersion":' | CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 "$CNI"); RC=$?
set -e
expect_code 6 "malformed JSON"
set +e
OUT=$(conf | CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_IFNAME=eth0 "$CNI"); RC=$?
set -e
expect_code 4 "missing CNI_NETNS"
set +e
OUT=$(conf | CNI_COMMAND=ADD CNI_CONTAINERID='bad id' CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 "$CNI"); RC=$?
set -e
expect_code 4 "invalid CNI_CONTAINERID"
cni ADD "" 0.3.1
expect_code 1 "unsupported cniVersion 0.3.1"
cni ADD ',"labels":{"bad label":"x"}'
expect_code 7 "invalid config (bad label)"
NET="bad name" cni ADD
expect_code 7 "invalid config (network name)"
CNS=nosuch$$ cni ADD
expect_code 4 "ADD into a netns that does not exist"
SOCK=/run/petrel/labs/$LAB/nosuch.sock
cni ADD
expect_code 11 "agent not running"
cni DEL
expect_code 11 "DEL while the agent is not running"
cni STATUS "" 1.1.0
expect_code 50 "STATUS without an agent"
SOCK=/run/petrel/labs/$LAB/node1/petreld.sock
ip -n "$NS" -o link | grep -q eth0 && fail "failed ADDs left an interface in the netns"
[ "$(cni_endpoints '| length')" = 0 ] || fail "failed ADDs left endpoints behind"
ok "failed ADDs leave nothing in the netns or in the agent's state"

# A full address pool: a standalone agent whose /30 block holds one endpoint.
ip netns add "$PNS"
ip -n "$PNS" link add eth0 type veth peer name peer0
ip -n "$PNS" addr add 192.0.2.10/24 dev eth0
ip -n "$PNS" link set eth0 up; ip -n "$PNS" link set peer0 up; ip -n "$PNS" link set lo up
setsid "$PETRELD" --netns "$PNS" --node=solo --underlay-device=eth0 --underlay-ipv4=192.0.2.10 \
	--state-dir="$DIR/state" --socket="$DIR/sock" --bpf-pin-dir="/sys/fs/bpf/petrel/$PNS" \
	--netns-prefix="$PNS-" --block-ipv4-len=30 --block-ipv6-len=120 >"$DIR/log" 2>&1 </dev/null &
SOCK=$DIR/sock
for i in $(seq 100); do cni STATUS "" 1.1.0; [ "$RC" = 0 ] && break; sleep 0.1; done
[ "$RC" = 0 ] || fail "standalone agent not up: $(cat "$DIR/log")"
ip netns add "$NS-c"
CID=one$$ cni ADD
[ "$RC" = 0 ] || fail "ADD of the only container a /30 holds: $OUT"
CID=two$$ CNS=$NS-c cni ADD
expect_code 100 "ADD into a full address pool"
echo "$OUT" | jq -r .msg | grep -q "pool exhausted" || fail "full pool not named: $OUT"
ip -n "$NS-c" -o link | grep -q eth0 && fail "the ADD into a full pool left an interface"
[ "$("$PETREL" --socket "$SOCK" -j endpoint list | jq length)" = 1 ] || fail "the ADD into a full pool left an endpoint"
CID=one$$ cni DEL
CID=two$$ CNS=$NS-c cni ADD
[ "$RC" = 0 ] || fail "ADD after the pool had room again: $OUT"
CID=two$$ CNS=$NS-c cni DEL
ok "a full pool leaves nothing behind, and the freed address serves the next ADD"
echo "$CHECKS checks passed"
