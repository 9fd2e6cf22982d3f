# Live migration on a 3-node lab, sourced by test_migration_{native,vxlan}.sh with MODE set.
# A counter container (memory, file system, logs), an echo server with TCP and UDP
# sessions from a container on another node and from the outside through a published
# port, checked byte for byte across node1 -> node2 -> node1; then the bad requests,
# a restore that fails and a destination agent that dies mid-transfer, each of which
# must leave the container running where it was with its session intact.
. "$(dirname "$0")/lib.sh"

migration_rootfs
lab_up 3 "$MODE"
TMP=$(mktemp -d /tmp/petrel-mig-XXXXXX)
trap 'rc=$?; rm -rf "$TMP"; cleanup $rc' EXIT
state_dir() { echo "/run/petrel/labs/$LAB/$1/state"; }
# NODE: no runc restore left waiting at its gate, and web's criu.conf no longer a FIFO
no_held_restore() {
	local s; s=$(state_dir "$1")
	for _ in $(seq 100); do pgrep -f -- "--root $s/runc .*restore" >/dev/null || break; sleep 0.1; done
	pgrep -f -- "--root $s/runc .*restore" >/dev/null && fail "a runc restore still waits on $1"
	[ -p "$s/containers/web/criu.conf" ] && fail "web's criu.conf on $1 is still the gate's FIFO"
	true
}


# --- the counter: memory, file system and logs survive
p --node node1 run counter --rootfs "$ROOTFS" -- sh -c \
	'i=0; while :; do i=$((i+1)); echo $i; echo $i >/count; sleep 0.05; done' >/dev/null \
	|| fail "run counter"
