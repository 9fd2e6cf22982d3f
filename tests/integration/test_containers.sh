#!/usr/bin/env bash
# Containers on a 2-node vxlan lab: petrel run/ps/logs/exec/stop/rm with runc, the overlay
# rootfs, published ports, cross-node traffic, a local CRIU checkpoint/restore with an
# established TCP connection, and bad input that must leave nothing behind.
. "$(dirname "$0")/lib.sh"

[ -x /usr/sbin/runc ] || skip "runc is not installed (apt-get install runc)"
command -v busybox >/dev/null || skip "busybox-static is not installed"
CRIU=/opt/petrel/criu/bin/criu
[ -x "$CRIU" ] || CRIU=$(command -v criu || true)

# One rootfs for every run of this test, built on first use; never modified by containers.
ROOTFS=$BUILD/test-rootfs
if [ ! -x "$ROOTFS/usr/bin/socat" ]; then
	rm -rf "$ROOTFS.tmp"
	"$ROOT/scripts/mkrootfs.sh" "$ROOTFS.tmp" socat >/dev/null || fail "mkrootfs.sh"
	rm -rf "$ROOTFS" && mv "$ROOTFS.tmp" "$ROOTFS"
fi
rootfs_sum() { (cd "$ROOTFS" && find . -printf '%p %s %m\n' | sort | md5sum); }
SUM=$(rootfs_sum)

lab_up 2 vxlan
STATE1=/run/petrel/labs/$LAB/node1/state
ct() { p --node node1 -j ps | jq -r ".[] | select(.name==\"$1\") | .$2"; }
# wait_state NAME STATE: bounded wait for a state change seen through ps.
wait_state() {
	local i
	for i in $(seq 50); do
		[ "$(ct "$1" state)" = "$2" ] && return 0
		sleep 0.1
	done
	fail "$1 did not become $2 (is $(ct "$1" state))"
}

# --- run, logs, overlay ------------------------------------------------------------------
p --node node1 run c1 --rootfs "$ROOTFS" --env GREETING=hello --label app=c -- \
	sh -c 'echo "$GREETING from $(hostname)"; echo data >/written; exec sleep 1000' >/dev/null \
	|| fail "run c1"
wait_state c1 running
for i in $(seq 50); do p --node node1 logs c1 | grep -q "hello from c1" && break; sleep 0.1; done
p --node node1 logs c1 | grep -qx "hello from c1" || fail "logs c1: $(p --node node1 logs c1)"
ok "run: the container's output shows in logs (env and hostname applied)"
p --node node2 logs c1 | grep -qx "hello from c1" || fail "logs through node2"
ok "logs: asked of another lab node, the CLI finds the hosting node"
[ "$(p --node node1 -j logs c1 | jq -r .log)" = "hello from c1" ] || fail "logs -j: $(p --node node1 -j logs c1)"
ok "logs -j gives the log as one JSON object"
[ "$(cat "$STATE1/containers/c1/upper/written")" = data ] || fail "written file not in upper/"
[ ! -e "$ROOTFS/written" ] && [ "$(rootfs_sum)" = "$SUM" ] || fail "rootfs dir was modified"
ok "overlay: the file lands in upper/, the rootfs directory is untouched"
mount | grep -q " $STATE1/containers/c1/rootfs type overlay" || fail "no overlay mount"
for fd in 0 1 2; do
	[[ $(readlink "/proc/$(ct c1 pid)/fd/$fd") == pipe:* ]] || fail "fd $fd of c1 is not a pipe"
done
ok "stdio: fds 0, 1, 2 of the container are pipes"

