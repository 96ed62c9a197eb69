#!/bin/sh
# A pmixrun launch agent for network-namespace hosts: `agent.sh HOST COMMAND...` runs COMMAND
# inside the namespace named HOST, with its own host name (a UTS namespace), as ssh would run
# it on a host of that name. stdin passes through (pmixd reads the job secret from it).
host=$1
shift
exec ip netns exec "$host" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" "$@"
