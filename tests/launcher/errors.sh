#!/usr/bin/env bash
# What pmixrun says and returns when things go wrong, one case at a time: each must end
# quickly with the expected status and a line naming the problem, and leave no process of
# the job behind.    errors.sh PMIXRUN MISBEHAVE HELLO
set -u
pmixrun=$1 misbehave=$2 hello=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "$0")/../lib/expect.sh"

expect "program not found" 1 "nosuchprogram: not found in PATH" -- \
  "$pmixrun" -n 1 nosuchprogram
expect "path does not exist" 1 "/nonexistent/app: No such file or directory" -- \
  "$pmixrun" -n 1 /nonexistent/app
printf '#!/bin/sh\n' >"$tmp/noexec"
expect "program not executable" 1 "noexec: not an executable file" -- \
  "$pmixrun" -n 1 "$tmp/noexec"
printf 'localhost slots=2\nnode-2 slots=two\n' >"$tmp/hosts.bad"
expect "hostfile: bad slot count" 1 "hosts.bad:2: \"slots=two\" needs a positive number" -- \
  "$pmixrun" --hostfile "$tmp/hosts.bad" -n 1 "$hello"
printf '# cluster\nlocalhost slots=2 color=red\n' >"$tmp/hosts.attr"
expect "hostfile: unknown attribute" 1 "hosts.attr:2: unknown attribute \"color=red\"" -- \
  "$pmixrun" --hostfile "$tmp/hosts.attr" -n 1 "$hello"
expect "hostfile missing" 1 "cannot open hostfile $tmp/none" -- \
  "$pmixrun" --hostfile "$tmp/none" -n 1 "$hello"
expect "more ranks than slots" 1 "4 ranks but only 2 slots .*--oversubscribe" -- \
  "$pmixrun" --host localhost:2 -n 4 "$hello"
expect "-N on a single host" 1 "-N 2 places ranks per node, but no hosts were given" -- \
  "$pmixrun" -N 2 "$hello"
expect "rank exits non-zero" 3 "rank 1 on node .* exited with status 3" -- \
  "$pmixrun" --oversubscribe -n 4 "$misbehave" exit
expect "rank killed mid-fence" 137 "rank 1 on node .* was killed by signal 9" -- \
  "$pmixrun" --oversubscribe -n 4 "$misbehave" kill
expect "PMIx_Abort" 42 "rank 1 on node .* called PMIx_Abort with status 42: rank 1 gives up on purpose" -- \
  "$pmixrun" --oversubscribe -n 4 "$misbehave" abort
# as mpirun: a rank that leaves after init without finalizing ends the job, status 1
expect "rank exits 0 without PMIx_Finalize" 1 \
  "rank 1 on node .* without calling PMIx_Finalize \\(after PMIx_Init\\): ending the job" -- \
  "$pmixrun" --oversubscribe -n 4 "$misbehave" nofinalize
expect "rank closes its PMIx connection and runs on" 1 \
  "rank 1 on node .* closed its PMIx connection without calling PMIx_Finalize" -- \
  "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" hangup
expect "PMIx_Log reaches the terminal, from another node too" 0 \
  "rank 1 on node .*: rank 1 logs a line through the launcher" -- \
  "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" log
if [ "$(grep -c '^rank [0-3]: fence returned SUCCESS$' "$tmp/out")" -ne 4 ]; then
  echo "FAIL: after the log line, the fence succeeds on all 4 ranks; output:"
  sed 's/^/    /' "$tmp/out" | head -20
  failures=$((failures + 1))
fi
expect "PMIx_Query_info answered by the daemon" 0 \
  "rank 2: known keys: SUCCESS, 2 result\(s\) pmix.qry.ns=fmx\.[0-9]+\.[0-9]+ pmix.job.size=3; with an unknown key: QUERY-PARTIAL-SUCCESS; only an unknown key: NOT-SUPPORTED" -- \
  "$pmixrun" --oversubscribe -n 3 --vnodes 2 "$misbehave" query
