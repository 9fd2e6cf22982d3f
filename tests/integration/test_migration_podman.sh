#!/usr/bin/env bash
# Podman's own containers migrate: a Podman container on the petrel network (each lab node
# its own Podman storage), with an in-cluster client and an outside client through its
# published port, goes node1 -> node2 -> node1 by `petrel migrate` (Podman's checkpoint
# and restore, driven by petrel) with both sessions byte for byte; Podman on the
# destination runs it with the same addresses and the source's no longer has it. A
# restore that fails rolls back with the sessions intact. Bad input is refused.
. "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || skip "podman is not installed (scripts/install-deps.sh installs it)"
migration_rootfs
lab_up 3 vxlan
TMP=$(mktemp -d /tmp/petrel-podmig-XXXXXX)
trap 'rc=$?; for n in node1 node2 node3; do p lab exec $n -- podman rm -af -t 0 >/dev/null 2>&1; done;
	rm -rf "$TMP"; cleanup $rc' EXIT
pod() { local n=$1; shift; p lab exec "$n" -- podman "$@"; }
state_dir() { echo "/run/petrel/labs/$LAB/$1/state"; }
N1=$(node_ip node1 4)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)   # see test_cni_podman.sh

tar -C "$ROOTFS" -cf "$TMP/rootfs.tar" .
for n in node1 node2; do
	pod "$n" import "$TMP/rootfs.tar" localhost/petrel-echo:1 >/dev/null 2>&1 || fail "podman import on $n"
done
pod node1 run -d --name web --network petrel -p 8090:7000 "${LIMITS[@]}" localhost/petrel-echo:1 \
	socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE >/dev/null || fail "podman run web"
EP=$(p --node node1 -j endpoint list | jq -r '.[] | select(.labels["io.kubernetes.pod.name"] == "web") | .name')
[ -n "$EP" ] || fail "web is not a petrel endpoint"
WEB4=$(ep_field "$EP" ipv4)
WEB6=$(ep_field "$EP" ipv6)
p --node node3 endpoint add client >/dev/null || fail "endpoint add client"
CLIENT_NS=$(ep_ns client)
for _ in $(seq 50); do in_ns "$CLIENT_NS" socat -T1 - "TCP:$WEB4:7000" </dev/null >/dev/null 2>&1 && break; sleep 0.1; done

session incluster "$CLIENT_NS" "$WEB4" 7000
session outside "$LAB-outside" "$N1" 8090
sleep 0.5

# addrs NODE: the container's addresses as that node's Podman sees them
addrs() { pod "$1" inspect web --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.GlobalIPv6Address}}{{end}}'; }
moved_to() {   # NODE FROM
	local r
	r=$(migrate web "$1")
	[ "$(echo "$r" | jq -r .mode)" = podman ] || fail "not a Podman migration: $r"
	[ "$(pod "$1" ps --filter name=web --format '{{.Status}}')" != "" ] || fail "Podman on $1 does not run web"
	[ "$(addrs "$1")" = "$WEB4 $WEB6" ] || fail "web on $1 has addresses '$(addrs "$1")', not $WEB4 $WEB6"
	[ -z "$(pod "$2" ps -a --filter name=web --format '{{.Names}}')" ] || fail "Podman on $2 still has web"
	[ "$(p --node node3 -j endpoint show "$EP" | jq -r .node)" = "$1" ] || fail "the endpoint is not on $1"
	ok "web (Podman) migrated to $1 with $WEB4 and $WEB6; $2's Podman no longer has it: $(echo "$r" |
		jq -c '{frozen_ms, total_ms, checkpoint_ms, restore_ms, relayed_flows}')"
}
moved_to node2 node1
p --node node2 -j node relays | jq -e '[.through[] | select(.via == "node1" and .endpoint_port == 7000)] | length >= 1' \
	>/dev/null || fail "node2 does not send the outside client's flow back through node1: $(p --node node2 -j node relays)"
ok "node2 sends the outside client's replies back through node1, which published the port"
sleep 1
moved_to node1 node2

# A restore that fails on the destination: web runs on node1 again, sessions intact.
touch "$(state_dir node2)/fault-podman-restore-fail"
out=$(p migrate web --to node2 2>&1) && fail "a migration whose restore failed succeeded"
grep -q "rolled back" <<<"$out" || fail "no rollback reported: $out"
[ -n "$(pod node1 ps --filter name=web --format '{{.Names}}')" ] || fail "web does not run on node1 after the rollback"
[ "$(addrs node1)" = "$WEB4 $WEB6" ] || fail "web came back with '$(addrs node1)'"
[ -z "$(pod node2 ps -a --filter name=web --format '{{.Names}}')" ] || fail "node2 kept a copy of web"
[ "$(p --node node3 -j endpoint show "$EP" | jq -r .node)" = node1 ] || fail "the endpoint left node1"
ok "a failed restore on node2 rolls back: web runs on node1 with its addresses ($(grep -m1 '^petrel:' <<<"$out"))"
sleep 1

