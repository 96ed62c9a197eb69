#!/usr/bin/env bash
# The Docker Compose cluster of docker/, for real: a Docker daemon of this test's own (its own
# socket, data and addresses in 198.18.0.0/15: --bip 198.18.255.1/24, pools from 198.19.0.0/16),
# debian:bookworm made locally with debootstrap when absent, the fmx image built, two nodes up,
# and the README's two jobs run as the unprivileged user; then everything is torn down, the
# daemon stopped, exactly what it did to the firewall, sysctls and links undone, and the host
# checked to read as before (tests/lib/firewall.sh). The teardown also runs from a guard process
# when this script is killed (ctest's timeout), and a later run finishes what a dead one left.
#   compose.sh REPO     (needs root; installs docker.io, docker-compose, debootstrap, nftables)
#   compose.sh --cleanup [PID]   (the teardown of what $run records, of run PID only)
set -u
state=/var/lib/fmx-docker # images survive between runs: the base image is built once
run=/run/fmx-docker
sock=$run/docker.sock
export DOCKER_HOST=unix://$sock
log() { echo "compose.sh: $*"; }
source "$(dirname "$0")/../lib/firewall.sh"
source "$(dirname "$0")/../lib/wait.sh"

# The teardown, from what $run records: it undoes only what this test's daemon did.
teardown() {
  local pid project link status=0
  [ -f "$run/owner" ] || return 0
  pid=$(cat "$run/dockerd.pid" 2>/dev/null)
  project=$(cat "$run/project" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    [ -n "$project" ] && [ -f "$run/compose.yml" ] &&
      timeout 60 docker-compose -p "$project" -f "$run/compose.yml" down -v --remove-orphans -t 5 \
        >/dev/null 2>&1
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  pkill -9 -f "containerd.*$run" 2>/dev/null
  # links the daemon made: its bridge, the networks' bridges, the containers' veths
  for link in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    case $link in fmxdocker0 | br-* | veth*) ;; *) continue ;; esac
    grep -qxF "$link" "$run/links.before" 2>/dev/null || ip link del "$link" 2>/dev/null
  done
  if [ -d "$run/fw" ]; then
    fw_undo "$run/fw"
    fw_same "$run/fw" || status=1
  fi
  umount "$run/exec"/*/* 2>/dev/null
  rm -rf "$run"
  return $status
}

case ${1:-} in
--cleanup) # [PID]: only when the record is still that run's (a newer run may own it now)
  [ -n "${2:-}" ] && [ "$(cat "$run/owner" 2>/dev/null)" != "$2" ] && exit 0
  teardown
  exit $?
  ;;
esac

repo=$(cd "$1" && pwd)
project=fmxtest$$
compose=(docker-compose -p "$project" -f "$repo/docker/docker-compose.yml")
dockerd_pid=

cleanup() {
  local rc=$?
  if [ -f "$run/owner" ] && [ "$(cat "$run/owner")" = $$ ]; then
    teardown || { log "FAIL: the host is not as it was before the test"; rc=1; }
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
  log "needs root to run its own Docker daemon: skipped"
  exit 77
fi
# Inside a chroot (as in a fresh root made to test the project) a Docker daemon cannot remount
# an image's root: the one situation in which this test cannot run. Anywhere else a daemon that
# does not start is a failure.
# (a chroot's / is no mount point; where /proc/1/root can be read, it is another directory)
init_root=$(stat -c %d:%i /proc/1/root/. 2>/dev/null)
if ! mountpoint -q / || { [ -n "$init_root" ] && [ "$init_root" != "$(stat -c %d:%i /)" ]; }; then
  log "running inside a chroot, where a Docker daemon cannot run containers: skipped"
  exit 77
fi
need=()
for p in docker.io docker-compose debootstrap iptables nftables; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null || { log "cannot install ${need[*]}"; exit 1; }
fi

# What an earlier run that was killed left (its guard killed too), then our own record.
if [ -f "$run/owner" ] && ! kill -0 "$(cat "$run/owner")" 2>/dev/null; then
  log "tearing down what an earlier run left"
  teardown || log "(the earlier run had changed the host: see above)"
fi
if [ -f "$run/owner" ]; then
  log "another run (pid $(cat "$run/owner")) is using $run"
  exit 1
fi
mkdir -p "$state" "$run"
fw_save "$run/fw"
ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' >"$run/links.before"
echo "$project" >"$run/project"
cp "$repo/docker/docker-compose.yml" "$run/compose.yml"
echo $$ >"$run/owner"
guard_after_exit bash "$0" --cleanup $$

# Our own daemon on our own bridge; nothing of another Docker installation is touched.
ip link add fmxdocker0 type bridge 2>/dev/null
ip addr add 198.18.255.1/24 dev fmxdocker0 2>/dev/null
ip link set fmxdocker0 up
/usr/sbin/dockerd --data-root "$state" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
  -H "$DOCKER_HOST" --bridge fmxdocker0 --default-address-pool base=198.19.0.0/16,size=24 \
  --containerd-namespace fmx --containerd-plugins-namespace fmx-plugins \
  >"$run/dockerd.log" 2>&1 &
dockerd_pid=$!
# a cold start on a loaded 2-core machine can take a while: up to 120 s while it lives
for _ in $(seq 1200); do
  docker info >/dev/null 2>&1 && break
  kill -0 $dockerd_pid 2>/dev/null || break
  sleep 0.1
done
if ! docker info >/dev/null 2>&1; then
  log "FAIL: the Docker daemon $(kill -0 $dockerd_pid 2>/dev/null && echo "did not answer within 120 s" || echo "ended"); its log:"
  tail -15 "$run/dockerd.log" | sed 's/^/    /'
  exit 1
fi
log "dockerd $(docker version -f '{{.Server.Version}}') on $sock"

if ! docker image inspect debian:bookworm >/dev/null 2>&1; then
  root=$state/bookworm-minbase
  if [ ! -x "$root/bin/sh" ]; then
    log "making debian:bookworm with debootstrap (once)"
    rm -rf "$root.tmp"
    debootstrap --variant=minbase bookworm "$root.tmp" >"$run/debootstrap.log" 2>&1 ||
      { tail -5 "$run/debootstrap.log"; exit 1; }
    mv "$root.tmp" "$root"
  fi
  tar -C "$root" -c . | docker import - debian:bookworm >/dev/null || exit 1
fi

failures=0
step() { # step NAME COMMAND...: runs, shows the output when it fails
  local name=$1
  shift
  if ! "$@" >"$run/step.out" 2>&1; then
    log "FAIL: $name:"
    tail -30 "$run/step.out" | sed 's/^/    /'
    exit 1
  fi
  log "ok: $name"
}
step "docker-compose build" "${compose[@]}" build
step "docker-compose up -d" "${compose[@]}" up -d
# the nodes add themselves to the hostfile once their pmixd is serving
for _ in $(seq 300); do
  nodes=$("${compose[@]}" exec -T node-1 sh -c 'grep -c . /run/fmx/hosts' 2>/dev/null | tr -d '\r')
  [ "$nodes" = 2 ] && break
  sleep 0.2
done
if [ "$nodes" != 2 ]; then
  log "FAIL: the hostfile lists ${nodes:-no} node(s) after 60 s, want 2; node logs:"
  "${compose[@]}" logs --tail 20 2>&1 | sed 's/^/    /'
  exit 1
fi
set -o pipefail # a failing pmixrun must not pass for tr's success
exec_node1() { timeout 120 "${compose[@]}" exec -T node-1 "$@" 2>&1 | tr -d '\r'; }

out=$(exec_node1 pmixrun -N 2 --hostfile /run/fmx/hosts hostname)
rc=$?
if [ $rc -eq 0 ] && [ "$(sort <<<"$out" | tr '\n' ' ')" = "node-1 node-1 node-2 node-2 " ]; then
  log "ok: pmixrun -N 2 --hostfile /run/fmx/hosts hostname: $(tr '\n' ' ' <<<"$out")"
else
  log "FAIL: -N 2 hostname exited $rc and printed:"
  sed 's/^/    /' <<<"$out"
  failures=$((failures + 1))
fi
out=$(exec_node1 sh -c 'echo "user $(id -un)"; pmixrun -N 2 --hostfile /run/fmx/hosts mpi_allreduce')
rc=$?
if [ $rc -eq 0 ] && grep -q "^user mpi$" <<<"$out" && grep -q "allreduce over 4 ranks: 0 wrong elements" <<<"$out"; then
  log "ok: Open MPI allreduce across the containers as user mpi: $(grep allreduce <<<"$out")"
else
  log "FAIL: Open MPI allreduce across containers exited $rc and printed:"
  sed 's/^/    /' <<<"$out"
  failures=$((failures + 1))
fi
# job_across WHAT LINES REGEX PROGRAM: the program on PER_NODE ranks a container (2) prints
# LINES lines matching REGEX and exits 0
job_across() {
  local what=$1 lines=$2 regex=$3 rc
  out=$(exec_node1 env ${JOB_ENV:-} pmixrun -N "${PER_NODE:-2}" --hostfile /run/fmx/hosts "$4")
  rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -cE -- "$regex" <<<"$out")" = "$lines" ]; then
    log "ok: $what across the containers: $(grep -E -- "$regex" <<<"$out" | head -1)"
  else
    log "FAIL: $what across containers exited $rc and printed:"
    sed 's/^/    /' <<<"$out"
    failures=$((failures + 1))
  fi
}
# (Debian's MPICH is ch4:ucx: in a container that forbids cross-memory attach, UCX's cma
# transport left its ranks' MPI_Finalize disconnecting forever in one container, 3 times in 5,
# while the other's waited in the last PMI barrier until its deadline: the ranks get
# UCX_TLS=^cma there now, as they get FI_SHM_DISABLE_CMA=1.)
# One rank a container: MPICH 4.0.2's MPI_Finalize closes its UCX endpoints before its last PMI
# barrier, and a rank blocked in that barrier no longer progresses what a peer's close waits
# for (MPICH removed the barrier after 4.0.2). With two ranks a host over UCX's tcp it hung in
# 5 runs of 30 under pmixrun and 6 of 30 under mpiexec.hydra on two netns hosts (the ring
# program: 28 of 30); with one rank a host, 0 of 130.
PER_NODE=1 job_across "MPICH allreduce (PMI-1 wire)" 1 "allreduce over 2 ranks: 0 wrong elements" \
  mpich_mpi_allreduce
job_across "a PMI-2 program (Slurm's libpmi2)" 4 "pmi2 rank [0-3] of 4: 4 cards ok" pmi2_client
# the daemons' engine over UCX (the job's FMX_TRANSPORT reaches the serving daemons): the
# containers are different hosts to the paired transport, so UCX's tcp between them
JOB_ENV=FMX_TRANSPORT=ucx job_across "PMIx client over UCX" 4 "PMIx_Finalize successfully completed" \
  pmix_client
JOB_ENV=FMX_TRANSPORT=ucx job_across "Open MPI allreduce over UCX" 1 \
  "allreduce over 4 ranks: 0 wrong elements" mpi_allreduce
if [ $failures -ne 0 ]; then
  log "node logs:"
  "${compose[@]}" logs --tail 20 2>&1 | sed 's/^/    /'
  exit 1
fi
log "all passed"
