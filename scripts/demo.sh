#!/usr/bin/env bash
# Installs what is missing, builds, and runs real jobs through pmixrun on this machine: OpenPMIx's
# client example (Put, Commit, Fence with data, Get of every peer) on 8 ranks split over 2
# virtual nodes, so that the fence crosses two pmixd through the engine, then an Open MPI
# allreduce and an MPICH allreduce (PMI-1 on the wire) started directly by pmixrun.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=${FI_TCP_IFACE:-lo}
pmixrun=build/pmixrun
echo "+ $pmixrun --oversubscribe -n 8 --vnodes 2 build/tests/pmix/pmix_client"
out=$("$pmixrun" --oversubscribe -n 8 --vnodes 2 build/tests/pmix/pmix_client 2>&1)
grep -E "rank 0: PMIx_Get .*-remote returned correct" <<<"$out"
echo "$(grep -c 'PMIx_Finalize successfully completed' <<<"$out") of 8 ranks finalized"
echo "+ $pmixrun --oversubscribe -n 8 --vnodes 2 build/tests/mpi/mpi_allreduce"
"$pmixrun" --oversubscribe -n 8 --vnodes 2 build/tests/mpi/mpi_allreduce
echo "+ $pmixrun --oversubscribe -n 8 --vnodes 2 build/tests/pmi/mpich_mpi_allreduce"
"$pmixrun" --oversubscribe -n 8 --vnodes 2 build/tests/pmi/mpich_mpi_allreduce
