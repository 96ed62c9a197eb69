#!/usr/bin/env bash
# The whole suite, as CI runs it: installs what is missing, checks formatting, then builds and
# runs through ctest (1) the gcc -Werror build with the full matrix on every libfabric provider
# present, (2) an ASan+UBSan build with a reduced matrix, (3) a clang libFuzzer build that
# runs each libFuzzer target (fuzz/) for 20 s. Build trees live in ./build, ./build-asan, ./build-fuzz.
#   FMX_TEST_STAGES="main asan fuzz" chooses stages; extra arguments go to every ctest run.
set -euo pipefail
cd "$(dirname "$0")/.."
stages=${FMX_TEST_STAGES:-"format main asan fuzz"}
jobs=$(nproc)

bash scripts/install-deps.sh

run_ctest() { # dir, ctest args...
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j"$jobs" "$@")
}

for stage in $stages; do
  echo "=== fmx test stage: $stage"
  case $stage in
  format)
    files=$(git ls-files '*.c' '*.h')
    clang-format --dry-run --Werror $files
    ;;
  main)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$jobs"
    run_ctest build "$@"
    ;;
  asan)
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFMX_SANITIZE=ON -DFMX_MP_QUICK=ON >/dev/null
    cmake --build build-asan -j"$jobs"
    # every sanitizer report goes to a file, and tests/lsan/check.py (the test asan.reports)
    # judges them all after the suite: leaks of the libraries' own pass, fmx's fail
    logs=$PWD/build-asan/sanitizer-logs
    rm -rf "$logs" && mkdir -p "$logs" && touch "$logs/.armed"
    chmod 1777 "$logs" # launcher.nonroot runs daemons as nobody
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$logs/report
    export UBSAN_OPTIONS=print_stacktrace=1:log_path=$logs/report
    export LSAN_OPTIONS=exitcode=0:fast_unwind_on_malloc=0:malloc_context_size=64
    # a sanitized daemon's exit (the leak check) can take seconds on a loaded 2-core machine
    export FMX_DAEMON_EXIT_MS=20000
    # the reports are judged (and printed) even when a test failed: an abort's report says why
    rc=0
    # the image and manifests are not sanitizer work, nor is Slurm's srun starting the daemons
    run_ctest build-asan -LE "docker|k8s|slurm|reports" "$@" || rc=$?
    run_ctest build-asan -L reports --no-tests=error
    [ "$rc" -eq 0 ] || exit "$rc"
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS FMX_DAEMON_EXIT_MS
    ;;
  fuzz)
    CC=clang cmake -S . -B build-fuzz -DFMX_FUZZ=ON -DFMX_BUILD_TESTS=OFF >/dev/null
    cmake --build build-fuzz -j"$jobs"
    run_ctest build-fuzz "$@"
    ;;
  *)
    echo "unknown stage $stage" >&2
    exit 2
    ;;
  esac
done
echo "=== fmx: all stages passed ($stages)"
