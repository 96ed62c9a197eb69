#!/bin/sh
# A pmixrun launch agent for network-namespace hosts: `agent.sh HOST COMMAND...` runs COMMAND
# inside the network namespace named HOST, with its own host name (a UTS namespace), as ssh
# would run it on a host of that name: the words of COMMAND are joined and the line is parsed
# again by a shell there (Open MPI's mpirun passes quoted words), and ssh's own options before
# HOST are skipped (MPICH's hydra passes -x). HOST may also be a host's address (from
# FMX_HOST_ADDRS, in the order of FMX_HOSTS). nsenter enters only the network namespace
# (`ip netns exec` also makes / a slave mount, which fails where / is not a mount point, as
# in a chroot). stdin passes through (pmixd reads the job secret from it).
while :; do
  case $1 in
  -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
  -*) shift ;;
  *) break ;;
  esac
done
host=$1
shift
i=0
for a in $FMX_HOST_ADDRS; do
  i=$((i + 1))
  [ "$a" = "$host" ] && host=$(echo "$FMX_HOSTS" | cut -d' ' -f$i)
done
[ -e "/run/netns/$host" ] || { echo "agent.sh: no host $host" >&2; exit 255; }
# Where a mount namespace can be made (/ is a mount point), the host also gets a sysfs of its
# own, so that /sys/class/net lists its interfaces as on a real host (UCX finds its network
# devices there); mounted privately, gone with the last process of the namespace.
mnt=
unshare --mount true 2>/dev/null && mnt=--mount
# bash -c runs a lone simple command in place, so no shell stays between the agent and it
exec nsenter --net="/run/netns/$host" unshare --uts $mnt sh -c \
  '{ [ -z "$2" ] || mount -t sysfs fmx-sysfs /sys; } && hostname "$0" && exec bash -c "$1"' \
  "$host" "$*" "$mnt"
