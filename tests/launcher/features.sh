#!/usr/bin/env bash
# pmixrun's options doing what mpirun users expect, each checked on what the ranks see and on
# pmixrun's exit status.
#   features.sh PMIXRUN
set -u
pmixrun=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
RC=0
# check NAME STATUS CONDITION: the last run() exited with STATUS and CONDITION, evaluated over
# its output in $OUT, holds
check() {
  if [ "$RC" -eq "$2" ] && OUT=$tmp/out bash -c "$3"; then
    echo "ok: $1"
  else
    echo "FAIL: $1 (exit $RC, want $2); output:"
    sed 's/^/    /' "$tmp/out" | head -20
    failures=$((failures + 1))
  fi
}
run() { # each run well within ctest's limit for the test (9 runs x 20 s < 300 s)
  timeout -s KILL 20 "$pmixrun" "$@" >"$tmp/out" 2>&1
  RC=$?
}

# (names without the FI_/FMX_ prefixes, which pmixrun hands to every daemon as its settings)
run -n 2 -x XT1=hello sh -c 'echo "$FMX_RANK $XT1"'
check "-x NAME=VALUE reaches every rank" 0 "[ \"\$(sort \"\$OUT\")\" = \"$(printf '0 hello\n1 hello')\" ]"
# A local daemon inherits pmixrun's whole environment, which would hide a broken -x NAME: this
# launch agent, like ssh to another host, starts pmixd with an empty environment (but for the
# sanitizers' settings of the ASan stage, which belong to the test run, not to the job).
cat >"$tmp/clean-agent" <<'AGENT'
#!/bin/sh
shift
exec env -i PATH="$PATH" ${ASAN_OPTIONS+"ASAN_OPTIONS=$ASAN_OPTIONS"} \
  ${LSAN_OPTIONS+"LSAN_OPTIONS=$LSAN_OPTIONS"} ${UBSAN_OPTIONS+"UBSAN_OPTIONS=$UBSAN_OPTIONS"} \
  sh -c "$*"
AGENT
chmod +x "$tmp/clean-agent"
XT2=not-exported XT3=exported FMX_CONTROL_HOST=127.0.0.1 \
  run --launch-agent "$tmp/clean-agent" --host fmx-clean-host:2 -n 2 -x XT1=hello -x XT3 \
  -x HOME sh -c 'echo "$FMX_RANK ${XT1:-unset} ${XT2:-unset} ${XT3:-unset} ${HOME:-unset}"'
check "-x NAME takes the value from pmixrun's environment to a daemon that has none; others stay" 0 \
  "[ \"\$(sort \"\$OUT\")\" = \"$(printf '0 hello unset exported %s\n1 hello unset exported %s' "$HOME" "$HOME")\" ]"
mkdir "$tmp/work"
run -n 1 --wdir "$tmp/work" pwd
check "--wdir sets the ranks' working directory" 0 "[ \"\$(cat \"\$OUT\")\" = \"$tmp/work\" ]"
run -n 2 --tag-output sh -c 'printf "line one\nline two\n"; echo oops >&2'
check "--tag-output prefixes every line with job and rank" 0 \
  "[ \$(grep -cE '^\[fmx\.[0-9]+\.0,[01]\]<stdout>: line (one|two)$' \"\$OUT\") -eq 4 ] &&
   [ \$(grep -cE '^\[fmx\.[0-9]+\.0,[01]\]<stderr>: oops$' \"\$OUT\") -eq 2 ]"
run -n 2 --bind-to core sh -c 'echo "$FMX_RANK $(sed -n "s/^Cpus_allowed_list:\t//p" /proc/self/status)"'
cp "$tmp/out" "$tmp/bound"
bound_rc=$RC
run -n 2 --bind-to none sh -c 'echo "$FMX_RANK $(sed -n "s/^Cpus_allowed_list:\t//p" /proc/self/status)"'
cp "$tmp/out" "$tmp/free"
RC=$((RC | bound_rc))
all=$(sed -n 's/^Cpus_allowed_list:\t//p' /proc/self/status)
check "--bind-to core gives the two ranks different cores, none leaves them all CPUs ($all)" 0 \
  "b0=\$(awk '\$1==0{print \$2}' $tmp/bound); b1=\$(awk '\$1==1{print \$2}' $tmp/bound);
   [ -n \"\$b0\" ] && [ -n \"\$b1\" ] && [ \"\$b0\" != \"\$b1\" ] && [ \"\$b0\" != '$all' ] &&
   [ \"\$(awk '{print \$2}' $tmp/free | sort -u)\" = '$all' ]"
run --version
check "--version names the program" 0 "grep -qE '^pmixrun \(fmx\) [0-9]+\.[0-9]+' \"\$OUT\""
run --bind-to socket -n 1 true
check "--bind-to with an unknown unit is refused by name" 1 "grep -q -- '--bind-to socket: expected core or none' \"\$OUT\""

# pmixd's own libfabric defaults stay its own; a user's setting of the same reaches the ranks
run -n 4 --oversubscribe --vnodes 2 sh -c 'echo "rank $FMX_RANK: ${FI_OFI_RXM_MSG_RX_SIZE:-unset}"'
check "the daemons' own FI_OFI_RXM_MSG_RX_SIZE does not reach the ranks" 0 \
  "[ \$(grep -c ': unset\$' \"\$OUT\") -eq 4 ]"
FI_OFI_RXM_MSG_RX_SIZE=77 run -n 4 --oversubscribe --vnodes 2 \
  sh -c 'echo "rank $FMX_RANK: ${FI_OFI_RXM_MSG_RX_SIZE:-unset}"'
check "the user's FI_OFI_RXM_MSG_RX_SIZE does" 0 "[ \$(grep -c ': 77\$' \"\$OUT\") -eq 4 ]"
[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
