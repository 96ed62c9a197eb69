#!/usr/bin/env bash
# Installs every Debian package fmx needs to build and test that is not already present.
# Idempotent; runs `apt-get update` only when something is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libfabric-dev libfabric-bin
  libpmix-dev libpmix-bin
  libhwloc-dev hwloc
  libssl-dev
  libucx-dev ucx-utils
  clang libclang-rt-14-dev clang-format
  iproute2 procps util-linux iptables
  python3 python3-yaml strace
  slurm-wlm munge
)
if [ "${FMX_WITH_MPI:-1}" = 1 ]; then
  packages+=(openmpi-bin libopenmpi-dev mpich libmpich-dev libpmi2-0-dev)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
