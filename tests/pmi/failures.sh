#!/usr/bin/env bash
# PMI ranks that break the protocol, abort, leave unfinalized or die mid-barrier: each job ends
# quickly with the expected status and one line naming the rank and what it did, and leaves no
# process behind.    failures.sh PMIXRUN PMI_WIRE   (FMX_MPICH_ABORT: an MPICH program, optional)
set -u
pmixrun=$1 wire=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/../lib/expect.sh"

run=("$pmixrun" --oversubscribe -n 4 --vnodes 2)

expect "a line without cmd=" 1 \
  "rank 0: PMI: a request without cmd= first: 'hello world'" -- "${run[@]}" "$wire" garbage
expect "a line over 1024 bytes" 1 "rank 0: PMI: a line over 1024 bytes: 'aaaa" -- \
  "${run[@]}" "$wire" longline
expect "the connection ends mid-request" 1 \
  "rank 0: PMI: the connection ended in the middle of a request: 'cmd=put kvsname=x'" -- \
  "${run[@]}" "$wire" eofmid
expect "a PMI-2 length field that is no number" 1 \
  "rank 0: PMI: a PMI-2 length field that is not a length up to 65536: '12x456" -- \
  "${run[@]}" "$wire" badlen
expect "PMI-1 abort" 7 "rank 1 on node .* called PMI_Abort with status 7" -- "${run[@]}" "$wire" abort
expect "rank exits 0 after init without finalize" 1 \
  "rank 1 on node .* exited with status 0 without calling PMI_Finalize \\(after PMI_Init\\)" -- \
  "${run[@]}" "$wire" nofinalize
expect "rank closes its PMI connection and runs on" 1 \
  "rank 1 on node .* closed its PMI connection without calling PMI_Finalize" -- \
  "${run[@]}" "$wire" close
expect "rank killed while the others wait in a barrier" 137 \
  "rank 1 on node .* was killed by signal 9" -- "${run[@]}" "$wire" killmid
if [ -n "${FMX_MPICH_ABORT:-}" ]; then
  expect "MPICH's MPI_Abort(7)" 7 "rank 1 on node .* called PMI_Abort with status 7" -- \
    "${run[@]}" "$FMX_MPICH_ABORT"
  if [ "$(grep -c 'called PMI_Abort' "$tmp/out")" -ne 1 ]; then
    echo "FAIL: MPI_Abort should be reported in one line; output:"
    sed 's/^/    /' "$tmp/out" | head -20
    failures=$((failures + 1))
  fi
fi

if [ $failures -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "all cases passed"
