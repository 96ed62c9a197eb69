#!/usr/bin/env bash
# Installs what is missing, builds, and runs a real job: 8 processes on this machine, each an
# engine member on its own libfabric endpoint (FI_PROVIDER, default tcp), doing fences with
# every algorithm and checking every byte, then direct modex between all pairs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=${FI_TCP_IFACE:-lo}
peer=build/tests/fmx-peer
run=build/tests/fmx-mprun
set -x
"$run" -n 8 -- "$peer" --algos tree,rd,bruck,ring,auto --sizes 0,100,65536 --iters 3
"$run" -n 8 -- "$peer" --scenario dmodex
