# The IOAM benchmarks' chain (sourced by bench/ioam.sh and bench/ioam-parts.sh): three
# petrel nodes in native mode, endpoint a on node1 sending to endpoint c on node2 through
# node3, a petrel node forwarding natively (the transit). PETREL is the CLI; PETRELD, when
# set, the agent the lab's nodes run.

p() { "$PETREL" --lab "$LAB" "$@"; }

# node1 reaches node2 through node3.
via_node3() { ip netns exec "$LAB-node1" ip -6 route replace fd00:198:18::12/128 via fd00:198:18::13 dev eth0; }

# chain_use LAB: the chain the functions below work on.
chain_use() {
	LAB=$1 A=$1-ep-a C=$1-ep-c
	CIP=$(p --node node1 -j endpoint show c | jq -r .ipv6)
}

# chain_up LAB: build it. The sender's CPU carries the whole forwarding chain (veth hops
# run in its softirq); the receiver gets the other CPU, so the two do not compete.
chain_up() {
	LAB=$1
	p lab up --name "$LAB" --nodes 3 --mode native >/dev/null
	p --node node1 endpoint add a >/dev/null
	p --node node2 endpoint add c >/dev/null
	ip netns exec "$LAB-node1" sysctl -qw net.ipv6.conf.eth0.accept_redirects=0
	via_node3
	chain_use "$LAB"
	ip netns exec "$C" taskset -c 1 iperf3 -s -D -p 5201 >/dev/null 2>&1
}

# → received Mbit/s of one run. A run that starts right after another can fail or report
# nothing received (the server still finishing the last one): it is repeated after a
# pause, not counted as 0 Mbit/s.
udp() {
	local v
	for try in 1 2 3 4 5; do
		if v=$(ip netns exec "$A" taskset -c 0 iperf3 -6 -u -b 0 -l 1200 -c "$CIP" -p 5201 -t "$SECS" -J 2>/dev/null |
			jq -e '(.end.sum_received.bits_per_second // .end.sum.bits_per_second) / 1e6 | select(. > 0)' 2>/dev/null) &&
			[ -n "$v" ]; then
			echo "$v"
			return 0
		fi
		sleep 1
	done
	echo "bench: iperf3 failed 5 times in a row" >&2
	return 1
}

# spread RATIOS...: "lowest-highest".
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'; }

# pair ROUND TOGGLE: one pair of runs, IOAM off and on back to back, off first in odd
# rounds and on first in even ones, so a shared machine's drift cancels out; TOGGLE on|off
# switches IOAM and leaves it on. The runs' Mbit/s go to PAIR_OFF and PAIR_ON.
pair() {
	if [ $(($1 % 2)) = 1 ]; then
		$2 off; PAIR_OFF=$(udp); $2 on; PAIR_ON=$(udp)
	else
		PAIR_ON=$(udp); $2 off; PAIR_OFF=$(udp); $2 on
	fi
}
# The last pair's ratio (on / off), and its difference in time per packet in ns (1200
# octets = 9600 bits), which does not depend on the chain's baseline.
pair_ratio() { awk -v n="$PAIR_ON" -v o="$PAIR_OFF" 'BEGIN {print n / o}'; }
pair_ns() { awk -v n="$PAIR_ON" -v o="$PAIR_OFF" 'BEGIN {print 9600000 / n - 9600000 / o}'; }

# roles on|off: the IOAM roles on every node's underlay, or none at all.
roles() {
	local r n; [ "$1" = on ] && r="ingress egress" || r=none
	for n in node1 node2 node3; do p --node $n ioam role --dev eth0 $r >/dev/null; done
}
