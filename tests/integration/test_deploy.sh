#!/usr/bin/env bash
# docs/deploy.md as written: its `deploy:` blocks run on three network namespaces standing
# in for hosts (each with its own root for /etc/petrel, /var/lib and /run/petrel), with the
# services started by the commands their unit files run: petreld's installed unit (with
# --netns for the host) and Debian's etcd unit reading the /etc/default/etcd the guide
# writes. Then a 3-member etcd over TLS with petrel's roles (`petrel etcd auth`), three
# agents alive, and a ping across hosts.
. "$(dirname "$0")/lib.sh"
DOC=$ROOT/docs/deploy.md
W=$(mktemp -d /tmp/petrel-deploy-XXXXXX)
PIDS=$W/pids
HOSTS=(1 2 3)
: > "$PIDS"

deploy_cleanup() {
	local rc=$?
	set +e
	[ $rc -ne 0 ] && for h in "${HOSTS[@]}"; do
		echo "--- host $h petreld"; tail -n 20 "$W/h$h/petreld.log" 2>/dev/null
		echo "--- host $h etcd"; tail -n 10 "$W/h$h/etcd.log" 2>/dev/null
	done
	while read -r pid; do kill "$pid" 2>/dev/null; done < "$PIDS"
	sleep 1
	while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$PIDS"
	for ns in $(ip netns list | awk '{print $1}' | grep "^$LAB-"); do ip netns del "$ns"; done
	rm -rf /sys/fs/bpf/petrel/"${LAB}"n? "$W"
	cleanup $rc
}
trap deploy_cleanup EXIT

make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$W/install" install >/dev/null || fail "make install"
AGENT_CMD=$(sed -n 's/^ExecStart=//p' "$W/install/lib/systemd/system/petreld.service")
ETCD_CMD=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/etcd.service 2>/dev/null)
[ -n "$AGENT_CMD" ] || fail "the installed unit has no ExecStart"
[ -n "$ETCD_CMD" ] || ETCD_CMD='/usr/bin/etcd $DAEMON_ARGS'

# The hosts: one switch namespace with a bridge, three hosts with eth0 on it.
ip netns add "$LAB-sw"
ip -n "$LAB-sw" link add br0 type bridge
ip -n "$LAB-sw" link set br0 up
for h in "${HOSTS[@]}"; do
	ip netns add "$LAB-h$h"
	ip link add eth0 netns "$LAB-h$h" type veth peer name "h$h" netns "$LAB-sw"
	ip -n "$LAB-sw" link set "h$h" master br0 up
	ip -n "$LAB-h$h" addr add "192.0.2.1$h/24" dev eth0
	ip -n "$LAB-h$h" link set eth0 up
	ip -n "$LAB-h$h" link set lo up
done

# block STEP: the guide's block marked deploy:STEP.
block() {
	awk -v tag="deploy:$1" '$0 ~ "^```sh " tag "$" {on = 1; next} on && /^```/ {exit} on' "$DOC"
}
# rooted DIR: the block on stdin with host names made unique to this test and every path
# moved under DIR (a host's own file system).
rooted() {
	sed -e "s/node\([123]\)/${LAB}n\1/g" -e "s#/etc/petrel#$1/etc/petrel#g" \
	    -e "s#/etc/default#$1/etc/default#g" -e "s#/var/lib#$1/var/lib#g" \
	    -e "s#/run/petrel#$1/run/petrel#g"
}
# on_host H STEP: run the step as host H would, systemctl standing for its units.
on_host() {
	local h=$1 step=$2 r=$W/h$1
	mkdir -p "$r/etc/petrel/pki" "$r/etc/default" "$r/run/petrel"
	{
		cat <<EOF
set -eu
cd "$r"
systemctl() {   # enable --now UNIT: the unit's own command, in this host's namespace
	case "\$3" in
	etcd) ( set -a; DAEMON_ARGS=; . "$r/etc/default/etcd"; set +a
		exec ip netns exec "$LAB-h$h" $ETCD_CMD ) > "$r/etcd.log" 2>&1 &
	      echo \$! >> "$PIDS" ;;
	petreld) $W/install$(rooted "$r" <<<"$AGENT_CMD") --netns "$LAB-h$h" > "$r/petreld.log" 2>&1 &
	      echo \$! >> "$PIDS" ;;
	esac
}
petrel() { ip netns exec "$LAB-h$h" "$W/install/usr/local/bin/petrel" --socket "$r/run/petrel/petreld.sock" "\$@"; }
EOF
		block "$step" | rooted "$r" |
			sed -e "s/^NAME=${LAB}n1 IP=192.0.2.11$/NAME=${LAB}n$h IP=192.0.2.1$h/" \
			    -e "s/^netns-prefix = petrel-$/netns-prefix = $LAB-h$h-/"
	} > "$r/$step.sh"
	bash "$r/$step.sh" || fail "deploy.md step $step on host $h (script $r/$step.sh)"
}

for step in certificates etcd etcd-auth agent check; do
	[ -n "$(block $step)" ] || fail "docs/deploy.md has no deploy:$step block"
done

( r=$W/admin; mkdir -p "$r"; block certificates | rooted "$r" > "$r/certs.sh"; bash "$r/certs.sh" ) \
	>/dev/null 2>&1 || fail "the guide's certificate step"
