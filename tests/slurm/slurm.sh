#!/usr/bin/env bash
# pmixrun inside a Slurm allocation, with Slurm from Debian (slurm-wlm, munge): run by
# tests/netns/cluster.sh 4, it starts munged and slurmctld on this machine (at the switch's
# address, FMX_CONTROL_HOST) and one slurmd in each network-namespace host, all under a
# directory of its own with the test's own SLURM_CONF (nothing written under /etc), and stops
# them on every path. The nodes are named rk1-n01 rk1-n02 rk2-n01 rk2-n02, so that Slurm's node
# list has two bracket groups with leading zeros (rk1-n[01-02],rk2-n[01-02]). Then, each
# through salloc and pmixrun without a hostfile:
#  - OpenPMIx's client example, 8 ranks on the 4 nodes (output checked rank by rank);
#  - an Open MPI allreduce, 8 ranks;
#  - -N 2: two ranks on each node (each prints the node slurmd runs it on);
#  - a job cancelled with scancel while its ranks run: every pmixd and rank ends;
#  - refusals: more ranks than the allocation's slots, srun failing (its message passed
#    through), an allocation whose node list cannot be read.
#   slurm.sh PMIXRUN PMIX_CLIENT [MPI_ALLREDUCE]
set -u
pmixrun=$1 client=$2 mpi=${3:-}
source "$(dirname "$0")/../lib/wait.sh"
check_example=$(dirname "$0")/../pmix/check_example.sh
for t in munged slurmctld slurmd salloc srun scancel sinfo; do
  command -v "$t" >/dev/null || {
    echo "slurm.sh: $t is not installed (slurm-wlm, munge): skipped"
    exit 77
  }
done
read -r -a hosts <<<"$FMX_HOSTS"
read -r -a addrs <<<"$FMX_HOST_ADDRS"
names=(rk1-n01 rk1-n02 rk2-n01 rk2-n02)
dir=$(mktemp -d /tmp/fmx-slurm.XXXXXX)
chmod 755 "$dir"
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do reap_within 10 "$p" 2>/dev/null; done
  [ -f "$dir/munge/pid" ] && kill "$(cat "$dir/munge/pid")" 2>/dev/null
  wait_for 5 "! kill -0 $(cat "$dir/munge/pid" 2>/dev/null || echo 0) 2>/dev/null"
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM
# killed outright (ctest's timeout): this machine's daemons of this run go anyway (the hosts'
# slurmd go with their namespaces, cluster.sh); a daemon is recognised by this run's directory
guard_after_exit bash -c 'for p in $(pgrep -f -- "$0/"); do kill -9 "$p"; done; rm -rf "$0"' "$dir"
failures=0
fail() {
  echo "FAIL: $1"
  [ -f "$dir/out" ] && sed 's/^/    /' "$dir/out" | head -20
  failures=$((failures + 1))
}

# munge, with a key of its own
mkdir -p "$dir/munge" "$dir/log" "$dir/spool/ctld"
chmod 700 "$dir/munge"
head -c 1024 /dev/urandom >"$dir/munge/key"
chmod 600 "$dir/munge/key"
munged -f --key-file="$dir/munge/key" --socket="$dir/munge/sock" --pid-file="$dir/munge/pid" \
  --seed-file="$dir/munge/seed" --log-file="$dir/log/munged.log" ||
  { echo "slurm.sh: munged did not start"; exit 1; }
chmod 755 "$dir/munge"

export SLURM_CONF=$dir/slurm.conf
{
  echo "ClusterName=fmxtest"
  echo "SlurmctldHost=$(hostname)($FMX_CONTROL_HOST)"
  echo "SlurmctldPort=16817"
  echo "SlurmdPort=16818"
  echo "AuthType=auth/munge"
  echo "AuthInfo=socket=$dir/munge/sock"
  echo "CredType=cred/munge"
  echo "SlurmUser=root"
  echo "SlurmdUser=root"
  echo "StateSaveLocation=$dir/spool/ctld"
  echo "SlurmdSpoolDir=$dir/spool/%n"
  echo "SlurmctldPidFile=$dir/ctld.pid"
  echo "SlurmdPidFile=$dir/slurmd.%n.pid"
  echo "SlurmctldLogFile=$dir/log/ctld.log"
  echo "SlurmdLogFile=$dir/log/slurmd.%n.log"
  echo "ProctrackType=proctrack/linuxproc"
  echo "TaskPlugin=task/affinity"
  echo "SelectType=select/cons_tres"
  echo "SelectTypeParameters=CR_Core"
  echo "MpiDefault=none"
  echo "ReturnToService=2"
  echo "SchedulerType=sched/builtin"
  echo "JobCompType=jobcomp/none"
  echo "AccountingStorageType=accounting_storage/none"
  echo "JobAcctGatherType=jobacct_gather/none"
  echo "SwitchType=switch/none"
  echo "PlugStackConfig=/dev/null"
  for i in 0 1 2 3; do
    echo "NodeName=${names[$i]} NodeAddr=${addrs[$i]} CPUs=2 State=UNKNOWN"
  done
  echo "PartitionName=fmx Nodes=ALL Default=YES MaxTime=5 State=UP OverSubscribe=FORCE:8"
} >"$SLURM_CONF"
setsid slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/ctld.out" 2>&1 &
pids+=($!)
for i in 0 1 2 3; do
  mkdir -p "$dir/spool/${names[$i]}"
  setsid nsenter --net="/run/netns/${hosts[$i]}" slurmd -D -N "${names[$i]}" -f "$SLURM_CONF" \
    >"$dir/log/slurmd.${names[$i]}.out" 2>&1 &
  pids+=($!)
