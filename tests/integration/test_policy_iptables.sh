#!/usr/bin/env bash
# The same policy checks against the iptables baseline backend (bridge, kernel routes).
MODE=native BACKEND=iptables
. "$(dirname "$0")/policy.sh"
# IOAM rides on the eBPF datapath: an iptables node refuses its roles and says why.
expect_error "ioam role on an iptables node" "iptables backend" p --node node1 ioam role --dev eth0 ingress
echo "$CHECKS checks passed"
