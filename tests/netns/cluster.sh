#!/usr/bin/env bash
# Builds N hosts as network namespaces on a bridge, addresses 198.18.0.1..N/24, the bridge
# (where pmixrun listens) at 198.18.0.254; runs a command with FMX_HOSTS set to their names;
# removes everything afterwards, also when the command fails or the script is interrupted.
#   cluster.sh N COMMAND...      (needs root)
set -u
n=$1
shift
tag=fx$((RANDOM % 900 + 100))
br=${tag}br
hosts=()

cleanup() {
  for h in "${hosts[@]}"; do
    ip netns pids "$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$h" 2>/dev/null
  done
  ip link del "$br" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ] || ! ip netns add "$tag-probe" 2>/dev/null; then
  echo "cluster.sh: cannot create network namespaces here (needs root): skipped"
  exit 77
fi
ip netns del "$tag-probe"
ip link add "$br" type bridge || exit 1
ip addr add 198.18.0.254/24 dev "$br"
ip link set "$br" up
for i in $(seq 1 "$n"); do
  h=$tag-h$i
  hosts+=("$h")
  ip netns add "$h" || exit 1
  ip link add "${tag}v$i" type veth peer name fmx0 netns "$h" || exit 1
  ip link set "${tag}v$i" master "$br" up
  ip -n "$h" addr add "198.18.0.$i/24" dev fmx0
  ip -n "$h" link set fmx0 up
  ip -n "$h" link set lo up
done
export FMX_HOSTS="${hosts[*]}" FMX_CONTROL_HOST=198.18.0.254
"$@"
