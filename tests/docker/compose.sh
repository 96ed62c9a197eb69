#!/usr/bin/env bash
# The Docker Compose cluster of docker/, for real: a Docker daemon of this test's own (its own
# socket, data and addresses in 198.18.0.0/15: --bip 198.18.255.1/24, pools from 198.19.0.0/16),
# debian:bookworm made locally with debootstrap when absent, the fmx image built, two nodes up,
# and the README's two jobs run as the unprivileged user; then everything is torn down and the
# daemon stopped, also when a step fails.
#   compose.sh REPO     (needs root; installs docker.io, docker-compose, debootstrap if missing)
set -u
repo=$(cd "$1" && pwd)
state=/var/lib/fmx-docker # images survive between runs: the base image is built once
run=/run/fmx-docker
sock=$run/docker.sock
export DOCKER_HOST=unix://$sock
project=fmxtest$$
compose=(docker-compose -p "$project" -f "$repo/docker/docker-compose.yml")
dockerd_pid=
log() { echo "compose.sh: $*"; }

cleanup() {
  if [ -n "$dockerd_pid" ]; then
    "${compose[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dockerd_pid" 2>/dev/null
    pkill -f "containerd.*$run" 2>/dev/null
  fi
  ip link del fmxdocker0 2>/dev/null
  # the daemon rewrote the firewall (NAT, FORWARD policy DROP): put back what was there
  [ -s "$run/iptables.before" ] && iptables-restore <"$run/iptables.before"
  [ -s "$run/ip6tables.before" ] && ip6tables-restore <"$run/ip6tables.before" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
  log "needs root to run its own Docker daemon: skipped"
  exit 77
fi
need=()
for p in docker.io docker-compose debootstrap iptables; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null || { log "cannot install ${need[*]}"; exit 1; }
fi

# Our own daemon on our own bridge; nothing of another Docker installation is touched, and the
# firewall rules it adds are taken out again afterwards.
mkdir -p "$state" "$run"
iptables-save >"$run/iptables.before" 2>/dev/null || rm -f "$run/iptables.before"
ip6tables-save >"$run/ip6tables.before" 2>/dev/null || rm -f "$run/ip6tables.before"
ip link add fmxdocker0 type bridge 2>/dev/null
ip addr add 198.18.255.1/24 dev fmxdocker0 2>/dev/null
ip link set fmxdocker0 up
/usr/sbin/dockerd --data-root "$state" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
  -H "$DOCKER_HOST" --bridge fmxdocker0 --default-address-pool base=198.19.0.0/16,size=24 \
  --containerd-namespace fmx --containerd-plugins-namespace fmx-plugins \
  >"$run/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 300); do
  docker info >/dev/null 2>&1 && break
  kill -0 $dockerd_pid 2>/dev/null || break
  sleep 0.1
done
if ! docker info >/dev/null 2>&1; then
  log "the Docker daemon did not start here (in a chroot or without cgroups it cannot): skipped"
  tail -5 "$run/dockerd.log" | sed 's/^/    /'
  exit 77
fi
log "dockerd $(docker version -f '{{.Server.Version}}') on $sock"
# A daemon can start where it cannot work (inside a chroot it cannot remount an image's root):
# an empty image must import, else this machine cannot run the test.
if ! probe=$(tar -c -f - -T /dev/null | docker import - fmx-probe:empty 2>&1); then
  log "this Docker daemon cannot store an image here ($probe): skipped"
  exit 77
fi
docker rmi fmx-probe:empty >/dev/null 2>&1

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
# the nodes add themselves to the hostfile when pmixd is serving
for _ in $(seq 100); do
  [ "$("${compose[@]}" exec -T node-1 sh -c 'grep -c . /run/fmx/hosts' 2>/dev/null | tr -d '\r')" = 2 ] && break
  sleep 0.2
done
exec_node1() { timeout 120 "${compose[@]}" exec -T node-1 "$@" 2>&1 | tr -d '\r'; }

out=$(exec_node1 pmixrun -N 2 --hostfile /run/fmx/hosts hostname)
if [ "$(sort <<<"$out" | tr '\n' ' ')" = "node-1 node-1 node-2 node-2 " ]; then
  log "ok: pmixrun -N 2 --hostfile /run/fmx/hosts hostname: $(tr '\n' ' ' <<<"$out")"
else
  log "FAIL: -N 2 hostname printed:"
  sed 's/^/    /' <<<"$out"
  failures=$((failures + 1))
fi
out=$(exec_node1 sh -c 'echo "user $(id -un)"; pmixrun -N 2 --hostfile /run/fmx/hosts mpi_allreduce')
if grep -q "^user mpi$" <<<"$out" && grep -q "allreduce over 4 ranks: 0 wrong elements" <<<"$out"; then
  log "ok: Open MPI allreduce across the containers as user mpi: $(grep allreduce <<<"$out")"
else
  log "FAIL: Open MPI allreduce across containers printed:"
  sed 's/^/    /' <<<"$out"
  failures=$((failures + 1))
fi
if [ $failures -ne 0 ]; then
  log "node logs:"
  "${compose[@]}" logs --tail 20 2>&1 | sed 's/^/    /'
  exit 1
fi
log "all passed"