sleep 1
p --node node1 exec counter -- sh -c 'echo shared >/dev/shm/mark' || fail "write /dev/shm"
before=$(p --node node1 logs counter | tail -n1)
r=$(migrate counter node2)
ok "counter migrated: $(echo "$r" | jq -c '{frozen_ms, total_ms, bytes, mode}')"
[ "$(where counter)" = "node2 running" ] || fail "counter is '$(where counter)' after migration"
sleep 1
logs=$(p --node node2 logs counter)
# Every number from 1 on, each exactly once, in order: the shell's memory went along.
echo "$logs" | awk 'NR != $1 { bad = 1 } END { exit bad }' || fail "counter did not continue: $(echo "$logs" | tr '\n' ' ' | tail -c 300)"
after=$(echo "$logs" | tail -n1)
[ "$after" -gt "$before" ] || fail "counter did not advance ($before -> $after)"
# The counter rewrites /count (truncate, then write) every 50 ms: a read may fall between.
for _ in $(seq 20); do file=$(p --node node2 exec counter -- cat /count) && [ -n "$file" ] && break; done
[ "$file" -ge "$before" ] || fail "the file written before migration is gone ($file)"
ok "counter resumed from $before (now $after), its file changes came along"
[ "$(p --node node2 exec counter -- cat /dev/shm/mark)" = shared ] || fail "/dev/shm lost its file"
# The masked directories came across as empty read-only mounts, still hiding the host's.
masked=$(p --node node2 exec counter -- sh -c 'for d in /proc/acpi /sys/firmware; do
	[ -d $d ] || continue; [ -z "$(ls -A $d)" ] && ! touch $d/x 2>/dev/null && echo $d; done')
[ -n "$masked" ] && [ "$(p --node node2 exec counter -- sh -c 'ls -d /proc/acpi /sys/firmware 2>/dev/null' | wc -l)" = "$(echo "$masked" | wc -l)" ] \
	|| fail "masked directories not empty and read-only after migration: '$masked'"
ok "/dev/shm kept its file; $(echo $masked) still masked"
# Back in lazy (post-copy) mode: memory follows on demand after the restore.
r=$(p -j migrate counter --to node1 --lazy 2>"$TMP/migrate.err") || {
	cat "$TMP/migrate.err" >&2; fail "migrate counter --to node1 --lazy"; }
[ "$(echo "$r" | jq -r .mode)" = lazy ] || fail "lazy report: $r"
# Its restore, too, started before the freeze and waited at the gate for the images.
echo "$r" | jq -e '.early_restore == true' >/dev/null || fail "lazy restore not started early: $r"
[ "$(where counter)" = "node1 running" ] || fail "counter is '$(where counter)' after a lazy migration"
sleep 1
logs=$(p --node node1 logs counter)
echo "$logs" | awk 'NR != $1 { bad = 1 } END { exit bad }' || fail "counter did not continue after the lazy migration"
[ "$(echo "$logs" | tail -n1)" -gt "$after" ] || fail "counter did not advance after the lazy migration"
ok "lazy migration: counter continued to $(echo "$logs" | tail -n1), $(echo "$r" | jq -c '{frozen_ms, total_ms, bytes}')"
p --node node1 rm counter --force >/dev/null || fail "rm counter"

# --- echo server with in-cluster and outside sessions, TCP and UDP
p --node node1 run web --rootfs "$ROOTFS" --publish 8080:7000/tcp --publish 8081:7001/udp \
	--label app=web -- sh -c 'socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE &
	exec udp_echo 7001' >/dev/null || fail "run web"
p --node node3 endpoint add client >/dev/null || fail "endpoint add client"
WEB4=$(ep_field web ipv4)
WEB6=$(ep_field web ipv6)
CLIENT_NS=$(ep_ns client)
N1=$(node_ip node1 4)
N2=$(node_ip node2 4)
for i in $(seq 50); do in_ns "$CLIENT_NS" socat -T1 - "TCP:$WEB4:7000" </dev/null >/dev/null 2>&1 && break; sleep 0.1; done

session tcp4 "$CLIENT_NS" "$WEB4" 7000
session tcp6 "$CLIENT_NS" "$WEB6" 7000
session udp "$CLIENT_NS" "$WEB4" 7001 --udp
session outside "$LAB-outside" "$N1" 8080
session outside_udp "$LAB-outside" "$N1" 8081 --udp
sleep 0.5

r=$(migrate web node2)
[ "$(where web)" = "node2 running" ] || fail "web is '$(where web)' after migrating to node2"
[ "$(echo "$r" | jq .tcp_connections)" -ge 3 ] || fail "report counts $(echo "$r" | jq .tcp_connections) TCP connections: $r"
[ "$(echo "$r" | jq .relayed_flows)" -ge 2 ] || fail "report counts $(echo "$r" | jq .relayed_flows) relayed flows: $r"
for k in total_ms frozen_ms bytes tcp_connections udp_flows mode floor_ms frozen_over_floor; do
	echo "$r" | jq -e "has(\"$k\")" >/dev/null || fail "report lacks $k: $r"
done
# node2 started runc restore while it prepared, before the freeze.
echo "$r" | jq -e '.early_restore == true' >/dev/null || fail "no early restore on node2: $r"
# The floor is CRIU's own dump and restore, from its logs: part of the freeze, never all.
echo "$r" | jq -e '.criu_dump_ms > 0 and .criu_restore_ms > 0 and .floor_ms == .criu_dump_ms + .criu_restore_ms
	and .floor_ms < .frozen_ms + 50' >/dev/null || fail "the report's floor is off: $r"
ok "web migrated node1 -> node2: $(echo "$r" | jq -c '{frozen_ms, total_ms, tcp_connections, udp_flows, relayed_flows, held_packets}')"
# Each node writes only its own record: node2's (epoch 1) is web's now, node1's is gone.
web_records() {
	etcd_curl /v3/kv/range -d "{\"key\":\"$(printf /petrel/endpoints/ | base64)\",\"range_end\":\"$(printf /petrel/endpoints0 | base64)\"}" |
		jq -r '.kvs[] | (.key | @base64d) + " " + (.value | @base64d | fromjson | .epoch | tostring)' | grep '/web '
}
for _ in $(seq 50); do [ "$(web_records)" = "/petrel/endpoints/node2/web 1" ] && break; sleep 0.1; done
[ "$(web_records)" = "/petrel/endpoints/node2/web 1" ] || fail "web's records after the migration: $(web_records)"
ok "web's record is node2's own (epoch 1); node1 removed its own"
# New connections use the port published on the new node.
got=$(echo new | timeout 5 ip netns exec "$LAB-outside" socat -T2 - "TCP:$N2:8080") || true
[ "$got" = new ] || fail "new connection through node2:8080 answered '$got'"
ok "a new connection through node2's published port reaches web"
sleep 1
# Back the way it went before the early restore: runc starts once the images are there.
touch "$(state_dir node1)/no-early-restore"
r=$(migrate web node1)
rm -f "$(state_dir node1)/no-early-restore"
[ "$(where web)" = "node1 running" ] || fail "web is '$(where web)' after migrating back"
echo "$r" | jq -e '.early_restore == false' >/dev/null || fail "node1 restored early: $r"
ok "web migrated back node2 -> node1, runc restore after the images: $(echo "$r" | jq -c '{frozen_ms, total_ms}')"
sleep 1

# --- a node may only move what cluster state says it may: node3's own certificate, used to
# push web (node1's) to node2, is refused, and node2 builds nothing
PKI=/run/petrel/labs/$LAB/pki
push_as_node3() {   # ID: a migrate request for web, as node3, to node2's peer port
	local hello
	hello=$(jq -nc --arg id "$1" --argjson c "$(p --node node1 -j ps | jq -c '.[] | select(.name=="web")')" \
		--argjson e "$(p --node node1 -j endpoint show web)" \
		'{op: "migrate", id: $id, lazy: false, container: $c, endpoint: $e}')
	{ echo "$hello"; sleep 2; } | timeout 10 ip netns exec "$LAB-node3" openssl s_client -quiet \
		-connect "$(node_ip node2 4):4791" -verify_hostname node2 -verify_return_error \
		-CAfile "$PKI/ca.pem" -cert "$PKI/node3.pem" -key "$PKI/node3.key" 2>/dev/null
}
out=$(push_as_node3 web-node1-1-1)
grep -q "no claim" <<<"$out" || fail "node2 did not refuse node3's unclaimed push: $out"
grep -q "node3" "/run/petrel/labs/$LAB/node2/petreld.log" || true
ip netns list | grep -q "web.node2" && fail "node2 built a namespace for node3's push"
[ ! -e "$(state_dir node2)/containers/web" ] || fail "node2 made a bundle for node3's push"
[ "$(where web)" = "node1 running" ] || fail "web is '$(where web)' after node3's push"
# A claim in cluster state for node1's migration does not let node3 use it either.
claim=$(jq -nc '{id: "web-node1-9-9", from: "node1", to: "node2"}')
etcd_curl /v3/kv/put -d \
	"$(jq -nc --arg k "$(printf /petrel/migrations/web | base64)" --arg v "$(printf %s "$claim" | base64)" '{key: $k, value: $v}')" >/dev/null ||
	fail "cannot plant a claim"
out=$(push_as_node3 web-node1-9-9)
grep -q "no claim" <<<"$out" || fail "node2 accepted node3's push under node1's claim: $out"
etcd_curl /v3/kv/deleterange -d "$(jq -nc --arg k "$(printf /petrel/migrations/web | base64)" '{key: $k}')" >/dev/null
[ "$(where web)" = "node1 running" ] || fail "web is '$(where web)' after node3's pushes"
ok "node3's certificate cannot push node1's container to node2 (with or without a claim); nothing was built"

finish "" udp outside_udp

# --- a container's /dev/shm made a link to a host file: no agent ever follows it
HOSTFILE=$TMP/host-file
echo secret >"$HOSTFILE"
chmod 0600 "$HOSTFILE"
p --node node1 run shm --rootfs "$ROOTFS" -- sleep 1000 >/dev/null || fail "run shm"
p --node node1 exec shm -- sh -c "rm -rf /dev/shm && ln -s $HOSTFILE /dev/shm" || fail "link /dev/shm"
p migrate shm --to node2 >"$TMP/shm.out" 2>&1 || true     # it may go through or roll back
[ "$(stat -c %a "$HOSTFILE")" = 600 ] || fail "the host file's mode became $(stat -c %a "$HOSTFILE")"
case "$(where shm)" in
"node1 running"|"node2 running") ;;
*) fail "shm is '$(where shm)' after migrating with a linked /dev/shm: $(cat "$TMP/shm.out")" ;;
esac
ok "a /dev/shm linked to a host file: its mode stays 600, shm runs on $(where shm | cut -d' ' -f1)"
p rm --force shm >/dev/null || fail "rm shm"

