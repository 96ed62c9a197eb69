#!/usr/bin/env bash
# Builds N hosts as network namespaces on a bridge, in a /24 of 198.18.0.0/15 that no interface
# or route of this machine uses yet (a cluster left behind by a killed run keeps its subnet, and
# a second bridge on the same subnet would take the first one's replies): host i at .i, the
# bridge (where pmixrun listens) at .254. The bridge lives in a namespace of its own (the
# switch), so that no firewall of this machine filters the hosts' traffic (with br_netfilter a
# bridge in the root namespace passes frames through its iptables FORWARD chain, which a Docker
# daemon sets to DROP); this machine reaches the switch through one more veth pair. Runs a command with FMX_HOSTS (the host names),
# FMX_HOST_ADDRS (their addresses, same order) and FMX_CONTROL_HOST set; removes everything
# afterwards, also when the command fails or the script is interrupted. When the command fails,
# prints the network state that the failure may come from.
#   cluster.sh N COMMAND...      (needs root)
set -u
n=$1
shift
tag=fx$((RANDOM % 900 + 100))
sw=$tag-sw
up=${tag}up
hosts=()
addrs=()

in_host() {
  local h=$1
  shift
  nsenter --net="/run/netns/$h" "$@"
}

# `ip netns add` makes /run/netns a mount point the first time; put it back as it was when no
# namespace is left (a chroot cannot be removed while it stays mounted)
netns_mounted=$(mountpoint -q /run/netns 2>/dev/null && echo 1)

cleanup() {
  for h in "${hosts[@]}"; do
    ip netns pids "$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$h" 2>/dev/null
  done
  ip netns del "$sw" 2>/dev/null
  ip link del "$up" 2>/dev/null
  if [ -z "$netns_mounted" ] && [ -z "$(ip netns list 2>/dev/null)" ]; then
    while mountpoint -q /run/netns 2>/dev/null && umount /run/netns 2>/dev/null; do :; done
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ] || ! ip netns add "$tag-probe" 2>/dev/null; then
  echo "cluster.sh: cannot create network namespaces here (needs root): skipped"
  exit 77
fi
ip netns del "$tag-probe"

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
[ -n "$net" ] || { echo "cluster.sh: no free /24 left in 198.18.0.0/15"; exit 1; }

ip netns add "$sw" || exit 1
in_host "$sw" ip link add name sw0 type bridge || exit 1
in_host "$sw" ip link set sw0 up || exit 1
in_host "$sw" ip link set lo up
ip link add "$up" type veth peer name uplink netns "$sw" || exit 1
in_host "$sw" ip link set uplink master sw0 up || exit 1
ip addr add "$net.254/24" dev "$up"
ip link set "$up" up
for i in $(seq 1 "$n"); do
  h=$tag-h$i
  hosts+=("$h")
  addrs+=("$net.$i")
  ip netns add "$h" || exit 1
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
