#!/usr/bin/env bash
# `make demo`: a live migration on a 3-node lab. A container 'web' runs a TCP and UDP echo
# server on node1 with ports published there; a client container on node3 and a client
# outside the cluster (through node1's published port) keep echo sessions going while web
# moves node1 -> node2 -> node1. The sessions are checked byte for byte and the migration
# reports are printed. KEEP=1 leaves the lab up; MODE=vxlan switches the routing mode.
set -euo pipefail
cd "$(dirname "$0")/.."
PETREL=${PETREL:-build/bin/petrel}
export PETRELD=${PETRELD:-build/bin/petreld}
LAB=${LAB:-demo}
MODE=${MODE:-native}
p() { "$PETREL" --lab "$LAB" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
TMP=$(mktemp -d /tmp/petrel-demo-XXXXXX)

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces and eBPF programs)" >&2; exit 1; }
p lab down --name "$LAB" >/dev/null 2>&1 || true
cleanup() {
	touch "$TMP/stop.tcp" "$TMP/stop.udp" "$TMP/stop.outside"
	for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
	[ "${KEEP:-0}" = 1 ] || p lab down --name "$LAB" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT

say "petrel lab up --nodes 3 --mode $MODE"
p lab up --name "$LAB" --nodes 3 --mode "$MODE"

say "a container image: busybox + socat + a UDP echo server"
ROOTFS=build/demo-rootfs
[ -x "$ROOTFS/usr/bin/socat" ] && [ -x "$ROOTFS/usr/bin/udp_echo" ] ||
	scripts/mkrootfs.sh "$ROOTFS" socat build/tools/udp_echo >/dev/null
echo "  $ROOTFS"

say "petrel run web on node1 (TCP echo on 7000, UDP echo on 7001, published as 8080 and 8081)"
p --node node1 run web --rootfs "$ROOTFS" --publish 8080:7000/tcp --publish 8081:7001/udp \
	--label app=web -- sh -c 'echo "web up on $(hostname)";
	socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE & exec udp_echo 7001'
p --node node3 endpoint add client --label app=client >/dev/null
WEB4=$(p --node node1 -j ps | jq -r '.[] | select(.name=="web") | .ipv4')
CLIENT_NS=$(p --node node1 -j endpoint show client | jq -r .netns)
N1=$(p -j lab status | jq -r '.nodes[] | select(.name=="node1") | .ipv4')
p --node node1 ps

say "clients: TCP and UDP from a container on node3, TCP from outside through $N1:8080"
start() {   # NAME NS HOST PORT [--udp]
	local name=$1 ns=$2; shift 2
	ip netns exec "$ns" python3 tools/echo_probe.py "$@" --interval 0.02 --duration 300 \
		--ready "$TMP/$name.ready" --stop "$TMP/stop.$name" >"$TMP/$name.json" 2>&1 &
	for _ in $(seq 100); do [ -e "$TMP/$name.ready" ] && break; sleep 0.05; done
	echo "  $name: connected to $1 port $2"
}
sleep 0.5
start tcp "$CLIENT_NS" "$WEB4" 7000
start udp "$CLIENT_NS" "$WEB4" 7001 --udp
start outside "$LAB-outside" "$N1" 8080
sleep 2

say "petrel migrate web --to node2"
p migrate web --to node2
sleep 2
say "petrel migrate web --to node1 (and back)"
p migrate web --to node1
sleep 1
p --node node1 ps

say "the sessions, checked byte for byte (max_stall_ms: the longest wait for one echo)"
touch "$TMP/stop.tcp" "$TMP/stop.udp" "$TMP/stop.outside"
for s in tcp udp outside; do
	for _ in $(seq 150); do [ -s "$TMP/$s.json" ] && break; sleep 0.1; done
	printf '  %-8s %s\n' "$s" "$(cat "$TMP/$s.json")"
done
echo "  petrel logs web: $(p --node node1 logs web | head -n1)"
if [ "${KEEP:-0}" = 1 ]; then echo "lab '$LAB' left running: petrel lab down --name $LAB removes it"; fi
