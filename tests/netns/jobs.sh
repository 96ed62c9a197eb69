#!/usr/bin/env bash
# Jobs across the namespace hosts of cluster.sh (FMX_HOSTS): pmixd on each host through the
# netns launch agent, fences and direct modex between hosts over FI_PROVIDER, Open MPI across
# hosts over TCP; a rank killed and a PMIx_Abort across hosts end the job everywhere. After
# every job no process may be left in any host.
# Then the same hosts with a pmixd started on its own in each (as in containers), and jobs
# through pmixrun --connect.
#   jobs.sh PMIXRUN AGENT HELLO_PMIX CLIENT DMODEX MPI_HELLO MPI_ALLREDUCE MPI_RING MISBEHAVE PMIXD
set -u
pmixrun=$1 agent=$2 phello=$3 pclient=$4 pdmodex=$5 mhello=$6 mallreduce=$7 mring=$8
misbehave=$9 pmixd=${10}
tmp=$(mktemp -d)
svcs=()
trap 'for p in "${svcs[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
launch=(--launch-agent "$agent")
failures=0
read -r -a hosts <<<"$FMX_HOSTS"
for h in "${hosts[@]}"; do echo "$h slots=2"; done >"$tmp/hosts"
export FMX_DAEMON_TIMEOUT_MS=${FMX_DAEMON_TIMEOUT_MS:-15000}
export FI_TCP_IFACE=fmx0 FI_SOCKETS_IFACE=fmx0 OMPI_MCA_btl_tcp_if_include=fmx0
check_example=$(cd "$(dirname "$0")/../pmix" && pwd)/check_example.sh
source "$(dirname "$0")/../lib/wait.sh"
# Processes still alive in any host namespace, after up to 5 s for them to go.
leftovers() {
  local left
  for _ in $(seq 50); do
    left=$(for h in "${hosts[@]}"; do ip netns pids "$h"; done |
      grep -vxF -f <(printf '%s\n' "${svcs[@]}" 0) | head -5)
    [ -z "$left" ] && return
    sleep 0.1
  done
  echo "$left"
}

# run NAME STATUS CHECK -- PMIXRUN-ARGS...: pmixrun must exit with STATUS, CHECK (reading the
# output file "$OUT") must succeed, and nothing may be left running on the hosts.
# Each job gets at most 60 s, and all of them together FMX_JOBS_BUDGET s (500), which leaves
# ctest's limit for the whole test (600 s) to a hang that nothing here caught.
budget_end=$((SECONDS + ${FMX_JOBS_BUDGET:-500}))
run() {
  local name=$1 want=$2 check=$3 limit=$((budget_end - SECONDS))
  shift 4
  [ $limit -gt 60 ] && limit=60
  if [ $limit -lt 5 ]; then
    echo "FAIL: $name: the jobs' time budget is spent"
    failures=$((failures + 1))
    return
  fi
  timeout -s KILL $limit "$pmixrun" "${launch[@]}" --hostfile "$tmp/hosts" "$@" >"$tmp/out" 2>&1
  local rc=$? left
  left=$(leftovers)
  [ -n "$left" ] && echo "  left running: $left"
  if [ $rc -eq "$want" ] && [ -z "$left" ] && OUT=$tmp/out bash -c "$check"; then
    echo "ok: $name (${FMX_TRANSPORT:-$FI_PROVIDER})"
  else
    echo "FAIL: $name (${FMX_TRANSPORT:-$FI_PROVIDER}): exit $rc (want $want); output:"
    sed 's/^/    /' "$tmp/out" | head -30
    failures=$((failures + 1))
  fi
}
per_host_twice="sort \"\$OUT\" | uniq -c | awk '\$1 != 2 { bad = 1 } END { exit bad || NR != ${#hosts[@]} }'"