# The source's agent dies right after Podman's checkpoint: restarted, it has Podman
# restore web here from that checkpoint (the claim was never committed).
touch "$(state_dir node1)/fault-podman-source-exit-after-checkpoint"
p migrate web --to node2 >/dev/null 2>&1 && fail "a migration whose source agent died succeeded"
conf=/run/petrel/labs/$LAB/node1/petreld.conf
for _ in $(seq 50); do pgrep -f -- "--config $conf" >/dev/null || break; sleep 0.1; done
setsid "$PETRELD" --netns "$LAB-node1" --config "$conf" >>"/run/petrel/labs/$LAB/node1/petreld.log" 2>&1 </dev/null &
for _ in $(seq 150); do
	[ -n "$(pod node1 ps --filter name=web --filter status=running --format '{{.Names}}')" ] && break
	sleep 0.2
done
[ -n "$(pod node1 ps --filter name=web --filter status=running --format '{{.Names}}')" ] ||
	fail "web is not running on node1 after its agent restarted: $(pod node1 ps -a --format '{{.Names}} {{.Status}}')"
[ "$(addrs node1)" = "$WEB4 $WEB6" ] || fail "web came back with '$(addrs node1)'"
[ -z "$(pod node2 ps -a --filter name=web --format '{{.Names}}')" ] || fail "node2 kept a copy of web"
ok "the source's agent dying after Podman's checkpoint: restarted, it restores web on node1"
sleep 1

finish " over two migrations, a rollback and a source agent's death" incluster outside

# Bad input: --lazy, no such node, a Podman container not on a petrel network, a node
# without Podman.
expect_error "--lazy for a Podman container" "not Podman's" p migrate web --to node2 --lazy
expect_error "a Podman container to a node that does not exist" "node 'node9' does not exist" \
	p migrate web --to node9
pod node1 run -d --name loner --network none "${LIMITS[@]}" localhost/petrel-echo:1 sleep 1000 >/dev/null ||
	fail "podman run loner"
expect_error "a Podman container not on a petrel network" "is not on a petrel network" \
	p --node node1 migrate loner --to node2
mkdir -p "$TMP/nopodman"
printf '#!/bin/sh\necho "podman: not here" >&2\nexit 127\n' >"$TMP/nopodman/podman"
chmod +x "$TMP/nopodman/podman"
conf=/run/petrel/labs/$LAB/node3/petreld.conf
kill "$(pgrep -f -- "--config $conf")"
for _ in $(seq 50); do pgrep -f -- "--config $conf" >/dev/null || break; sleep 0.1; done
PATH="$TMP/nopodman:$PATH" setsid "$PETRELD" --netns "$LAB-node3" --config "$conf" \
	>>"/run/petrel/labs/$LAB/node3/petreld.log" 2>&1 </dev/null &
for _ in $(seq 100); do p --node node3 node status >/dev/null 2>&1 && break; sleep 0.1; done
expect_error "a destination without Podman" "node node3 has no Podman" p migrate web --to node3
[ -n "$(pod node1 ps --filter name=web --format '{{.Names}}')" ] || fail "a refused migration stopped web"
ok "refusals leave web running on node1"

# Podman's own manual path keeps the addresses as well: the restore on node2 asks for them,
# and petrel-cni grants them (no endpoint holds them once the checkpoint unplugged it).
pod node1 container checkpoint --tcp-established --export "$TMP/manual.tar" web >/dev/null 2>&1 ||
	fail "podman container checkpoint --export"
pod node2 container restore --tcp-established --import "$TMP/manual.tar" >/dev/null 2>&1 ||
	fail "podman container restore --import on node2"
[ "$(addrs node2)" = "$WEB4 $WEB6" ] || fail "Podman's own restore on node2 got '$(addrs node2)', not $WEB4 $WEB6"
[ "$(p --node node3 -j endpoint show "$EP" | jq -r '.node + " " + (.moved | tostring)')" = "node2 true" ] ||
	fail "the endpoint after Podman's own restore: $(p --node node3 -j endpoint show "$EP")"
expect_echo "$CLIENT_NS" TCP "$WEB4" 7000 "Podman's own checkpoint and restore keep web's address (node2 routes node1's $WEB4)"
pod node1 rm -f web >/dev/null 2>&1
