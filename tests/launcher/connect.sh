#!/usr/bin/env bash
# Daemons that are already running (as in a container or a pod): `pmixd --listen` serves jobs
# of `pmixrun --connect` that know its secret file, one child per job, and refuses the rest.
#   connect.sh PMIXRUN PMIXD CLIENT MISBEHAVE [MPI_SPAWN MPI_JOBS]
set -u
pmixrun=$1 pmixd=$2 client=$3 misbehave=$4 mpi_spawn=${5:-} mpi_jobs=${6:-}
check_example=$(cd "$(dirname "$0")/../pmix" && pwd)/check_example.sh
source "$(dirname "$0")/../lib/wait.sh"
tmp=$(mktemp -d)
svc=
cleanup() {
  [ -n "$svc" ] && kill -9 "$svc" 2>/dev/null
  pkill -9 -f "$tmp" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
ok() { echo "ok: $1"; }
fail() {
  echo "FAIL: $1; output:"
  sed 's/^/    /' "$tmp/out" | head -20
  echo "    -- daemon log:"
  sed 's/^/    /' "$tmp/svc.log" 2>/dev/null | tail -10
  failures=$((failures + 1))
}
# check NAME STATUS REGEX -- COMMAND...: the command ends within 30 s with STATUS and prints REGEX
check() {
  local name=$1 want=$2 regex=$3
  shift 4
  timeout -s KILL 30 "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ $rc -eq "$want" ] && grep -qE -- "$regex" "$tmp/out"; then ok "$name (exit $rc)"; else
    echo "  (exit $rc, want $want)"
    fail "$name"
  fi
}
# example_ok NAME RANKS FILE: every rank of OpenPMIx's client example printed its success lines
example_ok() {
  local why
  why=$("$check_example" client "$2" "$3") && return 0
  cp "$3" "$tmp/out"
  fail "$1: $why"
  return 1
}

head -c 48 /dev/urandom | base64 >"$tmp/secret"
chmod 600 "$tmp/secret"
echo "some-other-secret-entirely" >"$tmp/wrong"
chmod 600 "$tmp/wrong"
# the service, on a port the kernel chooses, read back from its first line
"$pmixd" --listen 127.0.0.1:0 --secret-file "$tmp/secret" 2>"$tmp/svc.log" &
svc=$!
wait_for 20 "grep -q 'serving jobs' '$tmp/svc.log' || ! kill -0 $svc 2>/dev/null"
port=$(sed -n 's/^pmixd: serving jobs on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/svc.log")
[ -n "$port" ] || { echo "FAIL: pmixd --listen did not start:"; cat "$tmp/svc.log"; exit 1; }
run=("$pmixrun" --connect "$port" --secret-file "$tmp/secret")

check "a job on two daemons' worth of one service" 0 "rank 3:PMIx_Finalize successfully" -- \
  "${run[@]}" -n 4 --oversubscribe --vnodes 2 "$client"
example_ok "all 4 ranks read every value and finalize" 4 "$tmp/out"
# two jobs at once: each gets its own children of the service
"${run[@]}" -n 4 --oversubscribe --vnodes 2 "$client" >"$tmp/a" 2>&1 &
a=$!
"${run[@]}" -n 4 --oversubscribe --vnodes 2 "$client" >"$tmp/b" 2>&1
rb=$?
wait $a
ra=$?
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && example_ok "first of two jobs at once" 4 "$tmp/a" &&
  example_ok "second of two jobs at once" 4 "$tmp/b"; then
  ok "two jobs at the same time through the same service"
else
  cat "$tmp/a" "$tmp/b" >"$tmp/out"
  fail "two jobs at the same time (exits $ra, $rb)"
fi
check "a launcher with the wrong secret is refused" 1 \
  "pmixd at 127.0.0.1:$port says: refused: the launcher's secret does not match" -- \
  "$pmixrun" --connect "$port" --secret-file "$tmp/wrong" -H 127.0.0.1 hostname
grep -q "does not know the secret: refused" "$tmp/svc.log" || fail "the daemon logs the refusal"
# a stranger that sends garbage, or connects and says nothing, harms nobody
printf 'GET / HTTP/1.0\r\n\r\n' >/dev/tcp/127.0.0.1/$port
exec 3<>/dev/tcp/127.0.0.1/$port
check "after garbage from a stranger, jobs still run" 0 "rank 1:PMIx_Finalize successfully" -- \
  "${run[@]}" -H 127.0.0.1:2 "$client"
example_ok "both ranks read every value after the stranger" 2 "$tmp/out"
exec 3>&-
# 300 strangers that connect and never answer: no process and no job slot for any of them (the
# service forks nothing), a real job still runs while they hold on, and the service closes them
# all within its grace time (FMX_LOGIN_GRACE_MS, 5 s, plus slack)
wait_for 10 "[ \$(pgrep -c -P $svc) -eq 0 ]" # the last job's child has ended
python3 "$(dirname "$0")/idle_flood.py" "$port" 300 9 >"$tmp/flood" 2>&1 &
flood=$!
wait_for 20 "grep -q holding '$tmp/flood' || ! kill -0 $flood 2>/dev/null"
children=$(pgrep -c -P $svc)
check "300 idle strangers held open: a job still runs" 0 "rank 1:PMIx_Finalize successfully" -- \
  "${run[@]}" -H 127.0.0.1:2 "$client"
[ "$children" -eq 0 ] || fail "the service forked $children processes for 300 strangers"
reap_within 15 $flood && grep -q "closed 300 of 300" "$tmp/flood" &&
  ok "the service closed all 300 strangers ($(cat "$tmp/flood" | tail -1))" ||
  { cp "$tmp/flood" "$tmp/out"; fail "the strangers' connections were not all closed"; }
grep -q "already running" "$tmp/svc.log" && fail "strangers took job slots"
chmod 644 "$tmp/wrong"
check "a secret file others may read is refused" 1 "may be read by group or others \(chmod 600 it\)" -- \
  "$pmixrun" --connect "$port" --secret-file "$tmp/wrong" -H 127.0.0.1 hostname
check "--connect without a secret" 1 "--connect needs --secret-file" -- \
  env -u FMX_SECRET_FILE "$pmixrun" --connect "$port" -H 127.0.0.1 hostname
check "--connect and --launch-agent together" 1 "exclude each other" -- \
  "${run[@]}" --launch-agent ssh -H 127.0.0.1 hostname
# a port nothing listens on: one the kernel just handed out and took back
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$SECONDS
check "no daemon at that port: named, within the time limit" 1 \
  "no pmixd serving at 127.0.0.1:$closed \(node " -- \
  env FMX_DAEMON_TIMEOUT_MS=2000 "$pmixrun" --connect "$closed" --secret-file "$tmp/secret" \
  -H 127.0.0.1 hostname
[ $((SECONDS - start)) -lt 20 ] || fail "the refusal took $((SECONDS - start)) s"
# a job of resident daemons spawns: the children are the job child's too (Open MPI's
# MPI_Comm_spawn, parent and children exchanging a number)
if [ -n "$mpi_spawn" ]; then
  check "MPI_Comm_spawn in a job of the service" 0 "^spawn: rank 0 got 2 answers, expected 2$" -- \
    env OMPI_MCA_btl_tcp_if_include=lo "${run[@]}" -n 2 --oversubscribe --vnodes 2 "$mpi_spawn" single
fi
# two jobs of the service meet with no data server (Open MPI: publish, lookup, accept /
# connect, merge, an allreduce over both jobs' ranks, disconnect); a name a job published is
# gone when the job ends
if [ -n "$mpi_jobs" ]; then
  mrun=(env OMPI_MCA_btl_tcp_if_include=lo "${run[@]}" -n 2 --oversubscribe --vnodes 2 "$mpi_jobs")
  timeout -s KILL 60 "${mrun[@]}" accept >"$tmp/a" 2>&1 &
  a=$!
  timeout -s KILL 60 "${mrun[@]}" connect >"$tmp/b" 2>&1
  rb=$?
  wait $a
  ra=$?
  cat "$tmp/a" "$tmp/b" >"$tmp/out"
  lines=$(grep -cE "^jobs: (accept|connect) rank [01]: 4 ranks, sum 6002, expected 6002$" "$tmp/out")
  if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ "$lines" -eq 4 ]; then
    ok "two jobs of the service connect and sum over both (4 of 4 ranks right)"
  else
    fail "two jobs of the service connect (exits $ra, $rb; $lines of 4 ranks right)"
  fi
  check "a name published by a job that ended is gone" 3 \
    "^jobs: connect rank 0: fmx-jobs-test was not published within 2 s$" -- \
    sh -c '"$@" publish && "$@" connect 2' sh "${mrun[@]}"
fi
check "a rank killed mid-fence ends the job; the service lives on" 137 "killed by signal 9" -- \
  "${run[@]}" -n 4 --oversubscribe --vnodes 2 "$misbehave" kill
kill -0 $svc || fail "the service survives a failed job"
# SIGTERM to the service ends its running job, which pmixrun reports; the job's ranks are a
# program of this test's own name, so that no other process on the machine is mistaken for one
ln -s "$(command -v sleep)" "$tmp/fmx-sleeper"
"${run[@]}" -n 2 --vnodes 2 "$tmp/fmx-sleeper" 30 >"$tmp/out" 2>&1 &
job=$!
wait_for 20 "[ \$(pgrep -cf '^$tmp/fmx-sleeper 30\$') -eq 2 ]" ||
  fail "the sleeping job's two ranks did not start"
kill -TERM $svc
start=$SECONDS
reap_within 30 $job
rc=$?
if [ $rc -ne 0 ] && [ $((SECONDS - start)) -lt 15 ] && grep -q "pmixd was terminated (SIGTERM)" "$tmp/out"; then
  ok "SIGTERM to the service ends its job with a message (exit $rc)"
else
  fail "SIGTERM to the service (exit $rc after $((SECONDS - start)) s)"
fi
reap_within 30 $svc
svc_rc=$?
svc=
# every job child the service ran exited cleanly (a sanitizer's report, a crash would not)
[ $svc_rc -eq 0 ] || { cp "$tmp/svc.log" "$tmp/out"; fail "the service ended with status $svc_rc"; }
# (patterns that do not match the command line of the shell that runs pgrep)
wait_for 5 "! pgrep -f '^$tmp/fmx-sleepe[r]' >/dev/null && ! pgrep -f '^$pmixd --liste[n] 127.0.0.1:0 ' >/dev/null" ||
  fail "processes left after the service stopped"

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
