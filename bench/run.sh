#!/usr/bin/env bash
# Every benchmark, one command: installs what is missing and builds (scripts/build.sh), then
# the engine against Open MPI and the raw provider (bench/peers.sh), the engine at scale
# (bench/engine.sh), the whole launcher on this host (bench/compare.sh) and, as root, on four
# network-namespace hosts (FMX_BENCH_HOSTS=4 bench/compare.sh). Results and
# plots go to bench/results/ (see bench/README.md). The scripts' own variables shorten a run:
# FMX_BENCH_MAXP, FMX_BENCH_N, FMX_BENCH_REPS, FMX_BENCH_PROVIDERS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
bash bench/peers.sh
bash bench/engine.sh
bash bench/compare.sh
if [ "$(id -u)" = 0 ]; then
  FMX_BENCH_HOSTS=4 bash bench/compare.sh
else
  echo "bench/run.sh: not root: no network-namespace hosts, so no netns comparison"
fi
ls -l bench/results