done
if ! wait_for 30 "[ \"\$(sinfo -h -N -o %T 2>/dev/null | grep -c idle)\" = 4 ]"; then
  echo "slurm.sh: the 4 nodes did not come up within 30 s:"
  sinfo -N 2>&1 | sed 's/^/    /'
  tail -5 "$dir"/log/*.log "$dir"/log/*.out 2>/dev/null | sed 's/^/    /'
  exit 1
fi
echo "slurm.sh: slurmctld at $FMX_CONTROL_HOST, slurmd on $(sinfo -h -o %N)"
export FI_PROVIDER=tcp FI_TCP_IFACE=fmx0 OMPI_MCA_btl_tcp_if_include=fmx0

# a job in an allocation of the 4 nodes: run ARGS... (output in $dir/out)
run() {
  timeout -s KILL 90 salloc -N 4 --exclusive -t 2 "$pmixrun" "$@" >"$dir/out" 2>&1
}

if run -n 8 "$client" && why=$("$check_example" client 8 "$dir/out"); then
  echo "ok: salloc -N 4 pmixrun -n 8 client (job $(sed -n "s/.*Granted job allocation //p" "$dir/out"))"
else
  fail "salloc -N 4 pmixrun -n 8 client: ${why:-exit status}"
fi
if [ -n "$mpi" ]; then
  if run -n 8 "$mpi" && grep -q ' 0 wrong elements' "$dir/out"; then
    echo "ok: an Open MPI allreduce, 8 ranks on the 4 nodes"
  else
    fail "an Open MPI allreduce in the allocation"
  fi
fi
# two ranks on each node: each says the node it runs on
if run -N 2 sh -c 'echo "on $SLURMD_NODENAME"' &&
  [ "$(grep '^on ' "$dir/out" | sort | uniq -c | awk '$1 == 2' | wc -l)" = 4 ]; then
  echo "ok: -N 2 puts two ranks on each of the 4 nodes:"
  sort "$dir/out" | sed 's/^/    /'
else
  fail "-N 2: not two ranks on each node"
fi

# scancel while the ranks run: salloc, pmixrun, every pmixd and rank end
marker=fmx-slurm-sleep-$$
timeout -s KILL 90 salloc -N 4 --exclusive -t 2 "$pmixrun" -n 8 bash -c "exec -a $marker sleep 60" \
  >"$dir/out" 2>&1 &
job=$!
if wait_for 30 "[ \$(pgrep -c -f '^$marker') = 8 ]"; then
  scancel "$(squeue -h -o %i | head -1)"
  reap_within 40 $job
  rc=$?
  if wait_for 20 "! pgrep -f '^$marker|[p]mixd --control .* --node slurm' >/dev/null" &&
    [ $rc -ne 0 ]; then
    echo "ok: scancel ends the job: pmixrun exit $rc, no pmixd and no rank left"
  else
    fail "scancel: pmixrun exit $rc; left: $(pgrep -a -f "^$marker|[p]mixd --control .* --node slurm" | tr '\n' ';')"
  fi
else
  fail "the job to cancel did not start its 8 ranks"
  kill -9 $job 2>/dev/null
fi
pkill -9 -f "^$marker" 2>/dev/null

# refusals, one line each naming the problem
if ! run -n 100 true && grep -q "100 ranks but the Slurm allocation (job [0-9]*) has 8 slots on 4 nodes" "$dir/out"; then
  echo "ok: more ranks than the allocation's slots: $(grep -o '100 ranks but.*nodes' "$dir/out")"
else
  fail "more ranks than the allocation's slots"
fi
# an allocation that does not exist: srun's own message, then pmixrun's
if ! SLURM_JOB_ID=999999 SLURM_JOB_NODELIST=rk1-n01 timeout -s KILL 60 "$pmixrun" -n 1 true \
  >"$dir/out" 2>&1 && grep -q "^srun: error" "$dir/out" &&
  grep -q "srun, starting pmixd on the Slurm allocation's nodes, ended before every pmixd connected" "$dir/out"; then
  echo "ok: srun failing: $(grep '^srun: error' "$dir/out" | head -1)"
else
  fail "srun failing"
fi
if ! SLURM_JOB_ID=1 SLURM_JOB_NODELIST='rk1-n[02-01]' timeout -s KILL 60 "$pmixrun" -n 1 true \
  >"$dir/out" 2>&1 && grep -q 'cannot read "rk1-n\[02-01\]" in "rk1-n\[02-01\]": a range that goes down' "$dir/out"; then
  echo "ok: a node list that cannot be read: $(head -1 "$dir/out")"
else
  fail "a node list that cannot be read"
fi
[ $failures -eq 0 ] || { echo "$failures case(s) failed"; exit 1; }
echo "all Slurm cases passed"