expect "PMIx_Abort across virtual nodes" 42 "called PMIx_Abort with status 42" -- \
  "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" abort
expect "rank killed, virtual nodes" 137 "killed by signal 9" -- \
  "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" kill
# a daemon SIGKILLed while its ranks and the others' run fences back to back: the job ends at
# once (not after pmixrun's 10-s grace for daemons to end), naming the node, with its ranks gone
fault=$(dirname "$0")/../lib/fault.sh
export OUT=$tmp/out MARK=fencing NRANKS=4 ACTION=kill-node1
expect "a daemon killed mid-job ends the job, naming its node" 1 \
  "lost contact with pmixd on node .*-v1" -- \
  "$fault" "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" fences
ended_by_itself() {
  grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
  if grep -qE "did not end|after the job ended: killed" "$tmp/out"; then
    echo "FAIL: the surviving daemon ended of itself, without pmixrun's grace running out; output:"
    sed 's/^/    /' "$tmp/out" | head -10
    failures=$((failures + 1))
  fi
}
ended_by_itself
# a daemon that hangs (SIGSTOP: its connections stay open) is found by its silence within
# FMX_HEARTBEAT_TIMEOUT_MS (6 s) and a quarter of it; pmixrun kills it, its ranks die with it
ACTION=stop-node1 expect "a daemon stopped mid-job is found by its silence, naming its node" 1 \
  "pmixd on node .*-v1 \\(host .*\\) has said nothing for [0-9.]+ s" -- \
  "$fault" "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" fences
grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
# ranks that are no PMIx clients (nothing tells them their daemon is gone) die with it too
# (sleep under a name of its own: leftovers() passes over this script's own sleeps)
cp "$(command -v sleep)" "$tmp/rank-nap"
MARK=started expect "a daemon killed, its ranks that wait on nothing die with it" 1 \
  "lost contact with pmixd on node .*-v1" -- \
  "$fault" "$pmixrun" --oversubscribe -n 4 --vnodes 2 \
  sh -c 'echo started; exec "$0" 120' "$tmp/rank-nap"
ended_by_itself
# the fabric opens while the ranks start: they wait in a fence the engine never gets to
expect "no such libfabric provider, ranks waiting in a fence" 1 \
  "pmixd on node .*: no libfabric provider named nosuchprov" -- \
  env FI_PROVIDER=nosuchprov "$pmixrun" --oversubscribe -n 4 --vnodes 2 "$misbehave" log
# libpmix cannot start (no such store component): the daemon says why and exits, no crash
expect "the PMIx server cannot start" 1 "pmixd on node .*: PMIx_server_init: " -- \
  env PMIX_MCA_gds=bogus "$pmixrun" -n 2 "$hello"
if grep -q "signal" "$tmp/out"; then
  echo "FAIL: a daemon whose PMIx server cannot start exits, not crashes; output:"
  grep -E "pmixrun|pmixd" "$tmp/out" | sed 's/^/    /' | head -5
  failures=$((failures + 1))
fi
expect "launch agent fails" 1 "pmixd for node nosuchhost.invalid .* ended before it connected" -- \
  "$pmixrun" --launch-agent false --host nosuchhost.invalid -n 1 "$hello"
printf '#!/bin/sh\nexec sleep 30\n' >"$tmp/stuck-agent"
chmod +x "$tmp/stuck-agent"
expect "pmixd never answers" 1 "pmixd on host quiet.invalid .* did not connect back to .* within 2000 ms" -- \
  env FMX_DAEMON_TIMEOUT_MS=2000 "$pmixrun" --launch-agent "$tmp/stuck-agent" \
  --host quiet.invalid -n 1 "$hello"
expect "--timeout" 124 "ran longer than --timeout 2 s" -- \
  "$pmixrun" --timeout 2 -n 1 sleep 30

if [ $failures -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "all cases passed"
