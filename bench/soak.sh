#!/usr/bin/env bash
# Soak: a resident `pmixd --listen` on each of two network-namespace hosts (tests/netns/
# cluster.sh) serves FMX_SOAK_JOBS (1000) jobs back to back through `pmixrun --connect`
# (`-N 1 true`, then every 100th job a PMIx job with a fence), then one job of FMX_SOAK_FENCES
# (10^5) fences (bench/fence_loop, one rank per host, fences across the hosts over tcp). Each
# service's resident set size and open descriptors are recorded at the start, after every 100
# jobs and after the fence job, and the fence job's own pmixd child's at its start and end;
# writes bench/results/soak.{csv,md}. Needs root.
#   bench/soak.sh [BUILD_DIR]     (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ -z "${FMX_HOSTS:-}" ]; then
  exec tests/netns/cluster.sh 2 "$0" "$@"
fi
pmixrun=$PWD/$build/pmixrun pmixd=$PWD/$build/pmixd loop=$PWD/$build/bench/fence_loop
agent=$PWD/tests/netns/agent.sh
jobs=${FMX_SOAK_JOBS:-1000} fences=${FMX_SOAK_FENCES:-100000}
out=bench/results
csv=$out/soak.csv
read -r -a hosts <<<"$FMX_HOSTS"
read -r -a addrs <<<"$FMX_HOST_ADDRS" # --connect reaches the services by address
tmp=$(mktemp -d)
svcs=()
trap 'for p in "${svcs[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
head -c 48 /dev/urandom | base64 >"$tmp/secret"
chmod 600 "$tmp/secret"
for a in "${addrs[@]}"; do echo "$a slots=1"; done >"$tmp/hosts"
export FI_PROVIDER=tcp FI_TCP_IFACE=fmx0
for i in "${!hosts[@]}"; do
  "$agent" "${hosts[$i]}" "$pmixd" --listen 7707 --secret-file "$tmp/secret" 2>"$tmp/svc$i.log" &
  svcs+=($!)
done
for _ in $(seq 100); do
  [ "$(cat "$tmp"/svc*.log | grep -c 'serving jobs')" -eq ${#hosts[@]} ] && break
  sleep 0.1
done
run() { timeout 300 "$pmixrun" --connect 7707 --secret-file "$tmp/secret" --hostfile "$tmp/hosts" "$@"; }
# sample WHAT PID...: one row per process: its RSS (kB) and open descriptors
sample() {
  local what=$1 p
  shift
  for p in "$@"; do
    echo "$what,$p,$(awk '/^VmRSS/ { print $2 }' /proc/$p/status),$(ls /proc/$p/fd | wc -l)" >>"$csv"
  done
}
echo "when,pid,rss_kb,fds" >"$csv"
sample "service at start" "${svcs[@]}"
failed=0
start=$SECONDS
for j in $(seq "$jobs"); do
  if [ $((j % 100)) = 0 ]; then
    run -N 1 "$loop" 1 >/dev/null 2>>"$tmp/jobs.log" || failed=$((failed + 1))
    sample "service after $j jobs" "${svcs[@]}"
  else
    run -N 1 true >/dev/null 2>>"$tmp/jobs.log" || failed=$((failed + 1))
  fi
done
jobs_s=$((SECONDS - start))
echo "soak: $jobs jobs in ${jobs_s} s, $failed failed"
[ "$failed" = 0 ] || tail -5 "$tmp/jobs.log"
# the fence job: its pmixd child on host 1 sampled shortly after it starts and before it ends
run -N 1 "$loop" "$fences" >"$tmp/fences.out" 2>&1 &
fj=$!
child=""
for _ in $(seq 200); do
  child=$(ip netns pids "${hosts[0]}" | grep -vxF -f <(printf '%s\n' "${svcs[@]}") |
    xargs -r ps -o pid=,comm= -p | awk '$2 == "pmixd" { print $1 }' | head -1 || true)
  [ -n "$child" ] && break
  sleep 0.05
done
sleep 1
[ -n "$child" ] && [ -d "/proc/$child" ] && sample "the fence job's pmixd 1 s in" "$child"
last=""
while kill -0 $fj 2>/dev/null; do
  [ -n "$child" ] && [ -d /proc/$child ] && last=$(awk '/^VmRSS/ { print $2 }' /proc/$child/status),$(ls /proc/$child/fd | wc -l)
  sleep 1
done
wait $fj || failed=$((failed + 1))
[ -n "$last" ] && echo "the fence job's pmixd in its last second,$child,$last" >>"$csv"
sample "service after the fence job" "${svcs[@]}"
cat "$tmp/fences.out"
for p in "${svcs[@]}"; do kill -TERM "$p"; done
wait || true
svcs=()
python3 - "$csv" "$jobs" "$jobs_s" "$failed" "$(grep -h 'fence_loop:' "$tmp/fences.out" | head -1)" \
  >"$out/soak.md" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
print('# Soak: %s jobs back to back through resident daemons, then one job of many fences' % sys.argv[2])
print()
print('%s jobs in %s s; %s failed. %s' % (sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
print()
print('| when | pid | RSS (kB) | open fds |')
print('|---|---|---|---|')
for r in rows:
    print('| %s | %s | %s | %s |' % tuple(r))
PY
cat "$out/soak.md"
[ "$failed" = 0 ]
