#!/usr/bin/env bash
# The store ranks read the job's data from (FMX_GDS): the project's own component by default
# (libpmix's own verbose lines name the module that serves each Get), and the other modes the
# same programs must pass in: hash, ds21, the component missing beside pmixd (hash, said in a
# debug line), ranks whose libpmix cannot load it (they read through hash), a bad name (one
# line, exit 1). Each mode runs OpenPMIx's client example (4 ranks on 2 virtual nodes, output
# checked rank by rank) and, when given, an Open MPI allreduce (8 ranks on 2 nodes). PEERS
# (tests/pmix/peers.c): every rank's view of every rank's keys of the job, the same under fmx
# as under hash.
#   gds_modes.sh PMIXRUN PMIXD CLIENT PEERS [MPI_ALLREDUCE]
set -u
pmixrun=$1 pmixd=$2 client=$3 peers=$4 mpi=${5:-}
check_example=$(dirname "$0")/check_example.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export FI_PROVIDER=tcp FI_TCP_IFACE=lo OMPI_MCA_btl_tcp_if_include=lo
failures=0
fail() {
  echo "FAIL: $1"
  sed 's/^/    /' "$tmp/out" | grep -v "GDS " | head -15
  failures=$((failures + 1))
}
# mode NAME PMIXRUN [ENV...] [-- PMIXRUN-ARGS]: both programs pass
mode() {
  local name=$1 run=$2 why
  shift 2
  local envs=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift && args=("$@")
  env "${envs[@]}" timeout -s KILL 60 "$run" --oversubscribe -n 4 --vnodes 2 "${args[@]}" \
    "$client" >"$tmp/out" 2>&1
  if ! why=$("$check_example" client 4 "$tmp/out"); then
    fail "$name: the client example: $why"
    return 1
  fi
  if [ -n "$mpi" ]; then
    env "${envs[@]}" timeout -s KILL 60 "$run" --oversubscribe -n 8 --vnodes 2 "${args[@]}" \
      "$mpi" >"$tmp/out" 2>&1
    grep -q ' 0 wrong elements' "$tmp/out" || { fail "$name: Open MPI allreduce"; return 1; }
  fi
  echo "ok: $name"
}

# the default: the component, in the server and in every rank; a Get of another rank's key
# is answered by it in the rank (libpmix's verbose lines: "GDS FETCH KV WITH fmx"), and each
# rank's PMIx_Init brings its own keys of the job only, not every rank's (the others' are in
# the store: hash's lines "[NSPACE,R] pmix:gds:hash store proc info for rank N" name R = N only)
env PMIX_MCA_gds_base_verbose=2 timeout -s KILL 60 "$pmixrun" --oversubscribe -n 4 --vnodes 2 \
  "$client" >"$tmp/out" 2>&1
served=$(grep -c "GDS FETCH KV WITH fmx" "$tmp/out")
read -r own others < <(sed -n 's/.*,\([0-9]*\)\] pmix:gds:hash store proc info for rank \([0-9]*\) .*/\1 \2/p' \
  "$tmp/out" | awk '{ n++ } $1 != $2 { o++ } END { print n + 0, o + 0 }')
if why=$("$check_example" client 4 "$tmp/out") && [ "$served" -gt 0 ] && [ "$own" -gt 0 ] &&
  [ "$others" -eq 0 ]; then
  echo "ok: fmx by default ($served Gets went to its module; ranks were given $own keys of their own, none of another rank)"
else
  fail "fmx by default: ${why:-$served Gets to its module, $own own keys given, $others keys of other ranks}"
fi
# every rank's local rank, node rank, node id, app and host, as each rank sees them: from the
# store (fmx) and from each rank's own copy (hash), 6 ranks on 3 virtual nodes. Every
# observer sees the same table, and on each host the local ranks are 0 .. k-1.
table() {
  FMX_GDS=$1 timeout -s KILL 60 "$pmixrun" --oversubscribe -n 6 --vnodes 3 "$peers" \
    >"$tmp/peers.$1" 2>&1 || return 1
  # without the observer and the node id (libpmix 4.2.2 answers a rank's node id only to
  # ranks of its node, under every store): COUNT peer r LOCAL NODE_RANK APP HOST
  awk '$1 == "peer" { $2 = ""; $6 = ""; print }' "$tmp/peers.$1" | sort | uniq -c >"$tmp/table.$1"
  awk '$1 != 6 || $4 == "-" || $5 == "-" || $6 == "-" || $7 == "-" { bad = 1 }
       END { exit bad || NR != 6 }' "$tmp/table.$1" &&
    awk '{ n[$7]++; s[$7] += $4 } END { for (k in n) if (s[k] != n[k] * (n[k] - 1) / 2) exit 1 }' \
      "$tmp/table.$1"
}
for g in fmx hash; do
  table $g || { cp "$tmp/peers.$g" "$tmp/out"; fail "the job's keys of every rank ($g)"; }
done
if cmp -s "$tmp/table.fmx" "$tmp/table.hash"; then
  echo "ok: every rank's keys of the job, as 6 ranks on 3 nodes see them: the same under fmx and hash"
else
  diff "$tmp/table.fmx" "$tmp/table.hash" >"$tmp/out"
  fail "the job's keys of every rank differ between fmx and hash"
fi
mode "FMX_GDS=fmx" "$pmixrun" FMX_GDS=fmx
mode "FMX_GDS=hash" "$pmixrun" FMX_GDS=hash
mode "FMX_GDS=ds21" "$pmixrun" FMX_GDS=ds21
# pmixd and pmixrun elsewhere, without gds/ beside them (one daemon: the transport module is
# not needed either)
mkdir "$tmp/bin" && cp "$pmixrun" "$pmixd" "$tmp/bin/"
FMX_DEBUG=3 timeout -s KILL 60 "$tmp/bin/pmixrun" -n 2 "$client" >"$tmp/out" 2>&1
if why=$("$check_example" client 2 "$tmp/out") &&
  grep -q "the fmx GDS component is not installed (looked for $tmp/bin/gds/pmix_mca_gds_fmx.so" "$tmp/out"; then
  echo "ok: the component missing: hash, said in a debug line"
else
  fail "the component missing: ${why:-no debug line}"
fi
FMX_GDS=fmx timeout -s KILL 60 "$tmp/bin/pmixrun" -n 2 "$client" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "FMX_GDS=fmx: the component is not installed (looked for $tmp/bin/gds" "$tmp/out"; then
  echo "ok: FMX_GDS=fmx with the component missing: one line, exit 1"
else
  fail "FMX_GDS=fmx with the component missing (exit $rc)"
fi
# ranks whose libpmix looks only in its own directory: they read through hash
sysdir=$(pkg-config --variable=libdir pmix)/pmix
mode "ranks without the component" "$pmixrun" -- -x "PMIX_MCA_mca_base_component_path=$sysdir"
FMX_GDS=hush timeout -s KILL 60 "$pmixrun" -n 2 "$client" >"$tmp/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "FMX_GDS=hush: not one of hash, ds21, ds12, fmx" "$tmp/out"; then
  echo "ok: a bad FMX_GDS: one line (exit $rc)"
else
  fail "a bad FMX_GDS (exit $rc)"
fi
[ $failures -eq 0 ] || { echo "$failures mode(s) failed"; exit 1; }
echo "all modes passed"
