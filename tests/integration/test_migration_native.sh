#!/usr/bin/env bash
# Live migration on a 3-node lab in native routing mode (see migration.sh).
MODE=native
. "$(dirname "$0")/migration.sh"
