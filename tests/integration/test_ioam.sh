#!/usr/bin/env bash
# IPv6 IOAM across a kernel transit router: petrel encap on node1, the Linux kernel's own
# IOAM transit on a lab router between the nodes (`petrel lab router add --ioam-id`),
# petrel decap on node2. The trace must hold node ids 1, 100, 2 in that order; Wireshark
# must decode every field set with no malformed-packet or expert warning; the endpoint
# must never see the IOAM header; invalid configuration must be refused with clear errors.
. "$(dirname "$0")/lib.sh"

command -v tshark >/dev/null || skip "tshark is not installed (scripts/install-deps.sh)"
sysctl -q net.ipv6.ioam6_id >/dev/null 2>&1 || skip "this kernel has no IPv6 IOAM (net.ipv6.ioam6_id)"
PCAP="" PCAP_EP=""
trap 'rc=$?; rm -f $PCAP $PCAP_EP; cleanup $rc' EXIT

NS=123
TYPE=0xfef000          # bits 0-6 and 8-11: every field but the checksum complement
lab_up 2 native

# --- the lab's kernel IOAM router ---------------------------------------------------------------
expect_error "a router between a node and itself" "two different nodes" \
	p lab router add r2 --between node1 node1
expect_error "a router to an unknown node" "no node 'node9'" p lab router add r2 --between node1 node9
expect_error "namespaces without a node id" "needs --ioam-id" \
	p lab router add r2 --between node1 node2 --ioam-ns 5
p lab router add r1 --between node1 node2 --ioam-id 100 --ioam-ns $NS:0x12345678:0x1234567812345678 \
	>/dev/null || fail "lab router add r1"
expect_error "a second router of the same name" "already has a router 'r1'" \
	p lab router add r1 --between node1 node2
expect_error "a second router between the same nodes" "already joins node1 and node2" \
	p lab router add r2 --between node2 node1
p -j lab status | jq -e '.routers[0] | .name == "r1" and .ioam.id == 100 and .between == ["node1", "node2"]
	and .ioam.namespaces[0].id == '$NS >/dev/null || fail "lab status lacks router r1: $(p -j lab status | jq -c .routers)"
[ "$(p lab exec r1 -- sysctl -n net.ipv6.ioam6_id)" = 100 ] || fail "r1's ioam6_id is not 100"
p lab exec r1 -- ip ioam namespace show | grep -q "namespace $NS, data 0x12345678" || fail "r1 lacks namespace $NS"
for n in node1:12 node2:11; do
	ip netns exec "$LAB-${n%:*}" ip -6 route get "fd00:198:18::${n#*:}" | grep -q "via fd00:198:18::200" \
		|| fail "${n%:*} does not reach its peer through r1"
done
ok "lab router add builds a kernel IOAM transit (id 100, namespace $NS) between node1 and node2, both ways"
# (a freshly started etcd has been seen to time out the very first request: retry)
for i in 1 2 3; do err=$(p --node node1 endpoint add a1 2>&1 >/dev/null) && break; sleep 1; done
p --node node1 -j endpoint show a1 >/dev/null 2>&1 || fail "endpoint add a1 failed three times: $err"
p --node node2 endpoint add b1 >/dev/null
A1=$(ep_ns a1) B1=$(ep_ns b1) B1IP=$(ep_field b1 ipv6) A1IP=$(ep_field a1 ipv6)
log "lab $LAB: node1 <-> r1 (kernel IOAM transit, id 100) <-> node2"
echo_server "$B1" 7000

# --- invalid configuration is refused with clear errors -----------------------------------
expect_error "an encap rule for an unknown namespace" "namespace 77 is not configured" \
	p --node node1 ioam encap add --ns 77 --trace-type 0x800000 --size 8
p --node node1 ioam namespace add $NS data 0xdeadbeef wide 0xcafec0caf00dc0de >/dev/null
expect_error "an undefined trace bit" "bit 12" \
	p --node node1 ioam encap add --ns $NS --trace-type 0x800800 --size 8
