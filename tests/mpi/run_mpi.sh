#!/usr/bin/env bash
# Runs an Open MPI program through pmixrun and checks its output.
#   run_mpi.sh PMIXRUN RANKS VNODES REGEX COUNT PROGRAM [ARGS...]
# Passes when pmixrun exits 0 (FMX_EXPECT_STATUS when set) and exactly COUNT output lines
# match REGEX.
set -u
pmixrun=$1 n=$2 vnodes=$3 regex=$4 count=$5
shift 5
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 150 "$pmixrun" --oversubscribe -n "$n" --vnodes "$vnodes" "$@" >"$out" 2>&1
rc=$?
got=$(grep -cE -- "$regex" "$out")
want=${FMX_EXPECT_STATUS:-0}
if [ "$rc" -ne "$want" ] || [ "$got" -ne "$count" ]; then
  head -40 "$out"
  echo "FAIL: $(basename "$1") -n $n --vnodes $vnodes: exit $rc (want $want), $got of $count lines match /$regex/"
  exit 1
fi
echo "ok: $(basename "$1") -n $n --vnodes $vnodes: exit $rc, $got lines match"
grep -E -- "$regex" "$out" | head -2
