#!/usr/bin/env bash
# Foundation datapath on a 3-node lab in native routing mode.
MODE=native
. "$(dirname "$0")/datapath.sh"
