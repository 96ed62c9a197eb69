#!/usr/bin/env bash
# MPI_Comm_spawn under pmixrun and under Open MPI's mpirun (Debian's openmpi-bin: ORTE with its
# own PMIx server), side by side in one run, alternating, on this host: the same program
# (tests/mpi/mpi_spawn timed K: a job of P ranks spawns K children of itself, which MPI_Init,
# connect back and exchange a number with the parent), REPS times each. Per run: how long the
# parent's MPI_Comm_spawn took (rank 0, MPI_Wtime around the call: placing and starting the
# children, their MPI_Init, the connect), and the whole job's wall time. Writes
# bench/results/spawn.csv (every run) and bench/results/spawn.md (medians, ratios to mpirun).
#   bench/spawn.sh [BUILD_DIR]        (FMX_SPAWN_P=2, FMX_SPAWN_K="1 2 4 8", FMX_SPAWN_REPS=7)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=bench/results
prog=$PWD/$build/tests/mpi/mpi_spawn
pmixrun=$PWD/$build/pmixrun
[ -x "$prog" ] && [ -x "$pmixrun" ] || { echo "build first: cmake --build $build"; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun (Debian's openmpi-bin)"; exit 1; }
p=${FMX_SPAWN_P:-2} reps=${FMX_SPAWN_REPS:-7}
export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=${FI_TCP_IFACE:-lo}
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo}
csv=$out/spawn.csv
echo "launcher,p,k,rep,spawn_ms,job_s" >"$csv"
run() { # launcher k rep
  local t0 t1 o
  t0=$(date +%s.%N)
  if [ "$1" = pmixrun ]; then
    o=$("$pmixrun" --oversubscribe -n "$p" "$prog" timed "$2" 2>&1) || { echo "$o"; exit 1; }
  else
    o=$(mpirun --allow-run-as-root --oversubscribe -n "$p" "$prog" timed "$2" 2>&1) ||
      { echo "$o"; exit 1; }
  fi
  t1=$(date +%s.%N)
  ms=$(sed -n 's/^spawn: rank 0: MPI_Comm_spawn of [0-9]* took \([0-9.]*\) ms$/\1/p' <<<"$o")
  grep -q "^spawn: rank 0 got $2 answers, expected $2$" <<<"$o" || { echo "$o"; exit 1; }
  echo "$1,$p,$2,$3,$ms,$(echo "$t1 - $t0" | bc)" >>"$csv"
}
for k in ${FMX_SPAWN_K:-1 2 4 8}; do
  for rep in $(seq "$reps"); do
    run pmixrun "$k" "$rep"
    run mpirun "$k" "$rep"
  done
done
python3 - "$csv" "$out/spawn.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for key in {(r['launcher'], r['p'], r['k']) for r in rows}:
    sel = [r for r in rows if (r['launcher'], r['p'], r['k']) == key]
    med[key] = (statistics.median(float(r['spawn_ms']) for r in sel),
                statistics.median(float(r['job_s']) for r in sel), len(sel))
with open(sys.argv[2], 'w') as f:
    f.write('| P | children | MPI_Comm_spawn, pmixrun (ms) | mpirun (ms) | ratio | whole job, '
            'pmixrun (s) | mpirun (s) | ratio | runs |\n|---|---|---|---|---|---|---|---|---|\n')
    for (p, k) in sorted({(p, k) for (_, p, k) in med}, key=lambda t: (int(t[0]), int(t[1]))):
        a, b = med[('pmixrun', p, k)], med[('mpirun', p, k)]
        f.write(f'| {p} | {k} | {a[0]:.0f} | {b[0]:.0f} | {a[0] / b[0]:.2f} | {a[1]:.2f} | '
                f'{b[1]:.2f} | {a[1] / b[1]:.2f} | {a[2]} |\n')
print(open(sys.argv[2]).read())
EOF