# "ucx": the daemons' engine over UCX (FMX_TRANSPORT=ucx: its shared memory within a host, tcp
# on fmx0 between hosts), where fmx-ucx.so was built
# (UCX lists network devices in /sys/class/net: the agent gives each host a sysfs of its own
# where it can make a mount namespace; where it cannot, as in a chroot, the pass is skipped)
netns_providers=${FMX_NETNS_PROVIDERS:-tcp sockets ucx}
if [[ " $netns_providers " == *" ucx "* ]]; then
  why=
  [ -e "$(dirname "$pmixrun")/fmx-ucx.so" ] || why="built without UCX"
  unshare --mount true 2>/dev/null || why="no mount namespace here for a host's own sysfs"
  if [ -n "$why" ]; then
    echo "skipped: the UCX pass ($why)"
    netns_providers=${netns_providers//ucx/}
  fi
fi
for prov in $netns_providers; do
  export FI_PROVIDER=$prov
  unset FMX_TRANSPORT FMX_UCX_NET_DEVICES
  if [ "$prov" = ucx ]; then
    export FI_PROVIDER=tcp FMX_TRANSPORT=ucx FMX_UCX_NET_DEVICES=fmx0
    # two daemons per host (--vnodes 2 over the hostfile): within a host by UCX's shared
    # memory, between hosts by its tcp, the fences hierarchical (asked for: auto does not)
    FMX_DEBUG=3 FMX_FENCE_ALGO=hier run "UCX, 2 daemons per host: shared memory within, tcp between, hier fences" 0 \
      "grep -v '^fmx\\[' \"\$OUT\" >\"\$OUT.ranks\" && $check_example client $((2 * ${#hosts[@]})) \"\$OUT.ranks\" && grep -q 'engine up over 1 peer(s) on this host by ucx .*transports sm.*; $((2 * ${#hosts[@]} - 2)) elsewhere by ucx' \"\$OUT\" && grep -qE 'fence over $((2 * ${#hosts[@]})) members, collecting.*: hier' \"\$OUT\"" \
      -- --vnodes 2 -N 1 "$pclient"
    # and a few of the jobs below (all of them run on tcp and sockets; CI's time)
    run "PMIx client: fence with data across hosts" 0 \
      "$check_example client $((2 * ${#hosts[@]})) \"\$OUT\"" -- -N 2 "$pclient"
    run "Open MPI allreduce across hosts" 0 "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$mallreduce"
    run "a rank SIGKILLed mid-fence ends the job on every host" 137 \
      "grep -q 'rank 1 on node .* was killed by signal 9' \"\$OUT\"" -- -N 2 "$misbehave" kill
    if [ -n "${FMX_PMI_PROGRAMS:-}" ]; then
      IFS=: read -r chello callreduce cring pmi2 <<<"$FMX_PMI_PROGRAMS"
      run "MPICH allreduce across hosts" 0 "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$callreduce"
    fi
    continue
  fi
  run "-N 2 hostname: each host exactly twice" 0 "$per_host_twice" -- -N 2 hostname
  run "PMIx hello, 2 per host" 0 "$check_example hello $((2 * ${#hosts[@]})) \"\$OUT\"" \
    -- -N 2 "$phello"
  run "PMIx client: fence with data across hosts" 0 \
    "$check_example client $((2 * ${#hosts[@]})) \"\$OUT\"" -- -N 2 "$pclient"
  run "PMIx dmodex: direct modex across hosts" 0 \
    "$check_example dmodex $((2 * ${#hosts[@]})) \"\$OUT\"" -- -N 2 "$pdmodex"
  run "Open MPI hello across hosts" 0 \
    "[ \$(grep -cE 'hello from rank [0-9]+ of $((2 * ${#hosts[@]})) on ${hosts[0]%-h1}-h[0-9]' \"\$OUT\") -eq $((2 * ${#hosts[@]})) ]" \
    -- -N 2 "$mhello" $((2 * ${#hosts[@]}))
  run "Open MPI allreduce across hosts" 0 "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$mallreduce"
  run "Open MPI ring across hosts" 0 "grep -qE 'token ([0-9]+), expected \\1\$' \"\$OUT\"" -- -N 2 "$mring"
  run "a rank SIGKILLed mid-fence ends the job on every host" 137 \
    "grep -q 'rank 1 on node .* was killed by signal 9' \"\$OUT\"" -- -N 2 "$misbehave" kill
  run "PMIx_Abort ends the job on every host" 42 \
    "grep -q 'called PMIx_Abort with status 42' \"\$OUT\"" -- -N 2 "$misbehave" abort
  run "a rank that closes its PMIx connection unfinalized ends the job on every host" 1 \
    "grep -q 'rank 1 on node .* closed its PMIx connection without calling PMIx_Finalize' \"\$OUT\"" \
    -- -N 2 "$misbehave" hangup
  # the PMIx server beyond wire-up: publish/lookup, job control, an abort heard everywhere, MPI
  # connect/accept, groups (over tcp only: CI's time)
  if [ "$prov" = tcp ] && [ -n "${FMX_SERVER_PROGRAMS:-}" ]; then
    IFS=: read -r spubi sjobctl sfault sconnect sgroup sdynamic sspawn _ <<<"$FMX_SERVER_PROGRAMS"
    n=$((2 * ${#hosts[@]}))
    run "PMIx publish / lookup (waiting) across hosts" 0 "$check_example pubi $n \"\$OUT\"" -- -N 2 "$spubi"
    run "PMIx job control: a signal to a rank on another host" 0 \
      "$check_example jobctl $n \"\$OUT\"" -- -N 2 "$sjobctl"
    run "a rank's abort heard on every host (--enable-recovery)" 1 \
      "$check_example fault $n \"\$OUT\"" -- -N 2 --enable-recovery "$sfault"
    run "Open MPI publish / lookup / accept / connect across hosts" 0 \
      "[ \$(grep -cE '^connect: rank (0 got 4243, expected 4243|$((n - 1)) got 4242, expected 4242)\$' \"\$OUT\") -eq 2 ]" \
      -- -N 2 "$sconnect"
    [ -z "$sgroup" ] || run "PMIx groups across hosts" 0 "$check_example group_lcl_cid $n \"\$OUT\"" \
      -- -N 2 "$sgroup"
    # spawn: OpenPMIx's dynamic starts its client example from its working directory; the
    # hosts' slots are the job's, so the children oversubscribe them (as under mpirun)
    mkdir -p "$tmp/dyn" && ln -sf "$(dirname "$sdynamic")/pmix_client" "$tmp/dyn/client"
    run "PMIx_Spawn across hosts" 0 "$check_example dynamic $n \"\$OUT\"" \
      -- -N 2 --oversubscribe --wdir "$tmp/dyn" "$sdynamic"
    # the rest of OpenPMIx's examples of the PMIx server table, 4 ranks on the 4 hosts (groups
    # not in the sanitizer build: libpmix's own leaks, tests/pmix/CMakeLists.txt)
    for ex in pub jctrl group group_dmodex asyncgroup; do
      case $ex in group*|asyncgroup) [ -n "$sgroup" ] || continue ;; esac
      run "OpenPMIx $ex across hosts" 0 "$check_example $ex ${#hosts[@]} \"\$OUT\"" \
        -- -N 1 "$(dirname "$sdynamic")/pmix_$ex"
    done
    run "Open MPI MPI_Comm_spawn across hosts" 0 \
      "[ \$(grep -cE '^(child [01] of 2 \\(app 0\\): got 100[01] from the parent|spawn: rank 0 got 2 answers, expected 2)\$' \"\$OUT\") -eq 3 ]" \
      -- -N 2 --oversubscribe "$sspawn" single
  fi
  # PMI-1 (MPICH) and PMI-2 (Slurm's libpmi2) ranks: their barriers on the engine over $prov
  [ -n "${FMX_PMI_PROGRAMS:-}" ] || continue
  IFS=: read -r chello callreduce cring pmi2 <<<"$FMX_PMI_PROGRAMS"
  n=$((2 * ${#hosts[@]}))
  run "MPICH hello across hosts (PMI-1)" 0 \
    "[ \$(grep -cE 'hello from rank [0-9]+ of $n on ${hosts[0]%-h1}-h[0-9]' \"\$OUT\") -eq $n ]" \
    -- -N 2 "$chello" $n
  run "MPICH allreduce across hosts" 0 "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$callreduce"
  run "MPICH ring across hosts" 0 "grep -qE 'token ([0-9]+), expected \\1\$' \"\$OUT\"" -- -N 2 "$cring"
  run "a PMI-2 program across hosts" 0 \
    "[ \$(grep -cE 'pmi2 rank [0-9]+ of $n: $n cards ok' \"\$OUT\") -eq $n ]" -- -N 2 "$pmi2"
done
unset FMX_TRANSPORT FMX_UCX_NET_DEVICES
# Faults between hosts (tcp only), through tests/lib/fault.sh (it starts pmixrun, waits for
# its ranks, then interrupts it, kills or stops a daemon, or takes a host's link down).
# no daemon may crash or be left to pmixrun's grace on the way out
clean_end="! grep -qE 'terminated with signal|corrupt|double free|killed by signal|did not end' \"\$OUT\""
real_pmixrun=$pmixrun
export FI_PROVIDER=tcp OUT=$tmp/out NRANKS=$((2 * ${#hosts[@]}))
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$(cd "$(dirname "$0")/../lib" && pwd)/fault.sh" \
  "$real_pmixrun" >"$tmp/fault"
chmod +x "$tmp/fault"
pmixrun=$tmp/fault
# Hosts whose traffic to one another is dropped (as a firewall that drops forwarded packets
# would): the job's first fence cannot complete, and Ctrl-C ends it. Closing endpoints with
# large messages still waiting for their peers must corrupt nothing (each rank's card makes
# the fence's messages rendezvous ones).
net=${FMX_CONTROL_HOST%.*}
for h in "${hosts[@]}"; do
  nsenter --net="/run/netns/$h" iptables -A INPUT -s "$net.254" -j ACCEPT
  nsenter --net="/run/netns/$h" iptables -A INPUT -s "$net.0/24" -j DROP
done
# The daemons find it out at start-up, within FMX_REACH_TIMEOUT_MS (5 s), and name both ends.
ACTION=none MARK= WAIT=0 run "hosts that cannot reach each other: found at start-up, both named" 1 \
  "grep -qE 'node ${hosts[0]%-h1}-h[1-4] \(host .*\) cannot reach node ${hosts[0]%-h1}-h[1-4] \(host .*\) at fi_sockaddr_in://$net\.[1-4]:[0-9]+ over tcp;ofi_rxm .*\(no answer within 5000 ms\); check the firewalls' \"\$OUT\" && $clean_end" -- \
  -N 2 "$misbehave" fences 2048
grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
# Without that check the first fence waits until its deadline, and says which host it waits for.
FMX_REACH_TIMEOUT_MS=0 FMX_TIMEOUT_MS=3000 ACTION=none MARK= WAIT=0 \
  run "hosts that cannot reach each other: the fence's timeout names the host it waits for" 5 \
  "grep -qE 'timed out after [0-9]+ ms at step [0-9]+; still waiting for node ${hosts[0]%-h1}-h[1-4] \(host ${hosts[0]%-h1}-h[1-4]\), member [0-3]' \"\$OUT\"" -- \
  -N 2 "$misbehave" fences
# Without that check the first fence waits; Ctrl-C ends the job, and closing endpoints with
# rendezvous messages still owed must corrupt nothing.
FMX_REACH_TIMEOUT_MS=0 ACTION=int MARK= WAIT=4 run "hosts that cannot reach each other: Ctrl-C ends the job cleanly" 130 \
  "grep -q 'Interrupt: ending the job' \"\$OUT\" && $clean_end" -- \
  -N 2 "$misbehave" fences 2048
grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
for h in "${hosts[@]}"; do
  nsenter --net="/run/netns/$h" iptables -D INPUT -s "$net.254" -j ACCEPT
  nsenter --net="/run/netns/$h" iptables -D INPUT -s "$net.0/24" -j DROP
done
# A daemon SIGKILLed mid-job: the job ends at once, naming the host, nothing left anywhere.
ACTION=kill-host HOST=${hosts[1]} MARK=fencing run "a pmixd SIGKILLed on one host ends the job, naming it" 1 \
  "grep -q 'lost contact with pmixd on node ${hosts[1]}' \"\$OUT\" && ! grep -qE 'did not end|after the job ended: killed' \"\$OUT\"" -- \
  -N 2 "$misbehave" fences
grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
# A daemon that hangs (SIGSTOP; its connections stay open) is found by its silence within
# FMX_HEARTBEAT_TIMEOUT_MS and a quarter of it (7.5 s), named; pmixrun kills it (its ranks die
# with it), and nothing is left anywhere.
ACTION=stop-host HOST=${hosts[2]} MARK=fencing run "a pmixd stopped on one host: found by its silence, named" 1 \
  "grep -q 'pmixd on node ${hosts[2]} (host ${hosts[2]}) has said nothing for' \"\$OUT\"" -- \
  -N 2 "$misbehave" fences
grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
# A host's link taken down mid-fence: no connection is reset (TCP would retry for minutes),
# nothing arrives; found the same way, named, the link up again afterwards.
ACTION=down-host HOST=${hosts[3]} DEV=fmx0 MARK=fencing run "a host's link down mid-job: found by its silence, named" 1 \
  "grep -q 'pmixd on node ${hosts[3]} (host ${hosts[3]}) has said nothing for' \"\$OUT\"" -- \
  -N 2 "$misbehave" fences
grep -h "returned .* ms later" "$tmp/out" | sed 's/^/  /'
pmixrun=$real_pmixrun

# Hosts named by address, and no FMX_CONTROL_HOST: pmixrun finds its own address toward each
# host from the routing table.
read -r -a haddrs <<<"$FMX_HOST_ADDRS"
for a in "${haddrs[@]}"; do echo "$a slots=2"; done >"$tmp/hosts"
FI_PROVIDER=tcp FMX_CONTROL_HOST= run "hosts by address, control address from the route" 0 \
  "$per_host_twice" -- -N 2 hostname

# A pmixd serving in every host, started without FI_PROVIDER: the launcher's FI_* settings
# reach the daemons with the job.
head -c 48 /dev/urandom | base64 >"$tmp/secret"
chmod 600 "$tmp/secret"
# serve ENV...: a pmixd --listen in every host, started under `env ENV...`, logs emptied
serve() {
  for i in "${!hosts[@]}"; do
    : >"$tmp/svc$i.log"
    env "$@" "$agent" "${hosts[$i]}" "$pmixd" --listen 7707 --secret-file "$tmp/secret" \
      2>>"$tmp/svc$i.log" &
    svcs+=($!)
  done
  for _ in $(seq 100); do
    [ "$(cat "$tmp"/svc*.log | grep -c 'serving jobs')" -eq ${#hosts[@]} ] && break
    sleep 0.1
  done
}
# stop_services: SIGTERM to every service; each must end with status 0 (a job child that
# crashed or leaked under a sanitizer makes its service end non-zero)
stop_services() {
  local p st
  for p in "${svcs[@]}"; do kill -TERM "$p"; done
  for p in "${svcs[@]}"; do
    reap_within 30 "$p" # each job child gets 10 s after SIGTERM, pmixd's teardown 10 s more
    st=$?
    if [ $st -ne 0 ]; then
      echo "FAIL: the pmixd service (pid $p) ended with status $st; its log:"
      cat "$tmp"/svc*.log | grep -v '^pmixd: a job from' | tail -10 | sed 's/^/    /'
      failures=$((failures + 1))
    fi
  done
  svcs=()
}
serve -u FI_PROVIDER
launch=(--connect 7707 --secret-file "$tmp/secret")
for prov in tcp sockets; do
  FI_PROVIDER=$prov FMX_DEBUG=2 run "--connect: Open MPI allreduce through daemons already running" 0 \
    "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$mallreduce"
  used=$(cat "$tmp"/svc*.log | grep -c "provider $prov")
  if [ "$used" -lt ${#hosts[@]} ]; then
    echo "FAIL: the daemons did not take FI_PROVIDER=$prov from the launcher ($used of ${#hosts[@]})"
    failures=$((failures + 1))
  fi
  # their libfabric started up without it: the job goes on in a fresh process
  fresh=$(cat "$tmp"/svc*.log | grep -c 'serving it from a fresh process')
  if [ "$fresh" -lt ${#hosts[@]} ]; then
    echo "FAIL: FI_PROVIDER=$prov served by daemons started without it in place ($fresh fresh)"
    failures=$((failures + 1))
  fi
  for i in "${!hosts[@]}"; do : >"$tmp/svc$i.log"; done
done
FI_PROVIDER=tcp run "--connect: PMIx dmodex across hosts" 0 \
  "$check_example dmodex $((2 * ${#hosts[@]})) \"\$OUT\"" \
  -- -N 2 "$pdmodex"
# two jobs of the same daemons meet with no data server (Open MPI publish, lookup, accept /
# connect across both jobs' ranks on every host; their daemons went on in fresh processes,
# which keep the link to their service)
if [ -n "${FMX_SERVER_PROGRAMS:-}" ]; then
  IFS=: read -r _ _ _ _ _ _ _ sjobs <<<"$FMX_SERVER_PROGRAMS"
  n=$((2 * ${#hosts[@]}))
  sum=$((3000 * n + n * (n - 1)))
  FI_PROVIDER=tcp timeout -s KILL 60 "$pmixrun" "${launch[@]}" --hostfile "$tmp/hosts" -N 2 \
    "$sjobs" accept >"$tmp/accept" 2>&1 &
  acc=$!
  FI_PROVIDER=tcp run "--connect: two jobs of the same daemons connect (Open MPI)" 0 \
    "[ \$(grep -cE '^jobs: connect rank [0-9]+: $((2 * n)) ranks, sum $sum, expected $sum\$' \"\$OUT\") -eq $n ]" \
    -- -N 2 "$sjobs" connect
  wait $acc
  racc=$?
  right=$(grep -cE "^jobs: accept rank [0-9]+: $((2 * n)) ranks, sum $sum, expected $sum\$" "$tmp/accept")
  if [ $racc -ne 0 ] || [ "$right" -ne $n ]; then
    echo "FAIL: the accepting job: exit $racc, $right of $n ranks right; output:"
    sed 's/^/    /' "$tmp/accept" | head -20
    failures=$((failures + 1))
  fi
fi
FI_PROVIDER=tcp run "--connect: a rank SIGKILLed mid-fence ends the job" 137 \
  "grep -q 'rank 1 on node .* was killed by signal 9' \"\$OUT\"" -- -N 2 "$misbehave" kill
stop_services

# Daemons started with FI_PROVIDER=tcp have libfabric up before any job: a job with the same
# settings is served in the forked child; one with other settings from a fresh process.
serve FI_PROVIDER=tcp
FI_PROVIDER=tcp FMX_DEBUG=2 run "--connect, libfabric started by the daemons: Open MPI allreduce" 0 \
  "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$mallreduce"
FI_PROVIDER=tcp FMX_DEBUG=2 run "--connect, libfabric started by the daemons: PMIx dmodex" 0 \
  "$check_example dmodex $((2 * ${#hosts[@]})) \"\$OUT\"" \
  -- -N 2 "$pdmodex"
fresh=$(cat "$tmp"/svc*.log | grep -c 'serving it from a fresh process')
used=$(cat "$tmp"/svc*.log | grep -c "provider tcp")
if [ "$fresh" -ne 0 ] || [ "$used" -lt ${#hosts[@]} ]; then
  echo "FAIL: same FI_PROVIDER as the daemons: $fresh fresh processes (want 0), tcp on $used daemons"
  failures=$((failures + 1))
fi
FI_PROVIDER=sockets FMX_DEBUG=2 run "--connect, the job asks for another provider" 0 \
  "grep -q ' 0 wrong elements' \"\$OUT\"" -- -N 2 "$mallreduce"
fresh=$(cat "$tmp"/svc*.log | grep -c 'serving it from a fresh process')
used=$(cat "$tmp"/svc*.log | grep -c "provider sockets")
if [ "$fresh" -lt ${#hosts[@]} ] || [ "$used" -lt ${#hosts[@]} ]; then
  echo "FAIL: FI_PROVIDER=sockets against tcp daemons: $fresh fresh, sockets on $used daemons"
  failures=$((failures + 1))
fi
stop_services
[ $failures -eq 0 ] || { echo "$failures job(s) failed"; exit 1; }
echo "all jobs passed on ${#hosts[@]} hosts"