expect_error "a size that is not a multiple of 4" "multiple of 4" \
	p --node node1 ioam encap add --ns $NS --trace-type 0x800000 --size 10
expect_error "a size over 244" "over 244" \
	p --node node1 ioam encap add --ns $NS --trace-type 0x800000 --size 248
expect_error "a frequency of 0" "1 <= K <= N" \
	p --node node1 ioam encap add --ns $NS --trace-type 0x800000 --size 8 --freq 0/10
out=$(p --node node1 -j ioam encap add --ns 77 --trace-type 0x800000 --size 8 2>&1 || true)
jq -e '.error | test("not configured.*hint")' <<<"$out" >/dev/null || fail "-j error is not JSON with a hint: $out"
ok "-j errors are JSON and carry the hint"

# --- configuration propagates through cluster state ---------------------------------------
p --node node1 ioam encap add --ns $NS --trace-type $TYPE --size 180 >/dev/null
for i in $(seq 50); do
	[ "$(p --node node2 -j ioam show | jq '.encap | length')" = 1 ] && break
	sleep 0.1
done
[ "$(p --node node2 -j ioam show | jq -r '.namespaces[0].data')" = 0xdeadbeef ] || fail "node2 lacks the namespace"
[ "$(p --node node2 -j ioam show | jq -r '.encap[0].trace_type')" = $TYPE ] || fail "node2 lacks the encap rule"
ok "namespace and encap rule reach node2 through cluster state"
# On the underlay device IOAM runs inside the datapath's programs (tail calls), with no
# filter of its own: a packet IOAM does not concern pays no extra program run.
for n in node1 node2; do
	f=$(ip netns exec "$LAB-$n" tc filter show dev eth0 ingress; ip netns exec "$LAB-$n" tc filter show dev eth0 egress)
	grep -q ioam <<<"$f" && fail "$n's eth0 has IOAM filters of its own: $f"
	grep -q from_underlay <<<"$f" || fail "$n's eth0 lacks the datapath's filter: $f"
	p --node $n -j ioam show | jq -e '.roles[] | select(.dev == "eth0") |
		.ingress and .egress and .via == "datapath"' >/dev/null || fail "$n: roles not in the datapath"
done
ok "IOAM runs inside the datapath on eth0 (no filters of its own), and ioam show says so"

# --- traffic: capture at the router's port and inside b1 ----------------------------------
PCAP=$(mktemp /tmp/petrel-ioam.XXXXXX) PCAP_EP=$(mktemp /tmp/petrel-ioam-ep.XXXXXX)
ip netns exec "$LAB-fabric" timeout 20 tcpdump -Z root -U -q -i rt-r1 -c 4 -w "$PCAP" \
	"ip6 proto 0 and (ip6[40] == 17 or ip6[40] == 6)" 2>/dev/null &
CAP1=$!
ip netns exec "$B1" timeout 20 tcpdump -Z root -U -q -i eth0 -w "$PCAP_EP" "ip6 and not icmp6" 2>/dev/null &
CAP2=$!
sleep 1
expect_echo "$A1" UDP "$B1IP" 7000 "UDP a1 -> b1 through the IOAM router"
expect_echo "$A1" TCP "$B1IP" 7000 "TCP a1 -> b1 through the IOAM router"
sleep 1
kill -INT $CAP2 2>/dev/null; wait $CAP1 2>/dev/null; wait $CAP2 2>/dev/null || true

# --- the trace, decapsulated on node2 --------------------------------------------------------
trace=$(p --node node2 ioam traces | jq -c "select(.src == \"$A1IP\")" | head -1)
[ -n "$trace" ] || fail "node2 exported no trace from a1"
ids=$(jq -c '[.nodes[].node_id]' <<<"$trace")
[ "$ids" = "[1,100,2]" ] || fail "trace node ids are $ids, expected [1,100,2]: $trace"
ok "the trace holds node ids 1 (petrel encap), 100 (kernel transit), 2 (petrel decap) in order"
[ "$(jq -c '[.nodes[].namespace_data]' <<<"$trace")" = "[3735928559,305419896,3735928559]" ] \
	|| fail "namespace data: $(jq -c '[.nodes[].namespace_data]' <<<"$trace")"
