# IOAM lab helpers, shared by tests/integration/test_ioam.sh and bench/ioam.sh.
#
# ioam_kernel_router LAB NAME ADDR ID NS...: a Linux router namespace LAB-NAME on the lab's
# fabric bridge at fd00:198:18::ADDR, forwarding IPv6 with the kernel's own IOAM transit:
# ioam6_enabled on its interface, node id ID (wide: ID too), and every namespace NS known
# (data 0x12345678, wide 0x1234567812345678).
ioam_kernel_router() {
	local lab=$1 name=$2 addr=$3 id=$4; shift 4
	local ns=$lab-$name br
	br=$(ip netns exec "$lab-fabric" ip -br link show type bridge | awk 'NR==1 {print $1}')
	[ -n "$br" ] || return 1
	ip netns add "$ns"
	ip link add "$lab$name" type veth peer name eth0 netns "$ns"
	ip link set "$lab$name" netns "$lab-fabric"
	ip netns exec "$lab-fabric" ip link set "$lab$name" master "$br" up
	ip netns exec "$ns" sh -e -c "
		ip link set lo up; ip link set eth0 up
		ip addr add fd00:198:18::$addr/64 dev eth0 nodad
		sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.ioam6_id=$id \
			net.ipv6.ioam6_id_wide=$id net.ipv6.conf.eth0.ioam6_enabled=1"
	for n in "$@"; do
		ip netns exec "$ns" ip ioam namespace add "$n" data 0x12345678 wide 0x1234567812345678
	done
}

# ioam_via LAB NODE TO_ADDR ROUTER ROUTER_ADDR PODS: NODE reaches fd00:198:18::TO_ADDR
# through the router LAB-ROUTER (and ignores its redirects, since both sit on one bridge);
# the router sends pod prefix PODS on to that node.
ioam_via() {
	ip netns exec "$1-$2" sysctl -qw net.ipv6.conf.eth0.accept_redirects=0
	ip netns exec "$1-$2" ip -6 route replace "fd00:198:18::$3/128" via "fd00:198:18::$5" dev eth0
	ip netns exec "$1-$4" ip -6 route replace "$6" via "fd00:198:18::$3" dev eth0
}

ioam_router_del() {
	local ns=$1-$2
	for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	ip netns del "$ns" 2>/dev/null || true
}