# --- ps -j ---------------------------------------------------------------------------------
J=$(p --node node2 -j ps | jq -c '.[] | select(.name=="c1")')
for k in name node state pid ipv4 ipv6 publish; do
	[ "$(jq "has(\"$k\")" <<<"$J")" = true ] || fail "ps -j lacks $k: $J"
done
[ "$(jq -r .node <<<"$J")" = node1 ] && [ "$(jq -r .state <<<"$J")" = running ] &&
	[ "$(jq -r .pid <<<"$J")" -gt 0 ] && [ "$(jq -r .ipv4 <<<"$J")" = "$(ep_field c1 ipv4)" ] &&
	[ "$(jq -r .ipv6 <<<"$J")" = "$(ep_field c1 ipv6)" ] || fail "ps -j values: $J"
ok "ps -j (from node2): name, node, state, pid, ipv4, ipv6, publish"
p --node node1 ps | grep -q '^c1 .*running' || fail "ps table"
ok "ps prints a table"

# --- exec ----------------------------------------------------------------------------------
[ "$(p --node node1 exec c1 -- cat /written)" = data ] || fail "exec cat"
set +e
p --node node1 exec c1 -- sh -c 'exit 7'
rc=$?
set -e
[ $rc -eq 7 ] || fail "exec exit status $rc, expected 7"
ok "exec runs inside the container and returns the command's exit status"

# --- latency streams: each container sees its own socket, never another's ------------------
p --node node1 run c9 --rootfs "$ROOTFS" -- sleep 1000 >/dev/null || fail "run c9"
wait_state c9 running
p --node node1 latency enable c1 >/dev/null && p --node node1 latency enable c9 >/dev/null ||
	fail "latency enable c1 c9"
[ "$(p --node node1 exec c1 -- ls /run/petrel)" = latency.sock ] ||
	fail "c1 sees in /run/petrel: $(p --node node1 exec c1 -- ls /run/petrel)"
p --node node1 exec c1 -- sh -c 'ls -R /run/petrel; cat /proc/mounts' | grep -q 'c9' &&
	fail "c1 can see c9's latency stream"
line=$(p --node node1 exec c1 -- timeout 2 socat -u UNIX-CONNECT:/run/petrel/latency.sock - | head -1)
[ "$(jq -r .endpoint <<<"$line")" = c1 ] || fail "c1 cannot read its own stream: $line"
C9SOCK=$STATE1/latency/c9/latency.sock
line=$(ip netns exec "$(ep_ns c1)" timeout 2 socat -u UNIX-CONNECT:"$C9SOCK" - | head -1)
grep -q "not this endpoint's stream" <<<"$line" || fail "c1's namespace read c9's stream: $line"
p --node node1 latency disable c1 >/dev/null && p --node node1 latency disable c9 >/dev/null
p --node node1 rm --force c9 >/dev/null || fail "rm c9"
[ ! -e "$STATE1/latency/c9" ] || fail "c9's latency directory left behind"
ok "latency: a container sees only its own record socket, and another endpoint's namespace is refused"


# --- published port, cross-node ------------------------------------------------------------
p --node node1 run web --rootfs "$ROOTFS" --publish 18080:80 --memory 64M -- \
	socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 PIPE >/dev/null || fail "run web"
[ "$(ct web publish | jq -c '.[0]')" = '{"host_port":18080,"port":80,"proto":"tcp"}' ] || fail "web publish"
limit=$(cat "/sys/fs/cgroup/memory/petrel/node1/$(ep_ns web)/memory.limit_in_bytes")
[ "$limit" = $((64 << 20)) ] && [ "$(ct web memory)" = $((64 << 20)) ] || fail "memory limit $limit"
ok "--memory 64M sets the cgroup's memory limit (cgroup /petrel/node1/<netns>)"
curl -s --unix-socket "/run/petrel/labs/$LAB/node1/petreld.sock" http://petrel/metrics |
	grep -qx "petrel_containers{node=\"node1\",state=\"running\"} 2" || fail "metrics gauge"
ok "metrics: petrel_containers counts this node's containers by state"
wait_port "$(ep_ns web)" 80
expect_echo "$LAB-outside" TCP "$(node_ip node1 4)" 18080 "published port 18080 reaches the container from outside"

p --node node2 run srv2 --rootfs "$ROOTFS" -- socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE \
	>/dev/null || fail "run srv2"
wait_port "$(ep_ns srv2)" 7000
for fam in 4 6; do
	ip=$(p --node node1 -j ps | jq -r ".[] | select(.name==\"srv2\") | .ipv$fam")
	got=$(p --node node1 exec c1 -- sh -c "echo ping$fam | socat -t 2 - TCP:$(addr "$ip"):7000")
	[ "$got" = "ping$fam" ] || fail "c1 (node1) -> srv2 (node2) over IPv$fam: '$got'"
done
ok "a container on node1 reaches one on node2 by IPv4 and IPv6"

# --- checkpoint and restore with an established TCP connection ------------------------------
if [ -n "$CRIU" ]; then
	SOCK=/run/petrel/labs/$LAB/node1/petreld.sock
	api() { curl -s --max-time 60 --unix-socket "$SOCK" -X POST -d "$2" "http://petrel/v1/containers/$1"; }
	p --node node1 run counter --rootfs "$ROOTFS" -- \
		sh -c 'i=0; while :; do echo "n=$i"; i=$((i+1)); sleep 0.1; done' >/dev/null || fail "run counter"
	IMG=$(mktemp -d /tmp/petrel-ckpt.XXXXXX)
	trap 'rc=$?; rm -rf "$IMG" "$IMG.in" "$IMG.out"; cleanup $rc' EXIT
	FIFO=$IMG.in
	mkfifo "$FIFO"
	sleep 1000 >"$FIFO" &
	HOLD=$!
	ip netns exec "$LAB-outside" socat - "TCP:$(node_ip node1 4):18080" <"$FIFO" >"$IMG.out" 2>&1 &
	echo before >"$FIFO"
	for i in $(seq 30); do grep -q before "$IMG.out" && break; sleep 0.1; done
	grep -q before "$IMG.out" || fail "no echo before checkpoint"
	for c in web counter; do
		r=$(api $c/checkpoint "{\"image_path\":\"$IMG/$c\"}")
		[ "$(jq -r .state <<<"$r")" = stopped ] || fail "checkpoint $c: $r"
	done
	ip netns exec "$(ep_ns web)" ss -tnH | grep -q ESTAB && fail "connection still in the netns after checkpoint"
	n1=$(p --node node1 logs counter | tail -1)
	for c in web counter; do
		r=$(api $c/restore "{\"image_path\":\"$IMG/$c\"}")
		[ "$(jq -r .state <<<"$r")" = running ] || fail "restore $c: $r"
	done
	echo after >"$FIFO"
	for i in $(seq 30); do grep -q after "$IMG.out" && break; sleep 0.1; done
	grep -q after "$IMG.out" || fail "the established connection did not survive checkpoint/restore"
	ok "checkpoint + restore (CRIU, --tcp-established): the established connection from outside still echoes"
	sleep 0.5
	n2=$(p --node node1 logs counter | tail -1)
	[ "${n2#n=}" -gt "${n1#n=}" ] || fail "counter log after restore: $n1 then $n2"
	p --node node1 logs counter | grep -c "^${n1}\$" | grep -qx 1 || fail "counter restarted instead of resuming"
	ok "restored counter resumes from where it was ($n1 -> $n2) and its output still reaches logs"
	r=$(api web/checkpoint "{\"image_path\":\"$IMG/web2\",\"leave_running\":true}")
	[ "$(jq -r .state <<<"$r")" = running ] && [ -s "$IMG/web2/pstree.img" ] || fail "checkpoint --leave-running: $r"
	echo again >"$FIFO"
	for i in $(seq 30); do grep -q again "$IMG.out" && break; sleep 0.1; done
	grep -q again "$IMG.out" || fail "connection after a checkpoint with leave_running"
	ok "checkpoint with leave_running: images written, the container and its connection keep going"
	kill $HOLD 2>/dev/null || true
	rm -rf "$IMG" "$IMG.in" "$IMG.out"
	p --node node1 rm --force counter >/dev/null || fail "rm counter"
else
	log "no CRIU: checkpoint/restore not tested"
fi

# --- stop, exited -------------------------------------------------------------------------
# sleep as pid 1 ignores SIGTERM: SIGKILL after the timeout.
p --node node1 stop c1 --timeout 1 >/dev/null || fail "stop c1"
[ "$(ct c1 state)" = stopped ] && [ "$(ct c1 exit_code)" = 137 ] || fail "after stop: $(ct c1 state) $(ct c1 exit_code)"
ok "stop: SIGTERM then SIGKILL after the timeout; state stopped, exit code 137"
p --node node1 stop c1 >/dev/null || fail "stopping a stopped container"
if out=$(p --node node1 exec c1 -- true 2>&1) || ! grep -q "not running" <<<"$out"; then
	fail "exec into a stopped container: $out"
fi
p --node node1 run short --rootfs "$ROOTFS" -- sh -c 'echo bye; exit 3' >/dev/null || fail "run short"
wait_state short exited
[ "$(ct short exit_code)" = 3 ] && [ "$(p --node node1 logs short)" = bye ] || fail "short: exit $(ct short exit_code)"
ok "a container whose process ends becomes exited with its exit code"

# --- agent restart -----------------------------------------------------------------------
# A chatty container keeps running while its agent is down (its pipes stay open), and the
# restarted agent resumes capturing its output: no line is lost.
p --node node1 run chatty --rootfs "$ROOTFS" -- \
	sh -c 'i=0; while :; do echo "n=$i"; i=$((i+1)); sleep 0.05; done' >/dev/null || fail "run chatty"
sleep 0.3
apid=$(p -j lab status | jq -r '.nodes[] | select(.name=="node1") | .pid')
kill -TERM "$apid"
for i in $(seq 50); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
sleep 0.5
setsid "$PETRELD" --netns "$LAB-node1" --config "/run/petrel/labs/$LAB/node1/petreld.conf" \
	>>"/run/petrel/labs/$LAB/node1/petreld.log" 2>&1 </dev/null &
for i in $(seq 100); do p --node node1 node status >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5
[ "$(ct chatty state)" = running ] || fail "chatty after the agent restart: $(ct chatty state)"
last=$(p --node node1 logs chatty | tail -1)
p --node node1 logs chatty | awk -v want=0 '{ if ($0 != "n=" want) { print "gap at " $0 " (wanted n=" want ")"; exit 1 } want++ }' \
	|| fail "chatty's log has a gap across the agent restart"
[ "${last#n=}" -gt 20 ] || fail "chatty's log stopped at $last"
ok "agent restart: the container keeps running and its log continues without a gap (up to $last)"
holder=$(cat "$STATE1/containers/chatty/stdio.pid")
p --node node1 rm --force chatty >/dev/null || fail "rm chatty"
for i in $(seq 20); do kill -0 "$holder" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$holder" 2>/dev/null || fail "stdio holder $holder of chatty still runs after rm"

# --- rm ------------------------------------------------------------------------------------
gone() {   # NAME NETNS: nothing of the container is left on node1
	[ ! -e "$STATE1/containers/$1" ] || fail "$1: bundle left"
	! grep -q "$STATE1/containers/$1/" /proc/self/mountinfo || fail "$1: mount left: $(grep "$STATE1/containers/$1/" /proc/self/mountinfo)"
	! ip netns list | grep -qw "$2" || fail "$1: netns $2 left"
	! p --node node1 -j endpoint list | jq -e ".[] | select(.name==\"$1\")" >/dev/null || fail "$1: endpoint left"
	! p --node node2 -j ps | jq -e ".[] | select(.name==\"$1\")" >/dev/null || fail "$1: record left"
	! /usr/sbin/runc --root "$STATE1/runc" list -q | grep -qx "$1" || fail "$1: runc state left"
}
NS=$(ep_ns web)
if p --node node1 rm web 2>/dev/null; then fail "rm of a running container without --force"; fi
p --node node1 rm --force web >/dev/null || fail "rm --force web"
gone web "$NS"
NS=$(ep_ns c1)
p --node node1 rm c1 >/dev/null || fail "rm c1"
gone c1 "$NS"
p --node node1 rm short >/dev/null
ok "rm (and rm --force of a running one) removes bundle, mount, endpoint, netns, runc state and record"

# --- bad input ----------------------------------------------------------------------------
expect_err() {   # WHAT PATTERN CMD...: fails (non-zero) with PATTERN in its message
	local what=$1 pat=$2 out
	shift 2
	if out=$("$@" 2>&1); then fail "$what: succeeded: $out"; fi
	grep -qi -- "$pat" <<<"$out" || fail "$what: unexpected message: $out"
}
expect_err "duplicate name" "already exists on node node2" p --node node1 run srv2 --rootfs "$ROOTFS" -- true
expect_err "missing rootfs" "No such file" p --node node1 run x1 --rootfs /nonexistent/rootfs -- true
expect_err "rootfs is a file" "not a directory" p --node node1 run x1 --rootfs /etc/hostname -- true
expect_err "missing CMD" "missing the command" p --node node1 run x1 --rootfs "$ROOTFS"
expect_err "missing --rootfs" "give --rootfs DIR or --image REF" p --node node1 run x1 -- true
expect_err "bad publish" "publish" p --node node1 run x1 --rootfs "$ROOTFS" --publish 80 -- true
expect_err "bad label" "label" p --node node1 run x1 --rootfs "$ROOTFS" --label "a b=c" -- true
expect_err "bad env" "KEY=VALUE" p --node node1 run x1 --rootfs "$ROOTFS" --env 1A=b -- true
expect_err "bad memory" "memory" p --node node1 run x1 --rootfs "$ROOTFS" --memory lots -- true
expect_err "bad name" "not a valid container name" p --node node1 run X1 --rootfs "$ROOTFS" -- true
expect_err "runc failing" "no such file" p --node node1 run x1 --rootfs "$ROOTFS" -- /no/such/program
p --node node2 endpoint add holder --publish 19090:80 >/dev/null
expect_err "port taken" "already published" p --node node2 run x2 --rootfs "$ROOTFS" --publish 19090:80 -- true
expect_err "name of an endpoint" "endpoint 'holder' already exists" p --node node2 run holder --rootfs "$ROOTFS" -- true
! p --node node1 -j ps | jq -e '.[] | select(.name=="holder")' >/dev/null || fail "record of holder left"
p --node node2 endpoint del holder >/dev/null
gone x1 "$LAB-ep-x1"
[ ! -e "/run/petrel/labs/$LAB/node2/state/containers/x2" ] && ! ip netns list | grep -qw "$LAB-ep-x2" &&
	! p --node node2 -j ps | jq -e '.[] | select(.name=="x2")' >/dev/null || fail "x2 left something"
ok "bad input (duplicate, rootfs, CMD, publish, label, env, memory, name, runc failing, port taken) is refused and leaves nothing"
for cmd in logs stop rm; do
	expect_err "$cmd unknown" "does not exist" p --node node1 $cmd nope
done
expect_err "exec unknown" "does not exist" p --node node1 exec nope -- true
ok "unknown containers are reported by logs, stop, rm and exec"

p --node node2 rm --force srv2 >/dev/null || fail "rm srv2"
[ "$(p --node node1 -j ps | jq length)" = 0 ] || fail "containers left: $(p --node node1 ps)"
[ "$(rootfs_sum)" = "$SUM" ] || fail "rootfs dir changed during the test"
ok "all containers removed; the shared rootfs is unchanged"
