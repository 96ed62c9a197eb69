#!/usr/bin/env bash
# The engine against its peers, side by side in one run and with one statistic (per repetition
# a barrier, then the operation; the slowest member's time; the median over repetitions):
#   fmx-tcp / fmx-shm   the engine's fence (auto algorithm) under fmx-mprun, FI_PROVIDER=tcp|shm
#   ompi-tcp / ompi-vader  Open MPI's MPI_Allgatherv of the same bytes (pml ob1, btl tcp|vader)
#   raw-tcp / raw-shm   libfabric's own fi_pingpong (tcp or shm, RDM) moving S/P bytes one way:
#                       at P = 2 the least time an allgather of S bytes can take on that provider
# and barriers (fence without data; MPI_Barrier). S is the total gathered, S/P per member.
# Writes bench/results/peers.csv and peers.md (medians, ratios to Open MPI and to raw).
#   bench/peers.sh [BUILD_DIR]    (FMX_PEERS_P="2 4 8 16 32 64", FMX_PEERS_S="65536 1048576
#                                  16777216", FMX_PEERS_REPS=20, FMX_PEERS_RUNS=3,
#                                  FMX_PEERS_SET=ucx: the UCX stacks, below)
set -euo pipefail
source "$(dirname "$0")/common.sh"
csv=$out/peers.csv md=$out/peers.md
# FMX_PEERS_SET=ucx: the engine over the UCX backend against Open MPI's UCX PML and
# ucx_perftest, over UCX's tcp and its shared memory (peers-ucx.csv, .md)
stacks=(tcp shm) ompis=(tcp vader) table=()
if [ "${FMX_PEERS_SET:-}" = ucx ]; then
  stacks=(ucx-tcp ucx-sm) ompis=(ucx-tcp ucx-sm) table=(--set ucx)
  csv=$out/peers-ucx.csv md=$out/peers-ucx.md
fi
mg=$PWD/$build/bench/mpi_allgather
[ -x "$mg" ] || { echo "build first: cmake --build $build"; exit 1; }
reps=${FMX_PEERS_REPS:-20}
sizes=${FMX_PEERS_S:-65536 1048576 16777216}
root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
log=$out/peers.log
if [ -z "${FMX_PEERS_RAW_ONLY:-}" ]; then
  : >"$log"
  echo "who,kind,P,S_bytes,reps,min_us,median_us,p99_us" >"$csv"
fi

fmx() { # fmx PROVIDER P S (S = 0: a barrier); PROVIDER ucx-TLS: the UCX backend over TLS
  local kind=fence args=(--algos auto --L 1 --B $(($3 / $2))) env=(FI_PROVIDER=$1)
  [ "$3" = 0 ] && kind=barrier args=(--algos auto --barrier)
  [[ $1 == ucx-* ]] && env=(FMX_TRANSPORT=ucx "FMX_UCX_TLS=${1#ucx-}" FMX_UCX_NET_DEVICES=lo)
  env "${env[@]}" timeout 600 "$mprun" -n "$2" --timeout 580 -- "$fb" "${args[@]}" --reps "$reps" \
    2>>"$log" | awk -F, -v who="fmx-$1" -v k=$kind '$3 == k && $2 == "auto" {
      printf "%s,%s,%s,%.0f,%s,%s,%s,%s\n", who, k == "fence" ? "allgather" : k, $4, k == "fence" ? $8 : 0, $9, $10, $11, $12 }' \
    >>"$csv" || echo "  (fmx $1 P=$2 S=$3: failed; see $log)"
}

ompi() { # ompi BTL P SIZES; BTL ucx-TLS: the UCX PML over those UCX transports instead
  local pml=(--mca pml ob1 --mca btl "$1,self" --mca btl_tcp_if_include lo)
  [[ $1 == ucx-* ]] && pml=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any
    -x "UCX_TLS=${1#ucx-}" -x UCX_NET_DEVICES=lo)
  timeout 600 mpirun "${root[@]}" --oversubscribe -n "$2" --bind-to none "${pml[@]}" \
    "$mg" "ompi-$1" "$3" "$reps" 2>>"$log" |
    sed 's/,allgatherv,/,allgather,/' >>"$csv" || echo "  (ompi $1 P=$2: failed; see $log)"
}

# fi_pingpong's own timing includes a fixed set-up of a few hundred milliseconds: the time per
# transfer is taken from two runs of different lengths, (t(n2) - t(n1)) / (2 (n2 - n1))
pingpong_total_us() { # PROVIDER BYTES ITERATIONS: the whole run's time in us, from its usec/xfer
  local port=$((20000 + RANDOM % 20000)) srv
  fi_pingpong -p "$1" -e rdm -m tagged -S "$2" -I "$3" -B $port >/dev/null 2>>"$log" &
  srv=$!
  sleep 0.5
  timeout 120 fi_pingpong -p "$1" -e rdm -m tagged -S "$2" -I "$3" -P $port 127.0.0.1 2>>"$log" |
    awk -v n="$3" '$1 ~ /^[0-9]/ && $7 + 0 > 0 { printf "%.1f\n", $7 * 2 * n }'
  kill $srv 2>/dev/null || true
  wait $srv 2>/dev/null || true
}

