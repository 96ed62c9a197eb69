# Sourced by tests that run failing jobs one case at a time (needs $tmp, a directory): each case
# must end quickly with the expected status and a line naming the problem, and leave no process
# of the job behind. Counts failed cases in $failures.
failures=0

# This test's own processes (they inherit FMX_TEST_TAG) still alive after pmixrun returned;
# other jobs on the machine, and this script's shells, are not looked at.
export FMX_TEST_TAG=expect-$$-$RANDOM
leftovers() {
  local pid comm found f
  for _ in $(seq 50); do # up to 5 s for them to go
    found=
    # one grep over every process's environment (a process per process took seconds a case)
    for f in $(grep -lzxF "FMX_TEST_TAG=$FMX_TEST_TAG" /proc/[0-9]*/environ 2>/dev/null); do
      pid=${f#/proc/}
      pid=${pid%/environ}
      read -r comm <"/proc/$pid/comm" 2>/dev/null || continue
      case $comm in bash | grep | cat | timeout | seq | sleep) ;; *) found+="$pid $comm"$'\n' ;; esac
    done
    [ -z "$found" ] && return
    sleep 0.1
  done
  printf '%s' "$found"
}

# Every case ends in a few seconds (the slowest wait on purpose for 2 s); one that takes
# QUICK seconds or more did not end quickly, whatever its status.
QUICK=15
# expect NAME STATUS REGEX -- COMMAND...: STATUS "nonzero" accepts any failure
expect() {
  local name=$1 want=$2 regex=$3
  shift 4
  local start=$SECONDS
  timeout -s KILL $((2 * QUICK)) "$@" >"$tmp/out" 2>&1
  local rc=$? took=$((SECONDS - start))
  local good=1
  if [ "$want" = nonzero ]; then [ "$rc" -ne 0 ] || good=0; else [ "$rc" -eq "$want" ] || good=0; fi
  [ "$took" -ge $QUICK ] && good=0 # slow, or stopped by timeout(1) as hung
  grep -qE -- "$regex" "$tmp/out" || good=0
  local left
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "  left behind: $(head -3 <<<"$left")"
    kill -9 $(cut -d' ' -f1 <<<"$left") 2>/dev/null
    good=0
  fi
  if [ $good = 1 ]; then
    echo "ok: $name (exit $rc in ${took}s): $(grep -E -- "$regex" "$tmp/out" | head -1)"
  else
    echo "FAIL: $name: exit $rc after ${took}s, want $want and /$regex/; output:"
    sed 's/^/    /' "$tmp/out" | head -20
    failures=$((failures + 1))
  fi
}

