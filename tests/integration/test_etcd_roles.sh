#!/usr/bin/env bash
# etcd's roles in the lab: each node's etcd user writes only its own keys (node record,
# liveness, endpoints, ports, IOAM roles) and the shared allocations, never another node's
# nor an operator's; policies and IOAM configuration go through the operator's user, which
# node1 holds and node2 does not; etcdctl works with the operator's certificate (its CN
# is its user over gRPC); and the agents' gateway certificates have no CN.
. "$(dirname "$0")/lib.sh"

lab_up 2 vxlan
p --node node1 endpoint add a >/dev/null || fail "endpoint add a"
p --node node2 endpoint add b >/dev/null || fail "endpoint add b"
E=$(p -j lab status | jq -c .etcd)
PKI=$(dirname "$(jq -r .ca <<<"$E")")

b64() { printf %s "$1" | base64 -w0; }
put_as() {   # USER KEY: 0 if etcd took the write
	etcd_as "$1" /v3/kv/put -d "{\"key\":\"$(b64 "$2")\",\"value\":\"$(b64 '{}')\"}" >/dev/null
}
for key in /petrel/nodes/node1 /petrel/alive/node1 /petrel/endpoints/node1/a /petrel/endpoints/node1/new \
	/petrel/ports/node1/tcp/8080 /petrel/ioam/roles/node1/eth0 /petrel/policies/p \
	/petrel/ioam/namespaces/7 /petrel/ioam/encap/7 /elsewhere; do
	put_as node2 "$key" && fail "node2's etcd user wrote $key"
done
ok "node2's etcd user cannot write node1's keys, an operator's, or outside /petrel/"
for key in /petrel/endpoints/node2/probe /petrel/ports/node2/tcp/9 /petrel/ioam/roles/node2/x; do
	put_as node2 "$key" || fail "node2's etcd user cannot write its own $key"
	etcd_curl /v3/kv/deleterange -d "{\"key\":\"$(b64 "$key")\"}" >/dev/null
done
etcd_as node2 /v3/kv/range -d "{\"key\":\"$(b64 /petrel/nodes/)\",\"range_end\":\"$(b64 /petrel/nodes0)\"}" |
	jq -e '.count == "2"' >/dev/null || fail "node2's etcd user cannot read the nodes"
ok "node2's etcd user writes its own keys and reads the cluster's"
put_as operator /petrel/nodes/node2 && fail "the operator's etcd user wrote a node record"
put_as operator /petrel/policies/probe || fail "the operator's etcd user cannot write a policy"
etcd_curl /v3/kv/deleterange -d "{\"key\":\"$(b64 /petrel/policies/probe)\"}" >/dev/null
ok "the operator's etcd user writes policies, not node records"

# Through the agents: node2 holds no operator's user, node1 does.
cat >"$BUILD/roles-$LAB.json" <<'JSON'
{"name": "roles-probe", "endpointSelector": {"matchLabels": {"app": "none"}}, "ingress": []}
JSON
expect_error "a policy through node2" "refused this node's user.*etcd-operator-user" \
	p --node node2 policy apply "$BUILD/roles-$LAB.json"
expect_error "an IOAM namespace through node2" "refused this node's user" \
	p --node node2 ioam namespace add 9 data 0x9
p --node node1 policy apply "$BUILD/roles-$LAB.json" >/dev/null || fail "node1 cannot apply a policy"
for _ in $(seq 50); do p --node node2 -j policy list | jq -e '.[] | select(.name == "roles-probe")' >/dev/null && break; sleep 0.1; done
p --node node2 -j policy list | jq -e '.[] | select(.name == "roles-probe")' >/dev/null ||
	fail "node2 does not see node1's policy"
p --node node1 policy delete roles-probe >/dev/null || fail "node1 cannot delete the policy"
rm -f "$BUILD/roles-$LAB.json"
ok "node1 applies and deletes a policy with the operator's user; node2 sees it"

# etcdctl over gRPC with the operator's certificate: its CN is its user.
if command -v etcdctl >/dev/null; then
	ctl() { ip netns exec "$LAB-fabric" etcdctl --endpoints "$(jq -r .endpoint <<<"$E")" \
		--cacert "$(jq -r .ca <<<"$E")" --cert "$(jq -r .cert <<<"$E")" --key "$(jq -r .key <<<"$E")" "$@"; }
	ctl get --prefix --keys-only /petrel/endpoints/ | grep -qx /petrel/endpoints/node1/a ||
		fail "etcdctl with the operator's certificate cannot read the endpoints"
	ctl put /petrel/nodes/node1 x >/dev/null 2>&1 && fail "etcdctl as the operator wrote a node record"
	ok "etcdctl with the operator's certificate reads the cluster and cannot write node records"
fi

# The gateway refuses a certificate with a CN once authentication is on: the agents'
# etcd certificates have none.
for n in node1 node2; do
	subj=$(openssl x509 -in "$PKI/$n-etcd.pem" -noout -subject)
	[ "$subj" = "subject=" ] || fail "$n's etcd certificate has a subject: $subj"
	grep -q "^etcd-user = $n$" "/run/petrel/labs/$LAB/$n/petreld.conf" || fail "$n has no etcd user"
done
[ "$(stat -c %a "$PKI/etcd-node1.password")" = 600 ] || fail "a password file is not 0600"
ok "the agents log in as node1 and node2 with 0600 password files and CN-less certificates"

# An agent whose password is wrong does not start, and says why.
conf=/run/petrel/labs/$LAB/node2/petreld.conf
sed "s#^etcd-password-file = .*#etcd-password-file = $PKI/etcd-wrong.password#" "$conf" >"$conf.wrong"
echo wrong >"$PKI/etcd-wrong.password"
chmod 600 "$PKI/etcd-wrong.password"
sed -i "s#^socket = .*#socket = /run/petrel/labs/$LAB/node2/wrong.sock#" "$conf.wrong"
out=$(timeout 20 "$PETRELD" --netns "$LAB-node2" --config "$conf.wrong" 2>&1) && fail "petreld started with a wrong password"
grep -q "refuses user 'node2'" <<<"$out" || fail "a wrong password: $out"
ok "a wrong etcd password: petreld stops at start: $(grep -m1 refuses <<<"$out" | cut -c1-90)"