# --- bad requests fail before anything is frozen
bad() {
	local want=$1; shift
	out=$(p migrate "$@" 2>&1) && fail "migrate $* succeeded"
	echo "$out" | grep -q "$want" || fail "migrate $*: expected '$want', got: $out"
	echo "$out" | grep -q "rolled back" && fail "migrate $* froze something: $out"
	ok "migrate $*: $(echo "$out" | grep -m1 '^petrel:' | sed 's/^petrel: //')"
}
bad "does not exist" nope --to node2
bad "node 'node9' does not exist" web --to node9
bad "already runs on node1" web --to node1
bad "need a container NAME" web
bad "exclude each other" web --to node2 --lazy --pre-copy
# Pre-copy needs soft-dirty tracking: refused with the reason where the kernel lacks it,
# and with the modes that work where it has it.
criu=/opt/petrel/criu/bin/criu; [ -x $criu ] || criu=$(command -v criu)
if "$criu" check --feature mem_dirty_track >/dev/null 2>&1; then
	bad "do not pre-dump" web --to node2 --pre-copy
else
	bad "needs soft-dirty page tracking" web --to node2 --pre-copy
fi
p --node node1 run idle --rootfs "$ROOTFS" -- sleep 1000 >/dev/null || fail "run idle"
p --node node1 stop idle --timeout 1 >/dev/null
bad "not running" idle --to node2
# Two at once: whichever claims the container first goes through, the other is refused.
p migrate web --to node2 >"$TMP/one.out" 2>&1 &
one=$!
sleep 0.1
p migrate web --to node2 >"$TMP/two.out" 2>&1 &
two=$!
rc1=0; rc2=0
wait $one || rc1=$?
wait $two || rc2=$?
[ $((rc1 == 0)) -ne $((rc2 == 0)) ] ||
	fail "two concurrent migrations: exit codes $rc1 and $rc2: $(cat "$TMP/one.out" "$TMP/two.out")"
