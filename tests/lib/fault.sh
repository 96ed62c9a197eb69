#!/usr/bin/env bash
# fault.sh COMMAND...: runs COMMAND (a pmixrun) in the background, waits until NRANKS lines of
# its output file $OUT match $MARK (up to WAIT s, 30; no MARK: just WAIT s), then does ACTION:
#   int          SIGINT to pmixrun, as Ctrl-C
#   kill-node1   SIGKILL to the pmixd of virtual node 1 (a child of pmixrun on this host)
#   kill-host    SIGKILL to the pmixd in network namespace $HOST
#   none         nothing
# then waits for COMMAND, says how long that took, and exits with its status.
"$@" &
run=$!
for _ in $(seq $((10 * ${WAIT:-30}))); do
  [ -n "${MARK:-}" ] && [ "$(grep -c "$MARK" "$OUT")" -ge "$NRANKS" ] && break
  sleep 0.1
done
case $ACTION in
int) kill -INT $run ;;
kill-node1) kill -9 $(pgrep -P $run -f -- '--node 1$') ;;
kill-host)
  kill -9 $(ip netns pids "$HOST" | xargs -r ps -o pid=,comm= -p | awk '$2 == "pmixd" { print $1 }')
  ;;
esac
start=$(date +%s%N)
wait $run
rc=$?
echo "fault.sh: $ACTION; pmixrun returned $((($(date +%s%N) - start) / 1000000)) ms later"
exit $rc
