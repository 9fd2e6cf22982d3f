#!/usr/bin/env bash
# Latency accounting on a native-routing lab (no encapsulation on the underlay).
MODE=native exec "$(dirname "$0")/test_latency.sh"