loser=$([ $rc1 -ne 0 ] && echo one || echo two)
grep -q "already being migrated" "$TMP/$loser.out" || fail "the refused migration says: $(cat "$TMP/$loser.out")"
grep -q "rolled back" "$TMP/$loser.out" && fail "the refused migration froze something"
ok "two concurrent migrations: one went through, the other was refused ($(grep -m1 '^petrel:' "$TMP/$loser.out"))"
[ "$(where web)" = "node2 running" ] || fail "web is '$(where web)'"

# A destination whose CRIU is missing, then too old: its agent restarted with criu = PATH.
restart_agent() {   # NODE EXTRA-FLAG
	local pid conf ns
	conf="/run/petrel/labs/$LAB/$1/petreld.conf"
	ns="$LAB-$1"
	if pid=$(pgrep -f -- "--config $conf"); then   # else it died: just start it
		kill $pid; for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	fi
	setsid "$PETRELD" --netns "$ns" --config "$conf" $2 >>"/run/petrel/labs/$LAB/$1/petreld.log" 2>&1 </dev/null &
	for _ in $(seq 100); do p --node "$1" node status >/dev/null 2>&1 && return 0; sleep 0.1; done
	fail "agent of $1 did not come back"
}
printf '#!/bin/sh\necho "Version: 3.17.1"\n' >"$TMP/old-criu"; chmod +x "$TMP/old-criu"
restart_agent node3 "--criu=$TMP/no-such-criu"
bad "node3 cannot restore" web --to node3
restart_agent node3 "--criu=$TMP/old-criu"
bad "older than 4.2" web --to node3
restart_agent node3 ""
[ "$(where web)" = "node2 running" ] || fail "web moved during bad requests: $(where web)"

# --- failures after the freeze roll back: the container keeps running where it was, with
# its TCP sessions intact
rolls_back() {   # FAULT NODE WHAT
	touch "$(state_dir "$2")/fault-$1"
	out=$(p migrate web --to "$2" 2>&1) && fail "a migration with $3 succeeded"
	echo "$out" | grep -q "rolled back" || fail "no rollback reported: $out"
	[ "$(where web)" = "node2 running" ] || fail "web is '$(where web)' after $3"
	ok "$3 rolls back: $(echo "$out" | grep '^petrel:' | tail -n1 | sed 's/^petrel: //')"
	sleep 1
}
rolls_back corrupt-images node1 "a restore that fails"
no_held_restore node1
rolls_back exit-in-transfer node3 "the destination agent dying mid-transfer"
# The source's own agent dies with the container frozen: once restarted, it resumes it.
touch "$(state_dir node2)/fault-source-exit-after-dump"
p migrate web --to node1 >/dev/null 2>&1 && fail "a migration whose source agent died succeeded"
restart_agent node2 ""
for _ in $(seq 50); do [ "$(where web)" = "node2 running" ] && break; sleep 0.2; done
[ "$(where web)" = "node2 running" ] || fail "web is '$(where web)' after its agent died mid-migration"
ip netns exec "$LAB-node2" iptables -t raw -S | grep -q petrel-hold && fail "stale hold rules on node2"
ok "the source agent dying with the container frozen: restarted, it resumes web"
sleep 1

# --- on to a third node: node1 -> node2 -> node3 for the flows that came in through
# node1's port (node1 now forwards them to node3), and the in-cluster client becomes local
restart_agent node3 ""          # the mid-transfer fault above made it exit
no_held_restore node3           # its CRIU, held at the gate, let go at the latest now
r=$(migrate web node3)
[ "$(where web)" = "node3 running" ] || fail "web is '$(where web)' after node2 -> node3"
ok "web migrated node2 -> node3: $(echo "$r" | jq -c '{frozen_ms, tcp_connections, relayed_flows}')"
got=$(echo third | timeout 5 ip netns exec "$LAB-outside" socat -T2 - "TCP:$(node_ip node3 4):8080") || true
[ "$got" = third ] || fail "a new connection through node3:8080 answered '$got'"
ok "a new connection through node3's published port reaches web"
sleep 1

# --- the TCP sessions survived all of it, in-cluster and through the published port
finish "" tcp4 tcp6 outside
