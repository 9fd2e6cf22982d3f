#!/usr/bin/env bash
# `make demo`: builds a 3-node lab, starts a server container on node3 and a client on
# node1, and shows real cross-node traffic (ping-pong over TCP, then iperf3) through
# petrel's eBPF datapath. KEEP=1 leaves the lab up for exploring; MODE=native switches
# the routing mode. Ends with a container run by petrel (petrel run/ps/logs/exec).
set -euo pipefail
cd "$(dirname "$0")/.."
PETREL=${PETREL:-build/bin/petrel}
export PETRELD=${PETRELD:-build/bin/petreld}
LAB=${LAB:-demo}
MODE=${MODE:-vxlan}
p() { "$PETREL" --lab "$LAB" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces and eBPF programs)" >&2; exit 1; }
p lab down --name "$LAB" >/dev/null 2>&1 || true
[ "${KEEP:-0}" = 1 ] || trap 'p lab down --name "$LAB" >/dev/null 2>&1' EXIT

say "petrel lab up --nodes 3 --mode $MODE"
p lab up --name "$LAB" --nodes 3 --mode "$MODE"
say "petrel lab status"
p lab status

say "endpoints: 'server' on node3, 'client' on node1"
p --node node3 endpoint add server --label app=server --publish 8080:7000/tcp
p --node node1 endpoint add client --label app=client
p --node node2 endpoint list

SERVER_NS=$(p --node node1 -j endpoint show server | jq -r .netns)
CLIENT_NS=$(p --node node1 -j endpoint show client | jq -r .netns)
SERVER4=$(p --node node1 -j endpoint show server | jq -r .ipv4)
SERVER6=$(p --node node1 -j endpoint show server | jq -r .ipv6)
ip netns exec "$SERVER_NS" socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE >/dev/null 2>&1 &
ip netns exec "$SERVER_NS" iperf3 -s -p 5201 >/dev/null 2>&1 &
sleep 0.5

say "TCP echo client(node1) -> server(node3) over IPv4 and IPv6"
for ip in "$SERVER4" "[$SERVER6]"; do
	got=$(echo "hello from node1" | timeout 5 ip netns exec "$CLIENT_NS" socat -t 2 - "TCP:$ip:7000")
	echo "  $ip:7000 answered: $got"
done
say "outside client -> node3's published port 8080 -> server:7000"
N3=$(p -j lab status | jq -r '.nodes[] | select(.name=="node3") | .ipv4')
got=$(echo "hello from outside" | timeout 5 "$PETREL" --lab "$LAB" lab exec outside -- socat -t 2 - "TCP:$N3:8080")
echo "  $N3:8080 answered: $got"

say "iperf3 client(node1) -> server(node3), 3 seconds"
ip netns exec "$CLIENT_NS" iperf3 -c "$SERVER4" -p 5201 -t 3 -f m | grep -E 'sender|receiver'

say "datapath counters on node3"
p --node node3 endpoint show server
say "a container: petrel run 'echo' on node2 (runc, overlay rootfs, published port 9090)"
ROOTFS=build/demo-rootfs
[ -x "$ROOTFS/usr/bin/socat" ] || scripts/mkrootfs.sh "$ROOTFS" socat >/dev/null
p --node node2 run echo --rootfs "$ROOTFS" --publish 9090:7000 --label app=echo \
	-- sh -c 'echo "echo server up on $(hostname)"; exec socat TCP6-LISTEN:7000,fork,reuseaddr,ipv6only=0 PIPE'
sleep 0.5
p --node node1 ps
N2=$(p -j lab status | jq -r '.nodes[] | select(.name=="node2") | .ipv4')
got=$(echo "hello, container" | timeout 5 "$PETREL" --lab "$LAB" lab exec outside -- socat -t 2 - "TCP:$N2:9090")
echo "  outside -> $N2:9090 answered: $got"
echo "  petrel logs echo: $(p --node node2 logs echo)"
echo "  petrel exec echo -- ls /: $(p --node node2 exec echo -- ls / | tr '\n' ' ')"

if [ "${KEEP:-0}" = 1 ]; then echo "lab '$LAB' left running: petrel lab down --name $LAB removes it"; fi
