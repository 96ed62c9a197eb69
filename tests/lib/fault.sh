#!/usr/bin/env bash
# fault.sh COMMAND...: runs COMMAND (a pmixrun) in the background, waits until NRANKS lines of
# its output file $OUT match $MARK (up to WAIT s, 30; no MARK: just WAIT s), then does ACTION:
#   int          SIGINT to pmixrun, as Ctrl-C
#   kill-node1   SIGKILL to the pmixd of virtual node 1 (a child of pmixrun on this host)
#   kill-host    SIGKILL to the pmixd in network namespace $HOST
#   stop-node1   SIGSTOP to the pmixd of virtual node 1: it hangs
#   stop-host    SIGSTOP to the pmixd in network namespace $HOST (SIGCONT once COMMAND ended:
#                a daemon that wakes up to find its job gone ends itself and its ranks)
#   down-host    the link of network namespace $HOST ($DEV there) goes down; up again at the end
#   none         nothing
# then waits for COMMAND, says how long that took, and exits with its status.
"$@" &
run=$!
for _ in $(seq $((10 * ${WAIT:-30}))); do
  [ -n "${MARK:-}" ] && [ "$(grep -c "$MARK" "$OUT")" -ge "$NRANKS" ] && break
  sleep 0.1
done
host_pmixd() { ip netns pids "$HOST" | xargs -r ps -o pid=,comm= -p | awk '$2 == "pmixd" { print $1 }'; }
stopped=""
case $ACTION in
int) kill -INT $run ;;
kill-node1) kill -9 $(pgrep -P $run -f -- '--node 1$') ;;
kill-host) kill -9 $(host_pmixd) ;;
stop-node1) kill -STOP $(pgrep -P $run -f -- '--node 1$') ;;
stop-host)
  stopped=$(host_pmixd)
  kill -STOP $stopped
  ;;
down-host) # nsenter, not `ip -n`: that one remounts / and fails where / is not shared
  nsenter --net="/run/netns/$HOST" ip link set "$DEV" down || echo "fault.sh: cannot take $DEV down in $HOST" ;;
esac
start=$(date +%s%N)
wait $run
rc=$?
[ -n "$stopped" ] && kill -CONT $stopped 2>/dev/null
[ "$ACTION" = down-host ] && nsenter --net="/run/netns/$HOST" ip link set "$DEV" up
echo "fault.sh: $ACTION; pmixrun returned $((($(date +%s%N) - start) / 1000000)) ms later"
exit $rc
