#!/usr/bin/env bash
# Live migration on a 3-node lab in vxlan routing mode (see migration.sh).
MODE=vxlan
. "$(dirname "$0")/migration.sh"
