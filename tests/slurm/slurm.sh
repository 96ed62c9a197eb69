#!/usr/bin/env bash
# pmixrun inside a Slurm allocation, with Slurm from Debian (slurm-wlm, munge): run by
# tests/netns/cluster.sh 4, it starts a Slurm cluster of its own over the four hosts
# (tests/slurm/start.sh: nodes rk1-n[01-02],rk2-n[01-02], two bracket groups with leading
# zeros). Then, each through salloc and pmixrun without a hostfile:
#  - OpenPMIx's client example, 8 ranks on the 4 nodes (output checked rank by rank);
#  - an Open MPI allreduce, 8 ranks;
#  - -N 2: two ranks on each node (each prints the node slurmd runs it on);
#  - sbatch --wait of a script that runs pmixrun on the allocation's first node;
#  - a job cancelled with scancel while its ranks run: every pmixd and rank ends;
#  - refusals: more ranks than the allocation's slots, srun failing (its message passed
#    through), an allocation whose node list cannot be read.
#   slurm.sh PMIXRUN PMIX_CLIENT [MPI_ALLREDUCE]
set -u
pmixrun=$1 client=$2 mpi=${3:-}
check_example=$(dirname "$0")/../pmix/check_example.sh
source "$(dirname "$0")/start.sh"
failures=0
fail() {
  echo "FAIL: $1"
  [ -f "$dir/out" ] && sed 's/^/    /' "$dir/out" | head -20
  failures=$((failures + 1))
}
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

# a batch script (sbatch --wait): pmixrun runs on the allocation's first node, not here. As on a
# cluster, that node has its Slurm name as host name and the nodes' names resolve: the script
# enters a mount and a UTS namespace of its own (nothing of this machine's changes), sets the
# host name, and bind-mounts a hosts file naming the nodes; no FMX_CONTROL_HOST, so pmixrun
# finds its own address toward another node. Where mount namespaces cannot be made (a chroot),
# the daemons are told that node's address instead.
for i in "${!names[@]}"; do echo "${addrs[$i]} ${names[$i]}"; done >"$dir/hosts"
printf '127.0.0.1 localhost\n' >>"$dir/hosts"
rank_cmd="'echo \"batch rank on \$SLURMD_NODENAME\"'"
if unshare --mount --uts true 2>/dev/null; then
  printf '#!/bin/sh\nmount --bind %s /etc/hosts && hostname "$SLURMD_NODENAME" || exit 99\n' \
    "$dir/hosts" >"$dir/batch-ns.sh"
  printf 'unset FMX_CONTROL_HOST\nexec %s -N 1 sh -c %s\n' "$pmixrun" "$rank_cmd" >>"$dir/batch-ns.sh"
  printf '#!/bin/sh\nexec unshare --mount --uts sh %s\n' "$dir/batch-ns.sh" >"$dir/batch.sh"
  how="its host name the node's, no FMX_CONTROL_HOST"
else
  {
    echo '#!/bin/sh'
    echo 'case $SLURMD_NODENAME in'
    for i in "${!names[@]}"; do echo "${names[$i]}) FMX_CONTROL_HOST=${addrs[$i]} ;;"; done
    echo 'esac'
    echo 'export FMX_CONTROL_HOST'
    printf 'exec %s -N 1 sh -c %s\n' "$pmixrun" "$rank_cmd"
  } >"$dir/batch.sh"
  how="no mount namespaces here: FMX_CONTROL_HOST set"
fi
timeout -s KILL 90 sbatch --wait -N 4 --exclusive -t 2 -o "$dir/batch.out" "$dir/batch.sh" \
  >"$dir/out" 2>&1
rc=$?
cat "$dir/batch.out" >>"$dir/out" 2>/dev/null
if [ $rc -eq 0 ] && [ "$(grep '^batch rank on ' "$dir/out" | sort -u | wc -l)" = 4 ] &&
  [ "$(grep -c '^batch rank on ' "$dir/out")" = 4 ]; then
  echo "ok: sbatch --wait of a script running pmixrun -N 1 ($how): one rank on each of the 4 nodes"
else
  fail "sbatch --wait of a script running pmixrun: exit $rc"
fi

# scancel while the ranks run: salloc, pmixrun, every pmixd and rank end
marker=fmx-slurm-sleep-$$
timeout -s KILL 90 salloc -N 4 --exclusive -t 2 "$pmixrun" -n 8 bash -c "exec -a $marker sleep 60" \
  >"$dir/out" 2>&1 &
job=$!
# this run's daemons: a pmixd whose command line names this run's control address (not the
# srun that has the same words among its arguments)
daemons="pgrep -a -f '[p]mixd --control $FMX_CONTROL_HOST:.* --node slurm' | awk '\$2 ~ /pmixd\$/'"
if wait_for 30 "[ \$(pgrep -c -f '^$marker') = 8 ] && [ \$($daemons | wc -l) = 4 ]"; then
  scancel "$(squeue -h -o %i | head -1)"
  reap_within 40 $job
  rc=$?
  if wait_for 20 "! pgrep -f '^$marker' >/dev/null && [ -z \"\$($daemons)\" ]" &&
    [ $rc -ne 0 ]; then
    echo "ok: scancel ends the job: pmixrun exit $rc, no pmixd and no rank left"
  else
    fail "scancel: pmixrun exit $rc; left: $(pgrep -a -f "^$marker"; bash -c "$daemons" | tr '\n' ';')"
  fi
else
  fail "the job to cancel did not start its 8 ranks and 4 daemons"
  kill -9 $job 2>/dev/null
fi
pkill -9 -f "^$marker" 2>/dev/null
squeue -h -o %i | xargs -r scancel # whatever that case left, before the next allocation

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
