#!/usr/bin/env bash
# Builds N hosts as network namespaces on a bridge, in a /24 of 198.18.0.0/15 that no interface
# or route of this machine uses yet (a cluster left behind keeps its subnet, and a second bridge
# on the same subnet would take the first one's replies): host i at .i, the bridge (where pmixrun
# listens) at .254. The bridge lives in a namespace of its own (the switch), so that no firewall
# of this machine filters the hosts' traffic (with br_netfilter a bridge in the root namespace
# passes frames through its iptables FORWARD chain, which a Docker daemon sets to DROP); this
# machine reaches the switch through one more veth pair. Runs a command with FMX_HOSTS (the host
# names), FMX_HOST_ADDRS (their addresses, same order) and FMX_CONTROL_HOST set. When the command
# fails, prints the network state that the failure may come from.
#
# Everything it makes is written down in /run/fmx-netns/TAG as it is made (TAG random, 32 bits),
# and only that is removed: when the command ends; by a guard process that outlives this script
# if it is killed (SIGKILL by ctest's timeout included); and, failing both, by the next run,
# which sweeps the records of runs whose owner is gone.
#   cluster.sh N COMMAND...      (needs root)
#   cluster.sh --cleanup TAG     (removes what the record of TAG lists)
set -u
records=/run/fmx-netns
source "$(dirname "$0")/../lib/wait.sh"

in_host() {
  local h=$1
  shift
  nsenter --net="/run/netns/$h" "$@"
}

# cleanup_tag TAG: removes what the record lists, newest first, then the record; unmounts
# /run/netns when that run made it a mount point and no namespace is left
cleanup_tag() {
  local rec=$records/$1 kind name mounted=
  [ -f "$rec" ] || return 0
  while read -r kind name; do
    case $kind in
    netns)
      ip netns pids "$name" 2>/dev/null | xargs -r kill -9 2>/dev/null
      ip netns del "$name" 2>/dev/null
      ;;
    link) ip link del "$name" 2>/dev/null ;;
    mounted) mounted=1 ;;
    esac
  done < <(tac "$rec")
  if [ -n "$mounted" ] && [ -z "$(ip netns list 2>/dev/null)" ]; then
    while mountpoint -q /run/netns 2>/dev/null && umount /run/netns 2>/dev/null; do :; done
  fi
  rm -f "$rec"
  rmdir "$records" 2>/dev/null
  return 0
}

case ${1:-} in
--cleanup)
  cleanup_tag "$2"
  exit 0
  ;;
esac

n=$1
shift
if [ "$(id -u)" != 0 ]; then
  echo "cluster.sh: needs root to create network namespaces: skipped"
  exit 77
fi

# records of earlier runs whose owner is gone (their guard was killed too)
for rec in "$records"/*; do
  [ -f "$rec" ] || continue
  owner=$(sed -n 's/^owner //p' "$rec")
  if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then
    echo "cluster.sh: removing what an earlier run left ($(basename "$rec"))"
    cleanup_tag "$(basename "$rec")"
  fi
done

fail() {
  echo "cluster.sh: $*" >&2
  exit 1
}
tag=fx$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
sw=$tag-sw
up=${tag}up # 12 characters: within an interface name's 15
rec=$records/$tag
mkdir -p "$records"
echo "owner $$" >"$rec"
made() { echo "$1 $2" >>"$rec"; }
# new_netns NAME: a namespace of this run's own (one of that name already there is not ours)
new_netns() {
  [ ! -e "/run/netns/$1" ] || fail "network namespace $1 exists already"
  made netns "$1"
  ip netns add "$1" || fail "cannot create network namespace $1 (as root)"
}
mountpoint -q /run/netns 2>/dev/null || made mounted /run/netns
trap 'cleanup_tag "$tag"' EXIT
trap 'exit 130' INT TERM
guard_after_exit bash "$0" --cleanup "$tag"

hosts=()
addrs=()

# A free /24: neither an address nor a route of this machine falls in it.
used=$(ip -4 -o addr show; ip -4 route show table all)
net=
for k in $(shuf -i 0-511); do
  cand=198.$((18 + k / 256)).$((k % 256))
  if ! grep -qF " $cand." <<<" ${used//$'\n'/ }"; then
    net=$cand
    break
  fi
done
[ -n "$net" ] || fail "no free /24 left in 198.18.0.0/15"

new_netns "$sw"
in_host "$sw" ip link add name sw0 type bridge || fail "cannot create a bridge in $sw"
in_host "$sw" ip link set sw0 up || exit 1
in_host "$sw" ip link set lo up
! ip link show "$up" >/dev/null 2>&1 || fail "interface $up exists already"
made link "$up"
ip link add "$up" type veth peer name uplink netns "$sw" || fail "cannot create veth $up"
in_host "$sw" ip link set uplink master sw0 up || exit 1
ip addr add "$net.254/24" dev "$up"
ip link set "$up" up
for i in $(seq 1 "$n"); do
  h=$tag-h$i
  hosts+=("$h")
  addrs+=("$net.$i")
  new_netns "$h"
  # nsenter, not `ip -n`: that also makes a mount namespace, impossible where / is no mount point
  in_host "$h" ip link add fmx0 type veth peer name "port$i" netns "$sw" || exit 1
  in_host "$sw" ip link set "port$i" master sw0 up || exit 1
  in_host "$h" ip addr add "$net.$i/24" dev fmx0 || exit 1
  in_host "$h" ip link set fmx0 up || exit 1
  in_host "$h" ip link set lo up || exit 1
done
echo "cluster.sh: ${hosts[*]} on $net.0/24, switch $sw, this machine at $net.254 ($up)"
export FMX_HOSTS="${hosts[*]}" FMX_HOST_ADDRS="${addrs[*]}" FMX_CONTROL_HOST=$net.254
"$@"
rc=$?
if [ $rc -ne 0 ]; then
  echo "cluster.sh: the command failed ($rc); the network at that point:"
  ip -br addr | sed 's/^/    /'
  ip -4 route show table all | grep -v '^local\|^broadcast' | sed 's/^/    /'
  in_host "${hosts[0]}" ip -br addr | sed "s/^/    ${hosts[0]}: /"
fi
exit $rc
