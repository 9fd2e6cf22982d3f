#!/usr/bin/env bash
# The same policy checks against the iptables baseline backend (bridge, kernel routes).
MODE=native BACKEND=iptables
. "$(dirname "$0")/policy.sh"
# IOAM rides on the eBPF datapath: an iptables node refuses its roles and says why.
out=$(p --node node1 ioam role --dev eth0 ingress 2>&1) && fail "ioam role accepted on an iptables node"
grep -q "iptables backend" <<<"$out" || fail "ioam role on an iptables node: unclear error '$out'"
ok "ioam role on an iptables node is refused: $out"
echo "$CHECKS checks passed"
