#!/usr/bin/env bash
# pmixrun against Slurm's own PMIx launch, in the same allocation (issue 18): four
# network-namespace hosts (tests/netns/cluster.sh 4), a Slurm cluster of their own
# (tests/slurm/start.sh, Slurm 22.05 from Debian), and inside one `salloc -N 4` the same PMIx
# program (bench/wireup: Put a 256-byte card, Commit, Fence with data, Get every card, 5
# fences) started by `srun --mpi=pmix --overcommit -n N` and by `pmixrun --oversubscribe -n N`,
# alternating, REPS times each N: the whole job's wall time, and the slowest rank's fence +
# get-all. Medians; ratios pmixrun / srun. Writes bench/results/slurm.csv and slurm.md.
#   bench/slurm.sh [BUILD_DIR]   (FMX_BENCH_N="8 16 32 64 128", FMX_BENCH_REPS=5; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$PWD/${1:-build}
if [ -z "${FMX_SLURM_BENCH_INNER:-}" ]; then
  [ -x "$build/pmixrun" ] && [ -x "$build/bench/wireup" ] || { echo "build first"; exit 1; }
  exec env FMX_SLURM_BENCH_INNER=1 tests/netns/cluster.sh 4 bash "$0" "${1:-build}"
fi
FMX_SLURM_PRIVATE_TMP=1 source tests/slurm/start.sh
set +e
out=$PWD/bench/results
mkdir -p "$out"
csv=$out/slurm.csv
reps=${FMX_BENCH_REPS:-5}
sizes=${FMX_BENCH_N:-"8 16 32 64 128"}
export FI_PROVIDER=tcp FI_TCP_IFACE=fmx0 OMPI_MCA_btl_tcp_if_include=fmx0
# inside the allocation: every run, a line "launcher,n,rep,wall_s,fence_get_us"
cat >"$dir/inner.sh" <<EOF
one() {
  local l=\$1 n=\$2 rep=\$3 t0 t1 fg
  t0=\$(date +%s.%N)
  if [ \$l = srun ]; then
    srun --mpi=pmix --overcommit -N 4 -n \$n $build/bench/wireup 256 5 >$dir/run.out 2>&1
  else
    $build/pmixrun --oversubscribe -n \$n $build/bench/wireup 256 5 >$dir/run.out 2>&1
  fi
  t1=\$(date +%s.%N)
  # the slowest rank's fence + get-all; and the fence's own part: from the last rank's entry
  # to the last rank's return (CLOCK_MONOTONIC, one machine), + the slowest get-all
  fg=\$(awk -v n=\$n '\$1 == "wireup" { c++; f[\$2] = \$5; if (\$5 + \$6 > m) m = \$5 + \$6
                                        if (\$6 > g) g = \$6 }
                       \$1 == "wireup_at" { at[\$2] = \$4 }
                       END { for (r in at) { if (at[r] > le) le = at[r]
                                             if (at[r] + f[r] > lx) lx = at[r] + f[r] }
                             if (c == n) printf "%.1f,%.1f", m, lx - le + g; else print "nan,nan" }' $dir/run.out)
  echo "\$l,\$n,\$rep,\$(awk -v a=\$t0 -v b=\$t1 'BEGIN { printf "%.4f", b - a }'),\$fg"
}
for rep in \$(seq $reps); do
  for n in $sizes; do
    one srun \$n \$rep
    one pmixrun \$n \$rep
  done
done
EOF
echo "launcher,n,rep,wall_s,fence_get_us,last_fence_get_us" >"$csv"
timeout -s KILL 1800 salloc -N 4 --exclusive -t 40 bash "$dir/inner.sh" 2>"$dir/salloc.err" |
  grep -E '^(srun|pmixrun),' >>"$csv"
python3 - "$csv" "$out/slurm.md" "$reps" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = ("wall_s", "fence_get_us", "last_fence_get_us")
med = {}
for r in rows:
    try:
        med.setdefault((r["launcher"], int(r["n"])), []).append(tuple(float(r[c]) for c in cols))
    except (ValueError, KeyError, TypeError):
        pass
def m(l, n, i):
    v = [x[i] for x in med.get((l, n), []) if x[i] == x[i]]
    return statistics.median(v) if v else float("nan")
o = ["# pmixrun against srun --mpi=pmix in one Slurm allocation\n",
     f"bench/slurm.sh: 4 network-namespace hosts of one 2-core machine, Slurm 22.05 from Debian "
     f"(mpi/pmix with libpmix 4.2.2), bench/wireup, medians of {sys.argv[3]} runs each, "
     f"alternating in one allocation. fence+get: the slowest rank's first fence (from its own "
     f"entry, so it includes waiting for the last rank to start) + get-all of every card; "
     f"last-entry: from the last rank's entry into that fence to the last rank's return, + the "
     f"slowest get-all.\n\n",
     "| N | srun wall s | pmixrun wall s | ratio | srun fence+get ms | pmixrun fence+get ms | ratio "
     "| srun last-entry ms | pmixrun last-entry ms | ratio |\n",
     "|---|---|---|---|---|---|---|---|---|---|\n"]
for n in sorted({k[1] for k in med}):
    s = [m("srun", n, i) for i in range(3)]
    p = [m("pmixrun", n, i) for i in range(3)]
    o.append(f"| {n} | {s[0]:.3f} | {p[0]:.3f} | {p[0]/s[0]:.2f} | {s[1]/1e3:.1f} | {p[1]/1e3:.1f} "
             f"| {p[1]/s[1]:.2f} | {s[2]/1e3:.1f} | {p[2]/1e3:.1f} | {p[2]/s[2]:.2f} |\n")
open(sys.argv[2], "w").write("".join(o))
print("".join(o))
PY
