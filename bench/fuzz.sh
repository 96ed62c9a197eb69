#!/usr/bin/env bash
# Every libFuzzer target for FMX_FUZZ_RUNS (10^6) executions, with AddressSanitizer, UBSan and
# leak detection, from the seeds the build made; writes bench/results/fuzz.md: executions,
# seconds, crashes and leaks per target (a crash or leak is a non-zero exit and its reproducer
# in the build tree). Needs the fuzz build: CC=clang cmake -S . -B build-fuzz -DFMX_FUZZ=ON
# -DFMX_BUILD_TESTS=OFF && cmake --build build-fuzz.
#   bench/fuzz.sh [BUILD_DIR]   (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
runs=${FMX_FUZZ_RUNS:-1000000}
out=bench/results/fuzz.md
dir=$PWD/$build/fuzz
[ -x "$dir/fuzz_frame" ] || { echo "build the fuzz targets first (see the header)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
{
  echo "| target | executions | seconds | exec/s | crashes | leaks | corpus |"
  echo "|---|---|---|---|---|---|---|"
} >"$work/table"
for t in frame control_pre control_post hostfile chunk pmi; do
  seeds=$dir/seeds/$t
  [ "$t" = frame ] && seeds=$PWD/fuzz/seeds
  mkdir -p "$work/$t"
  start=$(date +%s)
  set +e
  "$dir/fuzz_$t" -runs="$runs" -timeout=5 -max_len=4096 -artifact_prefix="$dir/$t-" \
    "$work/$t" "$seeds" >"$work/$t.log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  done_runs=$(grep -o 'Done [0-9]* runs' "$work/$t.log" | awk '{print $2}')
  crashes=$(grep -c 'ERROR: AddressSanitizer\|ERROR: libFuzzer\|runtime error\|deadly signal' "$work/$t.log" || true)
  leaks=$(grep -c 'ERROR: LeakSanitizer' "$work/$t.log" || true)
  [ "$rc" = 0 ] || { failed=1; tail -30 "$work/$t.log"; }
  printf '| %s | %s | %s | %s | %s | %s | %s inputs |\n' "$t" "${done_runs:-0 (stopped)}" "$secs" \
    "$(( ${done_runs:-0} / (secs > 0 ? secs : 1) ))" "$crashes" "$leaks" \
    "$(ls "$work/$t" | wc -l)" >>"$work/table"
  echo "fuzz_$t: exit $rc, ${done_runs:-?} runs in ${secs}s"
done
{
  echo "# Fuzzing: $runs executions per target"
  echo
  echo "$(date -u +%F), $(nproc) cores, clang $(clang --version | head -1 | grep -o '[0-9][0-9.]*' | head -1), libFuzzer with ASan+UBSan and leak detection."
  echo
  cat "$work/table"
} >"$out"
cat "$out"
exit $failed
