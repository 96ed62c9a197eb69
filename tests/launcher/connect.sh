#!/usr/bin/env bash
# Daemons that are already running (as in a container or a pod): `pmixd --listen` serves jobs
# of `pmixrun --connect` that know its secret file, one child per job, and refuses the rest.
#   connect.sh PMIXRUN PMIXD CLIENT MISBEHAVE
set -u
pmixrun=$1 pmixd=$2 client=$3 misbehave=$4
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
# check NAME STATUS REGEX -- COMMAND...: the command ends within 60 s with STATUS and prints REGEX
check() {
  local name=$1 want=$2 regex=$3
  shift 4
  timeout 60 "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ $rc -eq "$want" ] && grep -qE -- "$regex" "$tmp/out"; then ok "$name (exit $rc)"; else
    echo "  (exit $rc, want $want)"
    fail "$name"
  fi
}

head -c 48 /dev/urandom | base64 >"$tmp/secret"
chmod 600 "$tmp/secret"
echo "some-other-secret-entirely" >"$tmp/wrong"
chmod 600 "$tmp/wrong"
# the service, on a free port
for try in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  "$pmixd" --listen "127.0.0.1:$port" --secret-file "$tmp/secret" 2>"$tmp/svc.log" &
  svc=$!
  for _ in $(seq 50); do
    grep -q "serving jobs" "$tmp/svc.log" && break
    kill -0 $svc 2>/dev/null || break
    sleep 0.1
  done
  grep -q "serving jobs" "$tmp/svc.log" && break
  wait $svc 2>/dev/null
  svc=
done
[ -n "$svc" ] || { echo "FAIL: pmixd --listen did not start:"; cat "$tmp/svc.log"; exit 1; }
run=("$pmixrun" --connect "$port" --secret-file "$tmp/secret")

check "a job on two daemons' worth of one service" 0 "rank 3:PMIx_Finalize successfully" -- \
  "${run[@]}" -n 4 --oversubscribe --vnodes 2 "$client"
[ "$(grep -c 'PMIx_Finalize successfully' "$tmp/out")" -eq 4 ] || fail "all 4 ranks finalize"
# two jobs at once: each gets its own children of the service
"${run[@]}" -n 4 --oversubscribe --vnodes 2 "$client" >"$tmp/a" 2>&1 &
a=$!
"${run[@]}" -n 4 --oversubscribe --vnodes 2 "$client" >"$tmp/b" 2>&1
rb=$?
wait $a
ra=$?
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && [ "$(cat "$tmp/a" "$tmp/b" | grep -c 'PMIx_Finalize successfully')" -eq 8 ]; then
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
exec 3>&-
chmod 644 "$tmp/wrong"
check "a secret file others may read is refused" 1 "may be read by group or others \(chmod 600 it\)" -- \
  "$pmixrun" --connect "$port" --secret-file "$tmp/wrong" -H 127.0.0.1 hostname
check "--connect without a secret" 1 "--connect needs --secret-file" -- \
  env -u FMX_SECRET_FILE "$pmixrun" --connect "$port" -H 127.0.0.1 hostname
check "--connect and --launch-agent together" 1 "exclude each other" -- \
  "${run[@]}" --launch-agent ssh -H 127.0.0.1 hostname
start=$SECONDS
check "no daemon at that port: named, within the time limit" 1 \
  "no pmixd serving at 127.0.0.1:$((port ^ 1)) \(node " -- \
  env FMX_DAEMON_TIMEOUT_MS=2000 "$pmixrun" --connect $((port ^ 1)) --secret-file "$tmp/secret" \
  -H 127.0.0.1 hostname
[ $((SECONDS - start)) -lt 20 ] || fail "the refusal took $((SECONDS - start)) s"
check "a rank killed mid-fence ends the job; the service lives on" 137 "killed by signal 9" -- \
  "${run[@]}" -n 4 --oversubscribe --vnodes 2 "$misbehave" kill
kill -0 $svc || fail "the service survives a failed job"
# SIGTERM to the service ends its running job, which pmixrun reports
n0=$(grep -c 'a job from' "$tmp/svc.log")
"${run[@]}" -n 2 --vnodes 2 sleep 30 >"$tmp/out" 2>&1 &
job=$!
for _ in $(seq 50); do [ "$(grep -c 'a job from' "$tmp/svc.log")" -ge $((n0 + 2)) ] && break; sleep 0.1; done
sleep 0.5
kill -TERM $svc
start=$SECONDS
wait $job
rc=$?
if [ $rc -ne 0 ] && [ $((SECONDS - start)) -lt 15 ] && grep -q "pmixd was terminated (SIGTERM)" "$tmp/out"; then
  ok "SIGTERM to the service ends its job with a message (exit $rc)"
else
  fail "SIGTERM to the service (exit $rc after $((SECONDS - start)) s)"
fi
wait $svc
svc=
sleep 0.3
if pgrep -f "^sleep 30$" >/dev/null || pgrep -f "$pmixd --listen 127.0.0.1:$port" >/dev/null; then
  fail "processes left after the service stopped"
fi

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
