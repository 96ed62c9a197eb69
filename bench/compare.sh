#!/usr/bin/env bash
# Whole-launcher comparison: the same PMIx program (bench/wireup: Put a card, Commit, Fence
# with data, Get every peer's card, then fences without data) under pmixrun and under Open MPI's
# mpirun (Debian's openmpi-bin: ORTE with its own PMIx server), side by side in one run, N
# ranks, REPS times each. Per run: the whole job's wall time, and the slowest rank's fence,
# get-all and mean barrier time. MPICH's mpiexec.hydra runs bench/pmi1_wireup, the same phases
# over its PMI-1 wire protocol (no PMIx there: a different client, listed for scale).
# On this host (default): pmixrun with one daemon (as mpirun) and with 4 virtual nodes, where
# fences and gets cross daemons through the engine. Writes bench/results/compare.csv (every
# run) and bench/results/compare.md (medians, ratios).
# With FMX_BENCH_HOSTS=4 (needs root): on 4 network-namespace hosts (tests/netns/cluster.sh,
# 198.18.0.0/15), the ranks spread evenly over them: pmixrun starting a pmixd per host through
# the namespace launch agent, pmixrun --connect to a pmixd already serving on every host, and
# mpirun starting its orted per host (hydra its proxy) through the same agent. Writes compare-netns4.{csv,md}.
# With FMX_BENCH_SET=pmi: PMI-1 instead, against MPICH's mpiexec.hydra in the same run:
# bench/pmi1_wireup's phases under hydra and under pmixrun (one daemon, and 4 virtual nodes on
# this host), and an MPICH program's whole job (MPI_Init, an allreduce, MPI_Finalize: rows
# ending in -job) under each. Writes compare-pmi{,-netns4}.{csv,md}, ratios to hydra's.
# With FMX_BENCH_SET=slurm: inside one Slurm allocation of 4 network-namespace hosts, the same
# PMIx program under `srun --mpi=pmix` and under pmixrun (bench/slurm.sh: slurm.{csv,md}).
#   bench/compare.sh [BUILD_DIR]        (FMX_BENCH_N="2 8 32 64 128", FMX_BENCH_REPS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ "${FMX_BENCH_SET:-}" != slurm ] || exec bash bench/slurm.sh "$build"
nhosts=${FMX_BENCH_HOSTS:-0}
if [ "$nhosts" -gt 0 ] && [ -z "${FMX_HOSTS:-}" ]; then
  exec bash tests/netns/cluster.sh "$nhosts" bash "$0" "$build"
fi
out=bench/results
mkdir -p "$out"
wireup=$PWD/$build/bench/wireup
pmixrun=$PWD/$build/pmixrun
pmixd=$PWD/$build/pmixd
pmi1=$PWD/$build/bench/pmi1_wireup
mpich_job=$PWD/$build/tests/pmi/mpich_mpi_allreduce
set=${FMX_BENCH_SET:-pmix}
# MPICH's launcher (Debian's mpich, installed when missing; it leaves Open MPI the default
# mpirun and mpicc): pmi1_wireup speaks its PMI-1 wire protocol
if ! command -v mpiexec.hydra >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends mpich >/dev/null || true
fi
hydra=$(command -v mpiexec.hydra || true)
agent=$PWD/tests/netns/agent.sh
[ -x "$wireup" ] && [ -x "$pmixrun" ] || { echo "build first: cmake --build $build"; exit 1; }
reps=${FMX_BENCH_REPS:-10}
root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
tmp=$(mktemp -d)
svcs=()
trap 'for p in "${svcs[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait; rm -rf "$tmp"' EXIT
if [ "$nhosts" -gt 0 ]; then
  tag=netns$nhosts
  read -r -a hosts <<<"$FMX_HOSTS"
  subnet=${FMX_CONTROL_HOST%.*}.0/24
  export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=fmx0 FI_SOCKETS_IFACE=fmx0
  # a pmixd serving jobs on every host, as in containers or pods
  head -c 48 /dev/urandom | base64 >"$tmp/secret"
  chmod 600 "$tmp/secret"
  for h in "${hosts[@]}"; do
    "$agent" "$h" "$pmixd" --listen 7707 --secret-file "$tmp/secret" 2>>"$tmp/svc.log" &
    svcs+=($!)
  done
  for _ in $(seq 100); do
    [ "$(grep -c 'serving jobs' "$tmp/svc.log")" -eq "$nhosts" ] && break
    sleep 0.1
  done
else
  tag=
  export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=${FI_TCP_IFACE:-lo}
fi
name=compare
[ "$set" = pmi ] && name=compare-pmi
csv=$out/$name${tag:+-$tag}.csv
echo "launcher,N,rep,wall_s,fence_ms,get_all_ms,fence_get_ms,barrier_us" >"$csv"

# one_run LABEL N COMMAND...: appends a row, or says what failed
one_run() {
  local label=$1 n=$2 t0 t1
  shift 2
  t0=$(date +%s%N)
  if ! timeout 300 "$@" >"$tmp/run.out" 2>"$tmp/run.err"; then
    echo "  $label N=$n: failed: $(head -3 "$tmp/run.err" | tr '\n' ' ')"
    return
  fi
  t1=$(date +%s%N)
  if [[ $label == *-job ]]; then
    printf '%s,%d,%d,%.3f,0,0,0,0\n' "$label" "$n" "$rep" "$(((t1 - t0) / 1000000))e-3" >>"$csv"
    return
  fi
  awk -v l="$label" -v n="$n" -v r="$rep" -v w="$(( (t1 - t0) / 1000000 ))" '
    $1 == "wireup" { c++; if ($5 > f) f = $5; if ($6 > g) g = $6; if ($5 + $6 > fg) fg = $5 + $6; if ($7 > b) b = $7 }
    END { if (c != n) { print "  " l " N=" n ": " c " ranks reported" > "/dev/stderr"; exit 1 }
          printf "%s,%d,%d,%.3f,%.2f,%.2f,%.2f,%.1f\n", l, n, r, w / 1000, f / 1000, g / 1000, fg / 1000, b }' \
    "$tmp/run.out" >>"$csv"
}