jq -e '.nodes[1].hop_limit < .nodes[0].hop_limit and .nodes[0].node_id_wide == null and
       .nodes[1].node_id_wide == 100 and .overflow == false' <<<"$trace" >/dev/null \
	|| fail "hop limits or wide ids wrong: $trace"
ok "namespace data, hop limits and wide node ids come from each node"
p --node node1 ioam traces | jq -e "select(.src == \"$B1IP\") | [.nodes[].node_id] == [2, 100, 1]" >/dev/null \
	|| fail "node1 has no trace 2, 100, 1 of b1's replies"
ok "replies (node2 -> r1 -> node1) are traced and decapsulated on node1"

# --- metrics ----------------------------------------------------------------------------------
m=$(curl -sf --unix-socket "/run/petrel/labs/$LAB/node2/petreld.sock" http://x/metrics)
grep -q "^petrel_ioam_hop_delay_seconds_count{node=\"node2\",namespace=\"$NS\",from=\"1\",to=\"100\"} [1-9]" <<<"$m" \
	&& grep -q "^petrel_ioam_hop_delay_seconds_sum{node=\"node2\",namespace=\"$NS\",from=\"100\",to=\"2\"}" <<<"$m" \
	&& grep -q '^petrel_ioam_events_total{node="node2",event="decap"} [1-9]' <<<"$m" \
	|| fail "metrics lack IOAM hop delays or counters: $(grep ioam <<<"$m" | head -5)"
ok "per-hop delays (1 -> 100 -> 2) and IOAM counters are in /metrics"

# --- Wireshark ---------------------------------------------------------------------------------
n=$(tshark -r "$PCAP" -Y ipv6.opt.ioam.trace.ns 2>/dev/null | wc -l)
[ "$n" -ge 2 ] || fail "captured $n IOAM packets at the router"
bad=$(tshark -r "$PCAP" -V 2>/dev/null | grep -ci 'malformed\|Expert Info (Warn\|Expert Info (Error' || true)
[ "$bad" = 0 ] || fail "Wireshark reports $bad malformed/expert problems: $(tshark -r "$PCAP" -V 2>/dev/null | grep -i -m3 'malformed\|expert')"
ok "Wireshark decodes $n captured IOAM packets with no malformed or expert warning"
for f in hlim id iif eif tss tsf trdelay nsdata qdepth id_wide iif_wide eif_wide nsdata_wide bufoccup; do
	v=$(tshark -r "$PCAP" -T fields -e "ipv6.opt.ioam.trace.node.$f" -c 1 2>/dev/null | head -1)
	[ -n "$v" ] || fail "Wireshark shows no ipv6.opt.ioam.trace.node.$f"
done
ns=$(tshark -r "$PCAP" -T fields -e ipv6.opt.ioam.trace.ns -e ipv6.opt.ioam.trace.type -c 1 2>/dev/null)
[ "$ns" = "$NS	$TYPE" ] || fail "Wireshark reads namespace/type '$ns'"
ok "Wireshark decodes every field of trace type $TYPE and namespace $NS"
# Leaving the router, the kernel's data sits in front of node1's.
ids=$(tshark -r "$PCAP" -T fields -E occurrence=a -E separator=, -e ipv6.opt.ioam.trace.node.id 2>/dev/null | sort -u | tr '\n' ' ')
grep -q '0x000064,0x000001' <<<"$ids" || fail "no packet leaving the router carries ids 100,1: $ids"
ok "packets leaving the router carry the kernel's node data (id 100) ahead of node1's"

# --- decap: the endpoint never sees the Hop-by-Hop header --------------------------------------
n=$(tshark -r "$PCAP_EP" -Y "udp.port == 7000 || tcp.port == 7000" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || fail "nothing captured inside b1"
hbh=$(tshark -r "$PCAP_EP" -Y "ipv6.hopopts && (udp || tcp)" 2>/dev/null | wc -l)
[ "$hbh" = 0 ] || fail "b1 received $hbh UDP/TCP packets with a Hop-by-Hop header"
ok "b1 receives its $n packets without the IOAM Hop-by-Hop header"
rm -f "$PCAP" "$PCAP_EP"

# --- sampling and roles ------------------------------------------------------------------------
p --node node1 ioam encap add --ns $NS --trace-type $TYPE --size 180 --freq 1/4 >/dev/null
sleep 0.5
before=$(p --node node1 -j ioam show | jq '.counters.encap')
# one CPU: the sampling counters are per CPU
for i in $(seq 8); do echo x | timeout 3 ip netns exec "$A1" taskset -c 0 socat -t 0.2 - "UDP6:[$B1IP]:7001" 2>/dev/null || true; done
after=$(p --node node1 -j ioam show | jq '.counters.encap')
[ $((after - before)) -eq 2 ] || fail "1/4 sampling inserted $((after - before)) of 8"
ok "--freq 1/4 inserts into 2 of 8 packets"
# Roles on the underlay fill and empty the datapath's slots: with none, node2 leaves the
# header alone (its endpoint's kernel ignores the option) and forwarding goes on.
decaps() { p --node node2 -j ioam show | jq '.counters.decap'; }
p --node node1 ioam encap add --ns $NS --trace-type $TYPE --size 180 --freq 1/1 >/dev/null
p --node node2 ioam role --dev eth0 none >/dev/null
p --node node2 -j ioam show | jq -e '.roles[] | select(.dev == "eth0") | (.ingress or .egress) | not' >/dev/null \
	|| fail "role none still shows a role on node2's eth0"
d0=$(decaps)
expect_echo "$A1" UDP "$B1IP" 7000 "UDP a1 -> b1 with node2's IOAM roles off"
[ "$(decaps)" = "$d0" ] || fail "role none: node2 still decapsulated ($d0 -> $(decaps))"
p --node node2 ioam role --dev eth0 ingress egress >/dev/null
expect_echo "$A1" UDP "$B1IP" 7000 "UDP a1 -> b1 with node2's IOAM roles back"
[ "$(decaps)" -gt "$d0" ] || fail "roles back: node2 did not decapsulate"
ok "ioam role empties and refills the datapath's IOAM slots"
# Any other device has no datapath program to ride on: the roles are filters of their own.
p --node node2 ioam role --dev lo ingress >/dev/null
ip netns exec "$LAB-node2" tc filter show dev lo ingress | grep -q ioam_ingress || fail "role on lo attached nothing"
p --node node2 -j ioam show | jq -e '.roles[] | select(.dev == "lo") | .ingress and .via == "filter"' >/dev/null \
	|| fail "ioam show does not report lo's filter"
p --node node2 ioam role --dev lo none >/dev/null
ip netns exec "$LAB-node2" tc filter show dev lo ingress | grep -q ioam && fail "role none left a filter on lo"
ok "on another device the roles are filters of their own, attached and detached"
expect_error "deleting a namespace in use" "used by an encap rule" p --node node1 ioam namespace del $NS
p --node node1 ioam encap del --ns $NS >/dev/null
p --node node1 ioam namespace del $NS >/dev/null
[ "$(p --node node2 -j ioam show | jq '.namespaces | length')" = 0 ] || fail "namespace not deleted"
ok "encap rule and namespace are deleted cluster-wide"

# --- the router goes: the nodes talk directly again ---------------------------------------------
p lab router del r1 >/dev/null || fail "lab router del r1"
netns_left=$(ip netns list | grep -c "^$LAB-rt-r1\b" || true)
[ "$netns_left" = 0 ] || fail "r1's namespace is still there"
ip netns exec "$LAB-node1" ip -6 route get fd00:198:18::12 | grep -q via && fail "node1 still routes via r1"
[ "$(p -j lab status | jq '.routers | length')" = 0 ] || fail "lab status still lists r1"
expect_echo "$A1" UDP "$B1IP" 7000 "UDP a1 -> b1 without the router"
expect_error "deleting it twice" "has no router 'r1'" p lab router del r1
ok "lab router del routes the nodes directly again and removes the router"
echo "PASS: $CHECKS checks"
