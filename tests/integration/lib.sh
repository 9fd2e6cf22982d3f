# Shared helpers for petrel's integration tests: a uniquely named lab per test, bounded
# waits, echo checks over TCP and UDP, and cleanup on every exit path (trap).
# Tests send traffic only to addresses inside the namespaces the lab creates.
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PETREL="$BUILD/bin/petrel"
export PETRELD="$BUILD/bin/petreld"
LAB="t$$"                              # unique per test process, short enough for ifnames
export PETREL_LAB=$LAB
CHECKS=0

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok()   { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $*"; }
log()  { echo "# $*"; }

[ "$(id -u)" -eq 0 ] || skip "integration tests need root (network namespaces, eBPF)"
[ -x "$PETREL" ] && [ -x "$PETRELD" ] || fail "build first: make all"

p() { "$PETREL" --lab "$LAB" "$@"; }

# expect_error WHAT PATTERN CMD...: CMD must fail, with PATTERN in what it prints.
expect_error() {   # WHAT PATTERN CMD...
	local what=$1 pat=$2 out; shift 2
	if out=$("$@" 2>&1); then fail "$what: accepted"; fi
	grep -q -- "$pat" <<<"$out" || fail "$what: error '$out' lacks '$pat'"
	ok "$what is refused: $(head -1 <<<"$out" | cut -c1-100)"
}

cleanup() {
	local rc=${1:-$?}   # tests with their own trap pass the status along
	set +e
	if [ $rc -ne 0 ] && [ -d "/run/petrel/labs/$LAB" ]; then
		for f in /run/petrel/labs/$LAB/*/petreld.log; do
			[ -f "$f" ] || continue
			echo "--- tail of $f"; tail -n 30 "$f"
			# The whole log stays for a post-mortem, next to the test's own.
			mkdir -p "$BUILD/test-logs" && cp "$f" "$BUILD/test-logs/$LAB-$(basename "$(dirname "$f")").log"
		done
	fi
	for pid in $(jobs -p); do kill "$pid" 2>/dev/null; done
	"$PETREL" lab down --name "$LAB" >/dev/null 2>&1
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# lab_up NODES MODE [POLICY-BACKEND [LAB-UP-OPTION...]]
lab_up() {
	local n=$1 mode=$2 be=${3:-ebpf}
	shift 2; [ $# -gt 0 ] && shift
	p lab up --name "$LAB" --nodes "$n" --mode "$mode" --policy-backend "$be" "$@" >/dev/null \
		|| fail "lab up --nodes $n --mode $mode --policy-backend $be $*"
}

# migration_rootfs: skip without CRIU; ROOTFS with socat and udp_echo (built once).
migration_rootfs() {
	[ -x /opt/petrel/criu/bin/criu ] || command -v criu >/dev/null || skip "no CRIU (scripts/install-criu.sh)"
	ROOTFS="$BUILD/test-rootfs"
	[ -x "$ROOTFS/usr/bin/socat" ] && [ -x "$ROOTFS/usr/bin/udp_echo" ] ||
		"$ROOT/scripts/mkrootfs.sh" "$ROOTFS" socat "$BUILD/tools/udp_echo" >/dev/null \
		|| fail "cannot build the test rootfs"
}

# migrate NAME TO: the JSON report, or fail with the CLI's error (uses $TMP)
migrate() {
	local out
	out=$(p -j migrate "$1" --to "$2" 2>"$TMP/migrate.err") || {
		cat "$TMP/migrate.err" >&2; fail "migrate $1 --to $2"; }
	echo "$out"
}
# where NAME: "NODE STATE" of a container, from node1's view
where() { p --node node1 -j ps | jq -r ".[] | select(.name==\"$1\") | .node + \" \" + .state"; }

# session NAME NS HOST PORT [--udp]: a background echo probe (tools/echo_probe.py) from NS,
# until $TMP/stop.NAME appears; its result lands in $TMP/NAME.json (uses $TMP).
session() {
	local name=$1 ns=$2; shift 2
	ip netns exec "$ns" python3 "$ROOT/tools/echo_probe.py" "$@" --interval 0.02 --duration 120 \
		--ready "$TMP/$name.ready" --stop "$TMP/stop.$name" >"$TMP/$name.json" 2>&1 &
	for _ in $(seq 100); do [ -e "$TMP/$name.ready" ] && return 0; sleep 0.05; done
	fail "session $name did not connect"
}
# finish WHAT NAME...: stop those sessions and check each: no break, byte for byte, nothing
# lost ("session NAME intact WHAT").
finish() {
	local what=$1 s res
	shift
	for s in "$@"; do touch "$TMP/stop.$s"; done
	for s in "$@"; do
		for _ in $(seq 150); do [ -s "$TMP/$s.json" ] && break; sleep 0.1; done
		res=$(cat "$TMP/$s.json")
		echo "$res" | jq -e '.error == null and .mismatches == 0 and .lost == 0 and .received == .sent and .sent > 50' >/dev/null \
			|| fail "session $s broke: $res"
		ok "session $s intact$what: $(echo "$res" | jq -c '{sent, max_stall_ms}')"
	done
}

# ep_field NAME FIELD  (from the cluster view of any node)
ep_field() { p --node node1 -j endpoint show "$1" | jq -r ".$2"; }
ep_ns()    { ep_field "$1" netns; }
node_ip()  { p -j lab status | jq -r ".nodes[] | select(.name==\"$1\") | .ipv$2"; }
outside_ip() { p -j lab status | jq -r ".outside.ipv$1"; }

# etcd_as USER PATH [CURL-ARGS...]: POST to the lab's etcd gateway from the fabric
# namespace as USER (root, operator, or nodeN), logged in with its password file, over the
# lab's CA and its client certificate without a CN (lab status -j .etcd).
etcd_as() {
	local user=$1 path=$2 e pwfile token
	shift 2
	e=$(p -j lab status | jq -c .etcd)
	pwfile=$(dirname "$(jq -r .root_password_file <<<"$e")")/etcd-$user.password
	local c=(ip netns exec "$LAB-fabric" curl -s --cacert "$(jq -r .ca <<<"$e")"
		--cert "$(jq -r .gateway_cert <<<"$e")" --key "$(jq -r .gateway_key <<<"$e")")
	token=$("${c[@]}" -X POST "$(jq -r .endpoint <<<"$e")/v3/auth/authenticate" \
		-d "$(jq -nc --arg u "$user" --arg p "$(cat "$pwfile")" '{name: $u, password: $p}')" | jq -r .token)
	"${c[@]}" -f -H "Authorization: $token" -X POST "$(jq -r .endpoint <<<"$e")$path" "$@"
}
# etcd_curl PATH [CURL-ARGS...]: etcd_as root.
etcd_curl() { etcd_as root "$@"; }
# The same for programs that read them from the environment: root, by password.
etcd_env() {
	local e
	e=$(p -j lab status | jq -c .etcd)
	export ETCD_CA=$(jq -r .ca <<<"$e") ETCD_CERT=$(jq -r .gateway_cert <<<"$e") \
		ETCD_KEY=$(jq -r .gateway_key <<<"$e") ETCD_USER=root \
		ETCD_PASSWORD_FILE=$(jq -r .root_password_file <<<"$e")
	ETCD=$(jq -r .endpoint <<<"$e")
}

# in_ns NS CMD...: run in a network namespace (endpoint, node or outside).
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Start dual-stack echo servers (TCP and UDP) on PORT inside NS; they die with the lab.
echo_server() {
	local ns=$1 port=$2
	ip netns exec "$ns" socat TCP6-LISTEN:"$port",fork,reuseaddr,ipv6only=0 PIPE >/dev/null 2>&1 &
	ip netns exec "$ns" socat UDP6-RECVFROM:"$port",fork,reuseaddr,ipv6only=0 PIPE >/dev/null 2>&1 &
	wait_port "$ns" "$port"
}

# A server that answers with the peer address it saw (to check masquerading).
peer_server() {
	local ns=$1 port=$2
	ip netns exec "$ns" socat TCP6-LISTEN:"$port",fork,reuseaddr,ipv6only=0 \
		SYSTEM:'echo "$SOCAT_PEERADDR"' >/dev/null 2>&1 &
	wait_port "$ns" "$port"
}

wait_port() {
	local ns=$1 port=$2 i
	for i in $(seq 50); do
		ip netns exec "$ns" ss -ltnH "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on port $port in $ns"
}

addr() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }

# Canonical text of an address as socat reports it (brackets, zero padding, v4-mapped).
norm_ip() {
	python3 -c 'import ipaddress, sys
a = ipaddress.ip_address(sys.argv[1].strip("[]"))
print(a.ipv4_mapped if getattr(a, "ipv4_mapped", None) else a)' "$1"
}

# send NS PROTO IP PORT: echo a unique line through a server and print what came back.
send() {
	local ns=$1 proto=$2 ip=$3 port=$4 msg="petrel-$RANDOM-$RANDOM"
	local got
	got=$(echo "$msg" | timeout 6 ip netns exec "$ns" socat -t 2 - "$proto:$(addr "$ip"):$port" 2>/dev/null || true)
	[ "$got" = "$msg" ]
}

# expect_echo NS PROTO IP PORT WHAT
expect_echo() {
	local i
	for i in 1 2 3; do
		send "$1" "$2" "$3" "$4" && { ok "$5"; return 0; }
		sleep 0.5
	done
	fail "$5: no echo from $3:$4/$2 (from $1)"
}

# expect_no_echo NS PROTO IP PORT WHAT
expect_no_echo() {
	if send "$1" "$2" "$3" "$4"; then fail "$5: got an echo from $3:$4/$2 but expected none"; fi
	ok "$5"
}
