#!/usr/bin/env bash
# Whole-launcher comparison on this host: the same PMIx program (bench/wireup: Put a card,
# Commit, Fence with data, Get every peer's card, then fences without data) under pmixrun and
# under Open MPI's mpirun (Debian's openmpi-bin: ORTE with its own PMIx server), side by side in
# one run, N ranks, REPS times each. pmixrun runs with one daemon (as mpirun) and with 4 virtual
# nodes, where fences and gets cross daemons through the engine. Per run: the whole job's wall
# time, and the slowest rank's fence, get-all and mean barrier time. Writes
# bench/results/compare.csv (every run) and bench/results/compare.md (medians, ratios).
#   bench/compare.sh [BUILD_DIR]        (FMX_BENCH_N="2 8 32 64 128", FMX_BENCH_REPS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=bench/results
mkdir -p "$out"
wireup=$build/bench/wireup
pmixrun=$build/pmixrun
[ -x "$wireup" ] && [ -x "$pmixrun" ] || { echo "build first: cmake --build $build"; exit 1; }
reps=${FMX_BENCH_REPS:-10}
export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=${FI_TCP_IFACE:-lo}
root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
csv=$out/compare.csv
echo "launcher,N,rep,wall_s,fence_ms,get_all_ms,fence_get_ms,barrier_us" >"$csv"

# one_run LABEL N COMMAND...: appends a row, or says what failed
one_run() {
  local label=$1 n=$2 t0 t1
  shift 2
  t0=$(date +%s%N)
  if ! timeout 300 "$@" >"$out/run.out" 2>"$out/run.err"; then
    echo "  $label N=$n: failed: $(head -3 "$out/run.err" | tr '\n' ' ')"
    return
  fi
  t1=$(date +%s%N)
  awk -v l="$label" -v n="$n" -v r="$rep" -v w="$(( (t1 - t0) / 1000000 ))" '
    $1 == "wireup" { c++; if ($5 > f) f = $5; if ($6 > g) g = $6; if ($5 + $6 > fg) fg = $5 + $6; if ($7 > b) b = $7 }
    END { if (c != n) { print "  " l " N=" n ": " c " ranks reported" > "/dev/stderr"; exit 1 }
          printf "%s,%d,%d,%.3f,%.2f,%.2f,%.2f,%.1f\n", l, n, r, w / 1000, f / 1000, g / 1000, fg / 1000, b }' \
    "$out/run.out" >>"$csv"
}

for n in ${FMX_BENCH_N:-2 8 32 64 128}; do
  echo "== N=$n"
  v=$((n < 4 ? n : 4))
  for rep in $(seq "$reps"); do
    one_run pmixrun "$n" "$pmixrun" --oversubscribe -n "$n" "$wireup" 256 20
    one_run "pmixrun-v$v" "$n" "$pmixrun" --oversubscribe -n "$n" --vnodes "$v" "$wireup" 256 20
    one_run mpirun "$n" mpirun "${root[@]}" --oversubscribe --bind-to none -n "$n" "$wireup" 256 20
  done
done

# medians per launcher and N, and the ratio to mpirun measured in the same run
awk -F, 'NR > 1 { k = $1 SUBSEP $2; n[k]++; w[k, n[k]] = $4; f[k, n[k]] = $5; g[k, n[k]] = $6;
                  fg[k, n[k]] = $7; b[k, n[k]] = $8; L[$1] = 1; N[$2] = 1 }
  function med(a, k, c,    i, j, t, v) {
    for (i = 1; i <= c; i++) v[i] = a[k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
  END {
    print "| N | launcher | wall s | fence ms | get_all ms | fence+get ms | barrier us | wall / mpirun | fence+get / mpirun |"
    print "|---|---|---|---|---|---|---|---|---|"
    for (nn in N) order[nn + 0] = nn
    for (nn = 1; nn <= 1024; nn++) if (nn in order) for (l in L) {
      k = l SUBSEP nn; m = "mpirun" SUBSEP nn; if (!(k in n)) continue
      mw = (m in n) ? med(w, m, n[m]) : 0; mfg = (m in n) ? med(fg, m, n[m]) : 0
      printf "| %d | %s | %.3f | %.2f | %.2f | %.2f | %.0f | %s | %s |\n", nn, l, med(w, k, n[k]),
        med(f, k, n[k]), med(g, k, n[k]), med(fg, k, n[k]), med(b, k, n[k]),
        mw ? sprintf("%.2f", med(w, k, n[k]) / mw) : "-", mfg ? sprintf("%.2f", med(fg, k, n[k]) / mfg) : "-"
    }
  }' "$csv" >"$out/compare.md"
{
  echo
  echo "Medians of $reps runs per row, $(date -u +%F), $(nproc) cores, $(uname -r),"
  echo "FI_PROVIDER=$FI_PROVIDER; Open MPI $(ompi_info --version 2>/dev/null | head -1 | awk '{print $NF}')."
} >>"$out/compare.md"
cat "$out/compare.md"
