#!/usr/bin/env bash
# pmixrun's options doing what mpirun users expect, each checked on what the ranks see.
#   features.sh PMIXRUN
set -u
pmixrun=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # check NAME CONDITION: CONDITION is evaluated over the output in $OUT
  if OUT=$tmp/out bash -c "$2"; then
    echo "ok: $1"
  else
    echo "FAIL: $1; output:"
    sed 's/^/    /' "$tmp/out" | head -20
    failures=$((failures + 1))
  fi
}
run() { timeout 60 "$pmixrun" "$@" >"$tmp/out" 2>&1; }

run -n 2 -x FMX_T1=hello -x HOME sh -c 'echo "$FMX_RANK $FMX_T1 $HOME"'
check "-x NAME=VALUE and -x NAME reach every rank" \
  "[ \"\$(sort \"\$OUT\")\" = \"$(printf '0 hello %s\n1 hello %s' "$HOME" "$HOME")\" ]"
mkdir "$tmp/work"
run -n 1 --wdir "$tmp/work" pwd
check "--wdir sets the ranks' working directory" "[ \"\$(cat \"\$OUT\")\" = \"$tmp/work\" ]"
run -n 2 --tag-output sh -c 'printf "line one\nline two\n"; echo oops >&2'
check "--tag-output prefixes every line with job and rank" \
  "[ \$(grep -cE '^\[fmx\.[0-9]+\.0,[01]\]<stdout>: line (one|two)$' \"\$OUT\") -eq 4 ] &&
   [ \$(grep -cE '^\[fmx\.[0-9]+\.0,[01]\]<stderr>: oops$' \"\$OUT\") -eq 2 ]"
run -n 2 --bind-to core sh -c 'echo "$FMX_RANK $(sed -n "s/^Cpus_allowed_list:\t//p" /proc/self/status)"'
cp "$tmp/out" "$tmp/bound"
run -n 2 --bind-to none sh -c 'echo "$FMX_RANK $(sed -n "s/^Cpus_allowed_list:\t//p" /proc/self/status)"'
cp "$tmp/out" "$tmp/free"
all=$(sed -n 's/^Cpus_allowed_list:\t//p' /proc/self/status)
check "--bind-to core gives the two ranks different cores, none leaves them all CPUs ($all)" \
  "b0=\$(awk '\$1==0{print \$2}' $tmp/bound); b1=\$(awk '\$1==1{print \$2}' $tmp/bound);
   [ -n \"\$b0\" ] && [ -n \"\$b1\" ] && [ \"\$b0\" != \"\$b1\" ] && [ \"\$b0\" != '$all' ] &&
   [ \"\$(awk '{print \$2}' $tmp/free | sort -u)\" = '$all' ]"
run --version
check "--version names the program" "grep -qE '^pmixrun \(fmx\) [0-9]+\.[0-9]+' \"\$OUT\""
run --bind-to socket -n 1 true
check "--bind-to with an unknown unit is refused by name" "grep -q -- '--bind-to socket: expected core or none' \"\$OUT\""

# pmixd's own libfabric defaults stay its own; a user's setting of the same reaches the ranks
run -n 4 --oversubscribe --vnodes 2 sh -c 'echo "rank $FMX_RANK: ${FI_OFI_RXM_MSG_RX_SIZE:-unset}"'
check "the daemons' own FI_OFI_RXM_MSG_RX_SIZE does not reach the ranks" \
  "[ \$(grep -c ': unset\$' \"\$OUT\") -eq 4 ]"
FI_OFI_RXM_MSG_RX_SIZE=77 run -n 4 --oversubscribe --vnodes 2 \
  sh -c 'echo "rank $FMX_RANK: ${FI_OFI_RXM_MSG_RX_SIZE:-unset}"'
check "the user's FI_OFI_RXM_MSG_RX_SIZE does" "[ \$(grep -c ': 77\$' \"\$OUT\") -eq 4 ]"
[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
