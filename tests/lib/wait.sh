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