for h in "${HOSTS[@]}"; do   # "copy ca.pem and each host's NAME.pem and NAME.key"
	mkdir -p "$W/h$h/etc/petrel/pki"
	cp "$W/admin/etc/petrel/pki/"{ca.pem,"${LAB}n$h.pem","${LAB}n$h.key","${LAB}n$h-etcd.pem","${LAB}n$h-etcd.key"} \
		"$W/h$h/etc/petrel/pki/"
done
openssl x509 -in "$W/h2/etc/petrel/pki/${LAB}n2.pem" -noout -ext subjectAltName | grep -q "IP Address:192.0.2.12" ||
	fail "node2's certificate lacks its address"
ok "certificates as the guide makes them: one CA, one per host naming it and its address"

for h in "${HOSTS[@]}"; do on_host "$h" etcd; done
E="--cacert $W/h1/etc/petrel/pki/ca.pem --cert $W/h1/etc/petrel/pki/${LAB}n1.pem --key $W/h1/etc/petrel/pki/${LAB}n1.key"
for i in $(seq 100); do
	n=$(ip netns exec "$LAB-h1" curl -s $E -X POST https://192.0.2.11:2379/v3/cluster/member/list -d '{}' |
		jq '.members | length' 2>/dev/null || true)
	[ "$n" = 3 ] && ip netns exec "$LAB-h3" curl -sf $E https://192.0.2.13:2379/health | grep -q true && break
	sleep 0.2
done
[ "$n" = 3 ] || fail "etcd did not form 3 members"
ip netns exec "$LAB-h1" curl -s --max-time 3 --cacert "$W/h1/etc/petrel/pki/ca.pem" \
	https://192.0.2.11:2379/health | grep -q true && fail "etcd answered a client without a certificate"
ok "etcd as the guide configures it: 3 members over TLS, clients need a certificate"

on_host 1 etcd-auth >/dev/null
for h in 2 3; do   # "copy etcd-NAME.password to host NAME"
	cp "$W/h1/etc/petrel/pki/etcd-${LAB}n$h.password" "$W/h$h/etc/petrel/pki/"
done
G="--cacert $W/h1/etc/petrel/pki/ca.pem --cert $W/h2/etc/petrel/pki/${LAB}n2-etcd.pem --key $W/h2/etc/petrel/pki/${LAB}n2-etcd.key"
token=$(ip netns exec "$LAB-h2" curl -s $G -X POST https://192.0.2.12:2379/v3/auth/authenticate \
	-d "$(jq -nc --arg u "${LAB}n2" --arg p "$(cat "$W/h2/etc/petrel/pki/etcd-${LAB}n2.password")" '{name: $u, password: $p}')" | jq -r .token)
[ -n "$token" ] && [ "$token" != null ] || fail "node2's etcd user cannot log in"
if ip netns exec "$LAB-h2" curl -sf $G -H "Authorization: $token" -X POST https://192.0.2.12:2379/v3/kv/put \
	-d "{\"key\":\"$(printf "/petrel/nodes/${LAB}n1" | base64)\",\"value\":\"e30=\"}" >/dev/null; then
	fail "node2's etcd user wrote node1's record"
fi
ok "the guide's etcd auth step: node2's user logs in and cannot write node1's record"

for h in "${HOSTS[@]}"; do on_host "$h" agent; done
for h in "${HOSTS[@]}"; do
	for i in $(seq 100); do
		"$PETREL" --socket "$W/h$h/run/petrel/petreld.sock" -j node status >/dev/null 2>&1 && break
		sleep 0.2
	done
done
for i in $(seq 100); do
	alive=$("$PETREL" --socket "$W/h1/run/petrel/petreld.sock" -j node status |
		jq '[.nodes[] | select(.alive)] | length' 2>/dev/null || true)
	[ "$alive" = 3 ] && break
	sleep 0.2
done
[ "$alive" = 3 ] || fail "host 1 sees $alive agents alive, not 3"
ok "three agents started by the unit's command, each alive in the cluster's view"

on_host 1 check > "$W/check.out" || fail "the guide's check step"
grep -q web "$W/check.out" || fail "the check step's endpoint list lacks web: $(cat "$W/check.out")"
ok "the guide's check: node status with every node alive, an endpoint added and listed"

P3=("$PETREL" --socket "$W/h3/run/petrel/petreld.sock")
"${P3[@]}" endpoint add client >/dev/null || fail "endpoint add on host 3"
WEB=$("${P3[@]}" -j endpoint show web | jq -r .ipv4)
"${P3[@]}" endpoint exec client -- ping -c1 -W2 "$WEB" >/dev/null || fail "host 3 → web on host 1: no reply"
WEB6=$("${P3[@]}" -j endpoint show web | jq -r .ipv6)
"${P3[@]}" endpoint exec client -- ping -6 -c1 -W2 "$WEB6" >/dev/null || fail "host 3 → web over IPv6: no reply"
ok "an endpoint on host 3 reaches web on host 1 over IPv4 and IPv6 (VXLAN across hosts)"
for h in 1 3; do
	"$PETREL" --socket "$W/h$h/run/petrel/petreld.sock" endpoint del "$([ $h = 1 ] && echo web || echo client)" >/dev/null || true
done
echo "$CHECKS checks passed"
