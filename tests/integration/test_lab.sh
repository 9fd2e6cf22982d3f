#!/usr/bin/env bash
# Lab lifecycle and bad input: a 1-node lab runs without etcd, errors are clear and leave
# nothing behind, and `lab down` cleans up even after a crash.
. "$(dirname "$0")/lib.sh"

lab_up 1 vxlan
[ "$(p --node node1 -j node status | jq -r .store)" = sqlite ] || fail "1-node lab should use SQLite"
p -j lab status | jq -e '.etcd == null' >/dev/null || fail "1-node lab should run no etcd"
ok "a 1-node lab runs with no extra service (SQLite store, no etcd)"
expect_error "ioam role on a vxlan node" "vxlan mode" p --node node1 ioam role --dev eth0 ingress

# The fabric is a switch: frames it bridges skip netfilter (where the kernel has br_netfilter).
if ip netns exec "$LAB-fabric" test -e /proc/sys/net/bridge/bridge-nf-call-ip6tables; then
	for k in iptables ip6tables arptables; do
		[ "$(ip netns exec "$LAB-fabric" sysctl -n net.bridge.bridge-nf-call-$k)" = 0 ] ||
			fail "the lab fabric passes bridged frames to $k"
	done
	ok "the lab fabric bridges without netfilter"
fi

out=$(p lab up --name "$LAB" --nodes 1 2>&1) && fail "second lab up with the same name succeeded"
echo "$out" | grep -q "already exists" || fail "duplicate lab error unclear: $out"
ok "lab up refuses an existing lab name: $out"

p --node node1 endpoint add web --label app=web --publish 8080:80/tcp >/dev/null
out=$(p --node node1 endpoint add web 2>&1) && fail "duplicate endpoint accepted"
echo "$out" | grep -q "already exists" || fail "duplicate endpoint error unclear: $out"
ok "duplicate endpoint name rejected: $out"
out=$(p --node node1 endpoint add other --publish 8080:81/tcp 2>&1) && fail "duplicate host port accepted"
echo "$out" | grep -q "8080" || fail "port clash error unclear: $out"
ip netns list | grep -q "^$LAB-ep-other\b" && fail "failed endpoint left its netns behind"
[ "$(p --node node1 -j endpoint list | jq length)" = 1 ] || fail "failed endpoint left a record"
ok "host port clash rejected with nothing half-created: $out"
for bad in "Bad_Name" "x --publish 0:80" "x --publish 80:80/sctp" "x --label =v"; do
	# shellcheck disable=SC2086
	out=$(p --node node1 endpoint add $bad 2>&1) && fail "invalid input accepted: $bad"
	ok "rejected 'endpoint add $bad': $out"
done
out=$(p --node node9 endpoint list 2>&1) && fail "unknown node accepted"
echo "$out" | grep -q "node9" || fail "unknown node error unclear: $out"
ok "unknown node: $out"
out=$(p --node node1 endpoint del nosuch 2>&1) && fail "deleting an unknown endpoint succeeded"
echo "$out" | grep -q "does not exist" || fail "unknown endpoint error unclear: $out"
ok "unknown endpoint: $out"

# Malformed API requests get JSON errors and never crash the agent.
SOCK=/run/petrel/labs/$LAB/node1/petreld.sock
api() { curl -s --unix-socket "$SOCK" -o /tmp/petrel-api-$$ -w '%{http_code}' "$@"; }
[ "$(api -X POST -d '{"name": ' http://x/v1/endpoints)" = 400 ] || fail "truncated JSON not a 400"
jq -e '.error | test("malformed JSON")' /tmp/petrel-api-$$ >/dev/null || fail "truncated JSON error body"
[ "$(api -X POST -d '{"name":"x","labels":[1]}' http://x/v1/endpoints)" = 400 ] || fail "bad labels not a 400"
[ "$(api -X POST --data-binary @/dev/urandom --max-filesize 1 -m 3 http://x/v1/endpoints 2>/dev/null)" != 500 ] || true
[ "$(api http://x/v1/nothing)" = 404 ] || fail "unknown path not a 404"
[ "$(api -X PUT http://x/v1/endpoints)" = 405 ] || fail "wrong method not a 405"
[ "$(api http://x/v1/endpoints/..%2F..)" = 400 ] || fail "bad name in path not a 400"
head -c 2000000 /dev/zero | tr '\0' 'a' > /tmp/petrel-big-$$
[ "$(api -X POST --data-binary @/tmp/petrel-big-$$ http://x/v1/endpoints)" = 413 ] || fail "2 MB body not a 413"
rm -f /tmp/petrel-api-$$ /tmp/petrel-big-$$
p --node node1 node status >/dev/null || fail "agent died after malformed requests"
ok "malformed API requests get 400/404/405/413 JSON errors and the agent stays up"

