# Sourced by test scripts: waits with a bound, no guessed sleeps.
#   wait_for SECONDS CONDITION   polls CONDITION (a shell command) every 0.1 s; 0 once it holds,
#                                1 when SECONDS pass first
#   reap_within SECONDS PID      waits for PID (a child of this shell) and returns its status;
#                                after SECONDS it is killed (SIGKILL), and the status says so
wait_for() {
  local until=$((SECONDS + $1))
  while [ $SECONDS -lt $until ]; do
    bash -c "$2" && return 0
    sleep 0.1
  done
  return 1
}

reap_within() {
  local until=$((SECONDS + $1))
  while [ $SECONDS -lt $until ] && kill -0 "$2" 2>/dev/null; do sleep 0.1; done
  kill -9 "$2" 2>/dev/null
  wait "$2"
}

# guard_after_exit COMMAND...: runs COMMAND once this script's process is gone, however it ended
# (SIGKILL by ctest's timeout included), from a process of its own session whose parent exits at
# once, so that a kill of this script's process tree does not reach it. COMMAND must do nothing
# when the script already cleaned up.
guard_after_exit() {
  (setsid bash -c 'while kill -0 "$0" 2>/dev/null; do sleep 0.5; done; exec "$@"' $$ "$@" \
    </dev/null >/dev/null 2>&1 &)
}
