# Sourced by the engine benchmarks (peers.sh, engine.sh) after `set -euo pipefail`, with the
# script's own arguments: the build directory ($1, default build), the results directory, the
# engine's harness (fmx-mprun running fence_bench), and gnuplot when a plot is wanted.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
out=bench/results
mkdir -p "$out"
mprun=$PWD/$build/tests/fmx-mprun
fb=$PWD/$build/bench/fence_bench
[ -x "$fb" ] && [ -x "$mprun" ] || { echo "build first: cmake --build $build"; exit 1; }
export FI_TCP_IFACE=${FI_TCP_IFACE:-lo}

need_gnuplot() { # installs gnuplot-nox from Debian when missing; fails when it cannot
  command -v gnuplot >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; }
}
