#!/usr/bin/env bash
# A container's own connections out of the cluster survive its migrations: node1
# masquerades a long-lived TCP connection and a UDP flow to a server in the lab's outside
# namespace; the container moves node1 -> node2 -> node3 -> node1 and both stay byte for
# byte, relayed by node1 (its conntrack keeps the translation). New connections leave
# through the node the container is on, and a relay ends when node1's conntrack lets the
# flow go.
. "$(dirname "$0")/lib.sh"

migration_rootfs
lab_up 3 "${MODE:-vxlan}"
TMP=$(mktemp -d /tmp/petrel-out-XXXXXX)
trap 'rc=$?; rm -rf "$TMP"; cleanup $rc' EXIT
OUT4=$(outside_ip 4)
N1=$(node_ip node1 4)

relays() { p --node "$1" -j node relays; }

# The world: an echo server (TCP and UDP) and one that tells who connected.
echo_server "$LAB-outside" 7300
peer_server "$LAB-outside" 7302
# A short-lived flow's entry must expire within the test on node1; the long UDP session
# is a stream (120 s), untouched.
in_ns "$LAB-node1" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3

# The container relays an in-cluster client's bytes to the outside server over its own
# connections: every byte crosses the masqueraded TCP connection or UDP flow.
p --node node1 run out --rootfs "$ROOTFS" -- sh -c \
	"socat TCP4-LISTEN:7100,reuseaddr TCP4:$OUT4:7300 & exec socat UDP4-LISTEN:7101,reuseaddr UDP4:$OUT4:7300" \
	>/dev/null || fail "run out"
p --node node3 endpoint add client >/dev/null || fail "endpoint add client"
OUTC=$(ep_field out ipv4)
CLIENT_NS=$(ep_ns client)
for _ in $(seq 50); do in_ns "$(ep_ns out)" ss -ltnH "sport = :7100" | grep -q . && break; sleep 0.1; done

session tcp "$CLIENT_NS" "$OUTC" 7100
session udp "$CLIENT_NS" "$OUTC" 7101 --udp
sleep 0.5
# A short UDP exchange from a fixed port, to watch its relay end with its conntrack entry.
p --node node1 exec out -- sh -c "echo short | socat -T1 - UDP4:$OUT4:7300,sourceport=40000" >/dev/null ||
	fail "the short UDP exchange"
in_ns "$LAB-outside" ss -tnH "sport = :7300" | grep -q "$N1" ||
	fail "the outside server does not see the connection from node1 ($N1)"
ok "node1 masquerades the container's TCP connection to the outside server"

# hop NODE: migrate there; the old flows go back through node1, a new connection leaves here
hop() {
	local to=$1 r got n
	r=$(migrate out "$to")
	[ "$(where out)" = "$to running" ] || fail "out is '$(where out)' after migrating to $to"
	ok "out migrated to $to: $(echo "$r" | jq -c '{frozen_ms, tcp_connections, udp_flows, relayed_flows}')"
	got=$(p --node "$to" exec out -- socat -T2 - "TCP4:$OUT4:7302" </dev/null) || true
	[ "$(norm_ip "$got")" = "$(node_ip "$to" 4)" ] ||
		fail "a new connection from $to reached the outside from '$got', not $(node_ip "$to" 4)"
	ok "a new connection from out on $to leaves through $to"
	[ "$to" = node1 ] && return 0
	n=$(relays "$to" | jq --arg n1 node1 '[.through[] | select(.via == $n1 and .peer_port == 7300)] | length')
	[ "$n" -ge 2 ] || fail "$to relays $n flows to the outside server through node1: $(relays "$to")"
	n=$(relays node1 | jq --arg to "$to" '[.for[] | select(.kind == "outbound" and .endpoint_node == $to)] | length')
	[ "$n" -ge 2 ] || fail "node1 shows $n outbound flows it translates for out on $to: $(relays node1)"
	ok "$to sends the old flows back through node1, and node1 lists them"
}
hop node2

# node1 answers for its conntrack only to the node that cluster state says hosts the
# endpoint: node2 learns its flows live, node3 learns nothing.
PKI=/run/petrel/labs/$LAB/pki
ask_node1() {   # AS-NODE: node1's answer to a relay check of out's flows to :7300
	local q
	q=$(relays node2 | jq -c '{op: "relay-check", flows: [.through[] | select(.peer_port == 7300 and .endpoint_port != 40000) |
		[(if .proto == "tcp" then 6 else 17 end), .endpoint, .endpoint_port, .peer, .peer_port]]}')
	{ echo "$q"; sleep 1; } | timeout 10 ip netns exec "$LAB-$1" openssl s_client -quiet \
		-connect "$N1:4791" -verify_hostname node1 -verify_return_error \
		-CAfile "$PKI/ca.pem" -cert "$PKI/$1.pem" -key "$PKI/$1.key" 2>/dev/null
}
[ "$(ask_node1 node2 | jq -c .alive)" = "[true,true]" ] || fail "node1 told node2: $(ask_node1 node2)"
[ "$(ask_node1 node3 | jq -c .alive)" = "[null,null]" ] || fail "node1 told node3: $(ask_node1 node3)"
ok "node1 tells node2, which hosts out, that its flows live, and node3 nothing"

# The short flow's conntrack entry on node1 expires (3 s); node2's next check lets it go.
gone=
for _ in $(seq 30); do
	if ! relays node2 | jq -e '.through[] | select(.endpoint_port == 40000)' >/dev/null; then
		gone=1; break
	fi
	sleep 1
done
[ -n "$gone" ] || fail "node2 still relays the ended short flow: $(relays node2)"
[ "$(relays node2 | jq .expired)" -ge 1 ] || fail "node2 counted no expired relay"
relays node2 | jq -e '[.through[] | select(.peer_port == 7300)] | length >= 2' >/dev/null ||
	fail "the long-lived flows' relays went with the short one: $(relays node2)"
ok "a relay ends when node1's conntrack lets its flow go; the live ones stay"

hop node3
hop node1
# (The closed connections to :7302 made from node2 and node3 stay relayed through them
# until their conntrack lets them go: TIME_WAIT, 120 s.)
[ "$(relays node1 | jq '[.through[] | select(.peer_port == 7300)] | length')" = 0 ] ||
	fail "back on node1, it still relays the long flows through another node: $(relays node1)"
ok "back on node1, which translates the long flows itself: they are not relayed"

finish " over three migrations (outbound)" tcp udp
