#!/usr/bin/env bash
# Runs one of OpenPMIx's example programs through pmixrun and checks what every rank says.
#   run_example.sh PMIXRUN PROGRAM RANKS VNODES
# Passes when pmixrun exits 0 and check_example.sh finds every rank's success lines and no
# failure line.
set -u
pmixrun=$1 prog=$2 n=$3 vnodes=$4
ex=$(basename "$prog")
ex=${ex#pmix_}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 120 "$pmixrun" --oversubscribe -n "$n" --vnodes "$vnodes" "$prog" >"$out" 2>&1
rc=$?
if ! why=$("$(dirname "$0")/check_example.sh" "$ex" "$n" "$out") || [ "$rc" -ne 0 ]; then
  cat "$out"
  echo "FAIL: $ex -n $n --vnodes $vnodes: exit $rc; ${why:-output as expected}"
  exit 1
fi
echo "ok: $ex -n $n --vnodes $vnodes: exit 0, every rank's lines as expected"
