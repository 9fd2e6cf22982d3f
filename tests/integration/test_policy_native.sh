#!/usr/bin/env bash
# Policy enforcement on a 2-node lab in native routing mode.
MODE=native
. "$(dirname "$0")/policy.sh"
