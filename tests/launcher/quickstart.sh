#!/usr/bin/env bash
# libfabric's quick start in pmixd (transports/standin.c): where no PSM device exists pmixd loads
# the PSM stand-ins and keeps libfabric off /proc/kallsyms; the ranks see neither (their own
# libfabric loads the real libraries, their environment has none of pmixd's settings); it is
# skipped where PSM hardware shows, and with FMX_OFI_QUICK_START=0; a stand-in that libfabric
# cannot load against costs a warning, not the job.
#   quickstart.sh PMIXRUN PMIXD
set -u
pmixrun=$1 pmixd=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
export FI_PROVIDER=tcp FI_TCP_IFACE=lo
loaded='PSM stand-in libraries loaded'

fail() {
  echo "FAIL: $1; output:"
  sed 's/^/    /' "$tmp/out" | head -30
  failures=$((failures + 1))
}
# a two-daemon job whose ranks report where their own libfabric found libpsm2, and whether
# pmixd's libfabric settings reached them
job() { # job PMIXRUN|"" [COMMAND-PREFIX...]
  local run=${1:-$pmixrun}
  shift
  timeout -s KILL 60 env FMX_DEBUG=3 "$@" "$run" --vnodes 2 -n 2 sh -c \
    'LD_DEBUG=libs fi_info -l 2>&1 | sed -n "s/.*trying file=\(.*libpsm2.so.2\)$/psm2 \1/p" | head -1
     env | grep -c "^FI_OFI_RXM_BUFFER_SIZE=" | sed "s/^/rxm-setting /"' >"$tmp/out" 2>&1
}
ranks_clean() { # both ranks loaded the real libpsm2 and saw no setting of pmixd's
  [ "$(grep -c '^psm2 ' "$tmp/out")" = 2 ] && ! grep '^psm2 ' "$tmp/out" | grep -q standin &&
    [ "$(grep -c '^rxm-setting 0$' "$tmp/out")" = 2 ]
}

job ""
if [ $? -eq 0 ] && [ "$(grep -c "$loaded" "$tmp/out")" = 2 ] && ranks_clean; then
  echo "ok: both daemons load the stand-ins; their ranks load the real libraries"
else
  fail "quick start in the daemons only"
fi

# pmixd's libfabric does not read /proc/kallsyms; with the quick start off, it does
kallsyms_opened() { # kallsyms_opened [ENV...]: how many times pmixd opened /proc/kallsyms
  rm -f "$tmp"/trace.*
  cat >"$tmp/agent" <<AGENT
#!/bin/sh
shift
exec strace -f -qq -e trace=openat -o "$tmp/trace" -ff sh -c "\$*"
AGENT
  chmod +x "$tmp/agent"
  # LeakSanitizer cannot run under ptrace (the sanitizer build): no leak check in traced pmixds
  # (the agent's hosts are this one: pmixrun's own name may not resolve, 127.0.0.1 does)
  timeout -s KILL 60 env ${ASAN_OPTIONS+ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"} \
    FMX_CONTROL_HOST=127.0.0.1 "$@" "$pmixrun" --launch-agent "$tmp/agent" --host fmx-qs-a,fmx-qs-b -n 2 true \
    >"$tmp/out" 2>&1 || return 1
  cat "$tmp"/trace.* | grep '"/proc/kallsyms"' | grep -vc ENOENT
}
if ! command -v strace >/dev/null; then
  echo "skip: no strace to watch pmixd's opens"
else
  off=$(kallsyms_opened FMX_OFI_QUICK_START=0)
  on=$(kallsyms_opened)
  if [ "${off:-0}" -gt 0 ] && [ "$on" = 0 ]; then
    echo "ok: /proc/kallsyms opened $off times without the quick start, never with it"
  else
    fail "kallsyms opened ${on:-?} times with the quick start, ${off:-?} without"
  fi
fi

job "" FMX_OFI_QUICK_START=0
if [ $? -eq 0 ] && ! grep -q "$loaded" "$tmp/out" && ranks_clean; then
  echo "ok: FMX_OFI_QUICK_START=0 loads no stand-in"
else
  fail "FMX_OFI_QUICK_START=0"
fi

# PSM hardware as libfabric and the libraries look for it: an hfi1 device in sysfs, shown in a
# mount namespace of the test's own (nothing of the host's changes)
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  cat >"$tmp/psm-host" <<EOF
mount --make-rprivate / && mount -t tmpfs fmx-test /sys/class &&
  mkdir -p /sys/class/infiniband/hfi1_0 && exec "\$@"
EOF
  job "" unshare -m sh "$tmp/psm-host" env
  if [ $? -eq 0 ] && ! grep -q "$loaded" "$tmp/out" && ranks_clean; then
    echo "ok: no stand-in where an Omni-Path device shows"
  else
    fail "an Omni-Path device shows"
  fi
else
  echo "skip: no mount namespace to show an Omni-Path device in"
fi

# A stand-in libfabric does not load against: an installation of the test's own whose libpsm2
# stand-in exports nothing
mkdir -p "$tmp/inst/standin"
cp "$pmixrun" "$pmixd" "$(dirname "$pmixd")/fmx-ofi.so" "$tmp/inst/"
cp "$(dirname "$pmixd")"/standin/* "$tmp/inst/standin/"
echo 'int fmx_nothing(void) { return 0; }' >"$tmp/empty.c"
if gcc -shared -fPIC -o "$tmp/inst/standin/libpsm2.so.2" -Wl,-soname,libpsm2.so.2 "$tmp/empty.c"; then
  job "$tmp/inst/pmixrun"
  if [ $? -eq 0 ] && grep -q "did not load with PSM stand-ins" "$tmp/out" && ranks_clean; then
    echo "ok: a stand-in that does not fit: a warning, then libfabric without stand-ins"
  else
    fail "a stand-in that does not fit"
  fi
else
  echo "FAIL: cannot build the empty stand-in"
  failures=$((failures + 1))
fi

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all quick-start checks passed"