# restart_node1 [CMD...]: stop node1's agent, run CMD while it is down, start it again.
restart_node1() {
	local pid
	pid=$(pgrep -f "petreld --netns $LAB-node1 " || p -j lab status | jq -r '.nodes[0].pid')
	kill -TERM $pid; for i in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	[ $# -eq 0 ] || "$@"
	setsid "$PETRELD" --netns "$LAB-node1" --config "/run/petrel/labs/$LAB/node1/petreld.conf" \
		>>"/run/petrel/labs/$LAB/node1/petreld.log" 2>&1 </dev/null &
	for i in $(seq 100); do p --node node1 node status >/dev/null 2>&1 && break; sleep 0.1; done
}

# Single-node state survives an agent restart (SQLite in the state directory).
restart_node1
[ "$(p --node node1 -j endpoint show web | jq -r .state)" = ready ] || fail "endpoint lost across restart"
ok "single-node state survives an agent restart"

# Non-root users get a clear error.
if command -v setpriv >/dev/null; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PETREL" lab up --name "x$$" 2>&1) && fail "non-root lab up succeeded"
	echo "$out" | grep -qi root || fail "non-root error unclear: $out"
	ok "non-root: $out"
fi

p lab down --name "$LAB" >/dev/null
[ -z "$(ip netns list | grep "^$LAB-")" ] || fail "lab down left namespaces: $(ip netns list | grep "^$LAB-")"
[ ! -e "/run/petrel/labs/$LAB" ] && [ ! -e "/sys/fs/bpf/petrel/$LAB" ] || fail "lab down left state"
ok "lab down removes namespaces, state and pinned maps"

# Upgrades: a pinned map whose definition changed is replaced (the agent refills it), so
# the datapath and IOAM load; something else in a pin's place makes IOAM alone fail, and
# the node keeps working.
lab_up 1 native
p --node node1 endpoint add up >/dev/null
PINS=/sys/fs/bpf/petrel/$LAB/node1
reshape() {   # MAP...: pin maps of another shape under their names
	for m in "$@"; do
		rm -f "$PINS/$m" && bpftool map create "$PINS/$m" type array key 4 value 4 entries 1 name "$m"
	done
}
restart_node1 reshape endpoints ioam_ns_table
for m in endpoints ioam_ns_table; do
	grep -q "pinned map $PINS/$m has another definition" "/run/petrel/labs/$LAB/node1/petreld.log" ||
		fail "the agent's log does not say it replaced $m"
done
[ "$(bpftool -j map dump pinned "$PINS/endpoints" | jq length)" = 2 ] ||
	fail "the replaced endpoints map was not refilled from the store"
p --node node1 ioam role --dev eth0 ingress >/dev/null || fail "IOAM did not load with its replaced map"
ok "pinned maps of another definition are replaced and refilled; the datapath and IOAM load"
# Entries cluster state does not have (an endpoint deleted while the agent was down) go
# when it starts, from both families' location and identity maps; the rest stay.
zeros() { printf '00 %.0s' $(seq "$1"); }
K4="20 00 00 00 0a 63 00 01" K6="80 00 00 00 fd 99 $(zeros 13) 01"
map_counts() { for m in locations4 locations6 ipcache4 ipcache6; do
	bpftool -j map dump pinned "$PINS/$m" | jq length; done | xargs; }
KEPT=$(map_counts)
plant_stale() {
	bpftool map update pinned "$PINS/locations4" key hex $K4 value hex $(zeros 24) &&
	bpftool map update pinned "$PINS/locations6" key hex $K6 value hex $(zeros 24) &&
	bpftool map update pinned "$PINS/ipcache4" key hex $K4 value hex 07 00 00 00 &&
	bpftool map update pinned "$PINS/ipcache6" key hex $K6 value hex 07 00 00 00 ||
		fail "cannot plant stale entries"
	[ "$(map_counts)" != "$KEPT" ] || fail "the stale entries did not land"
}
restart_node1 plant_stale
for _ in $(seq 50); do [ "$(map_counts)" = "$KEPT" ] && break; sleep 0.1; done
[ "$(map_counts)" = "$KEPT" ] || fail "stale map entries survived the agent's start: $(map_counts), want $KEPT"
grep -q "removed 2 stale locations" "/run/petrel/labs/$LAB/node1/petreld.log" ||
	fail "the agent's log does not count the stale locations it removed"
ok "stale location and identity entries (IPv4 and IPv6) are swept at start; counts back to $KEPT"
in_the_way() { rm -f "$PINS/ioam_ns_table" && mkdir "$PINS/ioam_ns_table"; }
restart_node1 in_the_way
expect_error "ioam role without IOAM's programs" "could not load" p --node node1 ioam role --dev eth0 ingress
p --node node1 endpoint add still >/dev/null || fail "the node stopped working without IOAM"
grep -q "IOAM's programs could not load" "/run/petrel/labs/$LAB/node1/petreld.log" ||
	fail "the agent's log does not say IOAM failed"
ok "IOAM's programs failing to load leave the node working, and its log says so"
rmdir "$PINS/ioam_ns_table"
p lab down --name "$LAB" >/dev/null

# Crash: agents killed with SIGKILL and lab.json gone; lab down still cleans everything,
# a router too.
lab_up 2 native
p --node node2 endpoint add crash >/dev/null
p lab router add rx --between node2 node1 >/dev/null || fail "lab router add without IOAM"
# No duplicate address detection on the lab's fabric: a new host's link-local address,
# which neighbour solicitations come from, is usable at once, not a second later.
for ns in node1 node2 rt-rx; do
	[ -z "$(ip netns exec "$LAB-$ns" ip -6 addr show dev eth0 tentative)" ] || fail "$ns has a tentative address"
done
ok "lab hosts and routers have no tentative IPv6 address right after they are made"
ip netns exec "$LAB-node2" ip route get 198.18.0.11 | grep -q "via 198.18.0.200" ||
	fail "node2 does not reach node1 through the router"
ok "a plain lab router (no IOAM) carries node2 <-> node1"
for pid in $(p -j lab status | jq -r '.nodes[].pid, .etcd.pid'); do kill -9 "$pid" 2>/dev/null || true; done
rm -f "/run/petrel/labs/$LAB/lab.json"
p lab down --name "$LAB" >/dev/null || fail "lab down after a crash failed"
[ -z "$(ip netns list | grep "^$LAB-")" ] || fail "lab down after crash left namespaces"
[ -z "$(pgrep -f "petreld --netns $LAB-")" ] || fail "agents survived lab down"
ok "lab down after a crash removes everything"
p lab down --name "$LAB" >/dev/null || fail "second lab down is not idempotent"
ok "lab down is idempotent"
echo "$CHECKS checks passed"
