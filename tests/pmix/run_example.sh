#!/usr/bin/env bash
# Runs one of OpenPMIx's example programs through pmixrun and checks what every rank says.
#   run_example.sh PMIXRUN PROGRAM RANKS VNODES [EXPECT_LINES]
# Passes when pmixrun exits 0, EXPECT_LINES lines (default RANKS) report a successful
# PMIx_Finalize, and no line reports a failure or a wrong value.
set -u
pmixrun=$1 prog=$2 n=$3 vnodes=$4 expect=${5:-$3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 120 "$pmixrun" --oversubscribe -n "$n" --vnodes "$vnodes" "$prog" >"$out" 2>&1
rc=$?
ok=$(grep -c "PMIx_Finalize successfully completed" "$out")
bad=$(grep -ciE "failed|wrong|error|timed out" "$out")
if [ "$rc" -ne 0 ] || [ "$ok" -ne "$expect" ] || [ "$bad" -ne 0 ]; then
  cat "$out"
  echo "FAIL: $(basename "$prog") -n $n --vnodes $vnodes: exit $rc, $ok of $expect finalized, $bad failure lines"
  exit 1
fi
echo "ok: $(basename "$prog") -n $n --vnodes $vnodes: exit 0, $ok ranks finalized"
