#!/usr/bin/env bash
# The same policy checks against the iptables baseline backend (bridge, kernel routes).
MODE=native BACKEND=iptables
. "$(dirname "$0")/policy.sh"
