#!/usr/bin/env bash
# The lab's etcd as a 3-member cluster over TLS with client certificates: a client without
# a certificate is refused, one with the operator's certificate (from `lab status -j`)
# reads and writes, and the agents keep working while a member is down.
. "$(dirname "$0")/lib.sh"

lab_up 2 vxlan ebpf --etcd-members 3
E=$(p -j lab status | jq -c .etcd)
[ "$(jq '.members | length' <<<"$E")" = 3 ] || fail "lab status lists $(jq '.members | length' <<<"$E") members: $E"
for k in endpoint ca cert key; do
	[ -n "$(jq -r ".$k // empty" <<<"$E")" ] || fail "lab status -j .etcd lacks $k: $E"
done
[[ $(jq -r .endpoint <<<"$E") == https://* ]] || fail "etcd is not on https: $E"
ok "lab status -j gives etcd's 3 members, its CA and an operator's certificate and key"

URL=$(jq -r .endpoint <<<"$E")
CA=$(jq -r .ca <<<"$E")
if ip netns exec "$LAB-fabric" curl -s --max-time 5 --cacert "$CA" -X POST "$URL/v3/kv/range" \
	-d '{"key":"Lw=="}' >/dev/null 2>&1; then
	fail "a client without a certificate was served"
fi
if ip netns exec "$LAB-fabric" curl -s --max-time 5 -k -X POST "$(jq -r .endpoint <<<"$E" |
	sed 's/^https/http/')/v3/kv/range" -d '{"key":"Lw=="}' 2>/dev/null | grep -q header; then
	fail "etcd answered plain http"
fi
etcd_curl /v3/kv/range -d "{\"key\":\"$(printf /petrel/nodes/ | base64)\",\"range_end\":\"$(printf /petrel/nodes0 | base64)\"}" |
	jq -e '.count == "2"' >/dev/null || fail "the operator's certificate cannot read the nodes"
ok "etcd refuses clients without a certificate and plain http; the operator's certificate reads"

# One member down: the agents fail over to the others.
kill "$(jq -r '.members[0].pid' <<<"$E")"
p --node node1 endpoint add after >/dev/null || fail "endpoint add with a member down"
for _ in $(seq 50); do
	p --node node2 -j endpoint list | jq -e '.[] | select(.name == "after")' >/dev/null && break
	sleep 0.1
done
p --node node2 -j endpoint list | jq -e '.[] | select(.name == "after")' >/dev/null ||
	fail "node2 did not learn of an endpoint added with a member down"
IP=$(ep_field after ipv4)
p --node node2 endpoint add peer >/dev/null || fail "endpoint add on node2"
in_ns "$(ep_ns peer)" ping -c 1 -W 2 "$IP" >/dev/null || fail "node2's endpoint cannot reach node1's"
ok "with one of 3 members killed, both agents write, watch and route"
