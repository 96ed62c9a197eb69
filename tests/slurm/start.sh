# Sourced by a script that tests/netns/cluster.sh 4 runs (tests/slurm/slurm.sh,
# bench/slurm.sh): a Slurm cluster of its own over the four hosts. munged and slurmctld on this
# machine (slurmctld at the switch's address, FMX_CONTROL_HOST), one slurmd in each
# network-namespace host, all under a directory of its own ($dir) with its own SLURM_CONF
# (exported; nothing written under /etc), stopped on every path: when the script exits, and by a
# guard if it is killed outright. The nodes are named rk1-n01 rk1-n02 rk2-n01 rk2-n02, so that
# Slurm's node list has two bracket groups with leading zeros (rk1-n[01-02],rk2-n[01-02]); each
# has FMX_SLURM_CPUS CPUs (2); with FMX_SLURM_PRIVATE_TMP set, a /tmp of its own (needs mount
# namespaces). Exits 77 when Slurm is not installed.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/wait.sh"
for t in munged slurmctld slurmd salloc srun scancel sinfo; do
  command -v "$t" >/dev/null || {
    echo "$(basename "$0"): $t is not installed (slurm-wlm, munge): skipped"
    exit 77
  }
done
read -r -a hosts <<<"$FMX_HOSTS"
read -r -a addrs <<<"$FMX_HOST_ADDRS"
names=(rk1-n01 rk1-n02 rk2-n01 rk2-n02)
base=/tmp
[ -z "${FMX_SLURM_PRIVATE_TMP:-}" ] || base=/var/tmp # not under the nodes' own /tmp
dir=$(mktemp -d "$base/fmx-slurm.XXXXXX")
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

# munge, with a key of its own
mkdir -p "$dir/munge" "$dir/log" "$dir/spool/ctld"
chmod 700 "$dir/munge"
head -c 1024 /dev/urandom >"$dir/munge/key"
chmod 600 "$dir/munge/key"
munged -f --key-file="$dir/munge/key" --socket="$dir/munge/sock" --pid-file="$dir/munge/pid" \
  --seed-file="$dir/munge/seed" --log-file="$dir/log/munged.log" ||
  { echo "$(basename "$0"): munged did not start"; exit 1; }
chmod 755 "$dir/munge"

export SLURM_CONF=$dir/slurm.conf
# ports nothing on this machine listens on (another Slurm here, or another run of this)
free_port() {
  local p
  for _ in $(seq 50); do
    p=$(shuf -i 20000-59999 -n 1)
    [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && [ "$p" != "${1:-}" ] && { echo "$p"; return; }
  done
  echo "$(basename "$0"): no free port for Slurm" >&2
  exit 1
}
ctld_port=$(free_port)
slurmd_port=$(free_port "$ctld_port")
{
  echo "ClusterName=fmxtest"
  echo "SlurmctldHost=$(hostname)($FMX_CONTROL_HOST)"
  echo "SlurmctldPort=$ctld_port"
  echo "SlurmdPort=$slurmd_port"
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
    echo "NodeName=${names[$i]} NodeAddr=${addrs[$i]} CPUs=${FMX_SLURM_CPUS:-2} State=UNKNOWN"
  done
  echo "PartitionName=fmx Nodes=ALL Default=YES MaxTime=60 State=UP OverSubscribe=FORCE:8"
} >"$SLURM_CONF"
setsid slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/ctld.out" 2>&1 &
pids+=($!)
for i in 0 1 2 3; do
  mkdir -p "$dir/spool/${names[$i]}"
  if [ -n "${FMX_SLURM_PRIVATE_TMP:-}" ]; then
    # a /tmp of the node's own (a mount namespace that ends with its processes): Slurm's
    # mpi/pmix makes each step's directory under /tmp by a name that is the same on every node
    mkdir -p "$dir/tmp/${names[$i]}"
    chmod 1777 "$dir/tmp/${names[$i]}"
    setsid nsenter --net="/run/netns/${hosts[$i]}" unshare -m --propagation private \
      sh -c 'mount --bind "$0" /tmp && exec slurmd -D -N "$1" -f "$2"' \
      "$dir/tmp/${names[$i]}" "${names[$i]}" "$SLURM_CONF" >"$dir/log/slurmd.${names[$i]}.out" 2>&1 &
  else
    setsid nsenter --net="/run/netns/${hosts[$i]}" slurmd -D -N "${names[$i]}" -f "$SLURM_CONF" \
      >"$dir/log/slurmd.${names[$i]}.out" 2>&1 &
  fi
  pids+=($!)
done
if ! wait_for 30 "[ \"\$(sinfo -h -N -o %T 2>/dev/null | grep -c idle)\" = 4 ]"; then
  echo "$(basename "$0"): the 4 nodes did not come up within 30 s:"
  sinfo -N 2>&1 | sed 's/^/    /'
  tail -5 "$dir"/log/*.log "$dir"/log/*.out 2>/dev/null | sed 's/^/    /'
  exit 1
fi
echo "$(basename "$0"): slurmctld at $FMX_CONTROL_HOST, slurmd on $(sinfo -h -o %N)"
