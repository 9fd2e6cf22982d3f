#!/usr/bin/env bash
# Foundation datapath on a 3-node lab in vxlan mode.
MODE=vxlan
. "$(dirname "$0")/datapath.sh"
