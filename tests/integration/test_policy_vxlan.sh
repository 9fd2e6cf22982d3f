#!/usr/bin/env bash
# Policy enforcement on a 2-node lab in vxlan mode.
MODE=vxlan
. "$(dirname "$0")/policy.sh"