# ucx_perftest's stream of active messages of BYTES (ucp_am_bw) over UCX_TLS=TLS: the time per
# message at its overall bandwidth, as a row for P = 2, S = 2 BYTES
raw_ucx() { # raw_ucx TLS BYTES
  local port=$((20000 + RANDOM % 20000)) srv n=$((256 * 1048576 / $2)) t
  [ $n -gt 20000 ] && n=20000
  UCX_TLS=$1 UCX_NET_DEVICES=lo timeout 120 ucx_perftest -p $port >/dev/null 2>>"$log" &
  srv=$!
  sleep 0.5
  t=$(UCX_TLS=$1 UCX_NET_DEVICES=lo timeout 120 ucx_perftest 127.0.0.1 -p $port -t ucp_am_bw \
    -s "$2" -n $n 2>>"$log" | awk '$1 == "Final:" { print $5 }')
  wait $srv 2>/dev/null || true
  if [ -n "$t" ]; then
    echo "raw-ucx-$1,allgather,2,$((2 * $2)),$reps,,$t," >>"$csv"
  else
    echo "  (ucx_perftest over $1, $2 bytes: failed; see $log)"
  fi
}

raw() { # raw PROVIDER BYTES: one-way time of BYTES (RDM), as a row for P = 2, S = 2 BYTES
  # (small transfers take more iterations, so that the difference outweighs the set-up's noise)
  local t1 t2 n=$((64 * 1048576 / $2))
  [ $n -lt 100 ] && n=100
  [ $n -gt 5000 ] && n=5000
  t1=$(pingpong_total_us "$1" "$2" $n) t2=$(pingpong_total_us "$1" "$2" $((6 * n)))
  if [ -n "$t1" ] && [ -n "$t2" ] && awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b > a) }'; then
    awk -v p="$1" -v s="$2" -v a="$t1" -v b="$t2" -v r="$reps" -v n=$n \
      'BEGIN { printf "raw-%s,allgather,2,%d,%s,,%.1f,\n", p, 2 * s, r, (b - a) / (10 * n) }' \
      >>"$csv"
  else
    echo "  (fi_pingpong -p $1, $2 bytes: failed; see $log)"
  fi
}

raw_all() { # the raw transfers of the set measured, for every size
  for s in $sizes; do
    if [ "${FMX_PEERS_SET:-}" = ucx ]; then
      raw_ucx tcp $((s / 2)) && raw_ucx sm $((s / 2))
    else
      raw tcp $((s / 2)) && raw shm $((s / 2))
    fi
  done
}

plot() { # the ratios against P, one panel per size (gnuplot, installed from Debian if missing)
  need_gnuplot || return 0
  python3 bench/peers_table.py "$csv" --ratios >"$out/peers-ratios.csv"
  gnuplot -e "csv='$out/peers-ratios.csv'; png='$out/peers-ratios.png'; sizes='$sizes'" \
    bench/peers.gp || echo "  (no plot: gnuplot failed)"
}

if [ -n "${FMX_PEERS_RAW_ONLY:-}" ]; then # measure the provider again, keep the rest
  grep -v '^raw-' "$csv" >"$csv.tmp" && mv "$csv.tmp" "$csv"
  raw_all
  python3 bench/peers_table.py "$csv" "${table[@]}" >"$md"
  cat "$md"
  [ "${FMX_PEERS_SET:-}" = ucx ] || plot
  exit 0
fi
# each configuration FMX_PEERS_RUNS times (3), the stacks alternating within a run; the table
# takes the median of the runs' medians (single runs at P >= 8 on 2 cores vary 2-3x)
for run in $(seq "${FMX_PEERS_RUNS:-3}"); do
  for p in ${FMX_PEERS_P:-2 4 8 16 32 64}; do
    echo "== run $run, P=$p"
    all=$(echo 0 $sizes | tr ' ' ,)
    for o in "${ompis[@]}"; do ompi "$o" "$p" "$all"; done
    for s in 0 $sizes; do
      for f in "${stacks[@]}"; do fmx "$f" "$p" "$s"; done
    done
  done
done
raw_all
python3 bench/peers_table.py "$csv" "${table[@]}" >"$md"
cat "$md"
[ "${FMX_PEERS_SET:-}" = ucx ] || plot