# pmi_runs N VNODES: hydra and pmixrun, each with the PMI-1 wire client and an MPICH job
pmi_runs() {
  local n=$1 v=$2 via=() pv=()
  [ -n "$hydra" ] || { echo "no mpiexec.hydra: nothing to compare PMI-1 with"; exit 1; }
  if [ "$nhosts" -gt 0 ]; then
    via=(-launcher ssh -launcher-exec "$agent" -localhost "$FMX_CONTROL_HOST" -f "$tmp/hydra-hosts")
    pv=(--launch-agent "$agent" --hostfile "$tmp/hosts")
  fi
  one_run hydra "$n" "$hydra" "${via[@]}" -n "$n" "$pmi1" 256 20
  one_run pmixrun "$n" "$pmixrun" --oversubscribe "${pv[@]}" -n "$n" "$pmi1" 256 20
  [ "$nhosts" -gt 0 ] || one_run "pmixrun-v$v" "$n" "$pmixrun" --oversubscribe -n "$n" --vnodes "$v" \
    "$pmi1" 256 20
  # MPICH's ranks poll without yielding: 128 of them on 2 cores take most of a minute a job
  [ "$n" -le 64 ] || return 0
  one_run hydra-job "$n" "$hydra" "${via[@]}" -n "$n" "$mpich_job"
  one_run pmixrun-job "$n" "$pmixrun" --oversubscribe "${pv[@]}" -n "$n" "$mpich_job"
}

for n in ${FMX_BENCH_N:-2 8 32 64 128}; do
  echo "== N=$n"
  if [ "$nhosts" -gt 0 ]; then
    per=$(((n + nhosts - 1) / nhosts))
    for h in "${hosts[@]}"; do echo "$h slots=$per"; done >"$tmp/hosts"
    # pmixrun --connect dials the hosts itself: by address (no name service knows them)
    for a in $FMX_HOST_ADDRS; do echo "$a slots=$per"; done >"$tmp/addrs"
    for h in "${hosts[@]}"; do echo "$h:$per"; done >"$tmp/hydra-hosts"
    connect=("$pmixrun" --connect 7707 --secret-file "$tmp/secret" --hostfile "$tmp/addrs")
    mpirun_hosts=(mpirun "${root[@]}" --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1
      --mca oob_tcp_if_include "$subnet" --bind-to none --hostfile "$tmp/hosts")
  fi
  v=$((n < 4 ? n : 4))
  for rep in $(seq "$reps"); do
    if [ "$set" = pmi ]; then
      pmi_runs "$n" "$v"
    elif [ "$nhosts" -gt 0 ]; then
      one_run pmixrun "$n" "$pmixrun" --launch-agent "$agent" --hostfile "$tmp/hosts" \
        -n "$n" "$wireup" 256 20
      for mode in "" dmodex; do
        one_run "pmixrun-connect${mode:+-$mode}" "$n" "${connect[@]}" -n "$n" "$wireup" 256 20 $mode
        one_run "mpirun${mode:+-$mode}" "$n" "${mpirun_hosts[@]}" -n "$n" "$wireup" 256 20 $mode
      done
      if [ -n "$hydra" ]; then
        one_run hydra-pmi1 "$n" "$hydra" -launcher ssh -launcher-exec "$agent" \
          -localhost "$FMX_CONTROL_HOST" -f "$tmp/hydra-hosts" -n "$n" "$pmi1" 256 20
      fi
    else
      one_run pmixrun "$n" "$pmixrun" --oversubscribe -n "$n" "$wireup" 256 20
      one_run "pmixrun-v$v" "$n" "$pmixrun" --oversubscribe -n "$n" --vnodes "$v" "$wireup" 256 20
      one_run "pmixrun-v$v-dmodex" "$n" "$pmixrun" --oversubscribe -n "$n" --vnodes "$v" \
        "$wireup" 256 20 dmodex
      one_run mpirun "$n" mpirun "${root[@]}" --oversubscribe --bind-to none -n "$n" "$wireup" 256 20
      if [ -n "$hydra" ]; then
        one_run hydra-pmi1 "$n" "$hydra" -n "$n" "$pmi1" 256 20
      fi
    fi
  done
done

# medians per launcher and N, and the ratio to mpirun measured in the same run
ref=mpirun
[ "$set" = pmi ] && ref=hydra
awk -v ref=$ref -f bench/table.awk "$csv" >"${csv%.csv}.md"
{
  echo
  echo "Medians of $reps runs per row, $(date -u +%F), $(nproc) cores, $(uname -r),"
  echo "FI_PROVIDER=$FI_PROVIDER; Open MPI $(ompi_info --version 2>/dev/null | head -1 | awk '{print $NF}')."
  [ -n "$hydra" ] && echo "MPICH $("$hydra" --version | awk '/Version:/ {print $2; exit}') (hydra-pmi1: bench/pmi1_wireup over PMI-1)."
  echo "Rows ending in -dmodex: the fence collects nothing and every Get of a rank on another node"
  echo "is a direct modex; their ratios are to mpirun-dmodex."
  if [ "$nhosts" -gt 0 ]; then echo "$nhosts network-namespace hosts on one machine, ranks spread evenly."; fi
} >>"${csv%.csv}.md"
cat "${csv%.csv}.md"
