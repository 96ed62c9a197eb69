#!/usr/bin/env bash
# Runs one of OpenPMIx's example programs through pmixrun and checks what every rank says.
#   run_example.sh PMIXRUN PROGRAM RANKS VNODES [PMIXRUN_OPTION...]
# Passes when pmixrun exits 0 (fault: 1, its rank 0's status) and check_example.sh finds every
# rank's success lines and no failure line.
set -u
pmixrun=$1 prog=$2 n=$3 vnodes=$4
shift 4
ex=$(basename "$prog")
ex=${ex#pmix_}
out=$(mktemp)
dir=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$dir"' EXIT
# dynamic spawns ./client from its working directory: OpenPMIx's client example, built beside it
if [ "$ex" = dynamic ]; then
  ln -s "$(dirname "$prog")/pmix_client" "$dir/client"
  cd "$dir" || exit 1
fi
want=0
[ "$ex" = fault ] && want=1
timeout 120 "$pmixrun" --oversubscribe -n "$n" --vnodes "$vnodes" "$@" "$prog" >"$out" 2>&1
rc=$?
if ! why=$("$(dirname "$0")/check_example.sh" "$ex" "$n" "$out") || [ "$rc" -ne "$want" ]; then
  cat "$out"
  echo "FAIL: $ex -n $n --vnodes $vnodes $*: exit $rc (want $want); ${why:-output as expected}"
  exit 1
fi
echo "ok: $ex -n $n --vnodes $vnodes $*: exit $rc, every rank's lines as expected"
