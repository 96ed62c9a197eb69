#!/usr/bin/env bash
# Nothing in a job needs root: run as root, this script drops to the unprivileged user nobody
# (65534) and then runs a PMIx job across two daemons, an Open MPI job when one is given, and
# the whole --connect check (connect.sh) there.
#   nonroot.sh PMIXRUN PMIXD CLIENT MISBEHAVE [MPI_ALLREDUCE]
set -u
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$0" "$@"
fi
pmixrun=$1 mpi=${5:-}
echo "running as $(id -un 2>/dev/null || id -u) (uid $(id -u))"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp
failures=0 why=
timeout -s KILL 30 "$pmixrun" -n 4 --oversubscribe --vnodes 2 "$3" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && why=$("$(dirname "$0")/../pmix/check_example.sh" client 4 "$tmp/out"); then
  echo "ok: a PMIx job across two daemons"
else
  echo "FAIL: a PMIx job across two daemons (exit $rc; $why):"
  sed 's/^/    /' "$tmp/out" | head -20
  failures=$((failures + 1))
fi
if [ -n "$mpi" ]; then
  timeout -s KILL 30 "$pmixrun" -n 4 --oversubscribe --vnodes 2 "$mpi" >"$tmp/out" 2>&1
  if [ $? -eq 0 ] && grep -q "allreduce over 4 ranks: 0 wrong elements" "$tmp/out"; then
    echo "ok: an Open MPI job across two daemons"
  else
    echo "FAIL: an Open MPI job across two daemons:"
    sed 's/^/    /' "$tmp/out" | head -20
    failures=$((failures + 1))
  fi
fi
"$(dirname "$0")/connect.sh" "$1" "$2" "$3" "$4" || failures=$((failures + 1))
[ $failures -eq 0 ] || exit 1
echo "all passed without root"
