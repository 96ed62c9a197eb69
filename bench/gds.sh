#!/usr/bin/env bash
# The store ranks read the job's data from (issue 17): the same programs under pmixrun with
# FMX_GDS=fmx (the project's component), ds21 and hash (libpmix's own), and under Open MPI's
# mpirun (its libpmix picks ds21), alternating in one run, REPS times each, medians:
#  - one PMIx_Get of a peer's 256-byte card after a collecting fence, and of the job's size
#    (bench/get_latency: median of GETS gets, one rank, the others idle), N = 2 and 16, each
#    rank bound to a core (mpirun's default);
#  - get-all: bench/wireup's slowest rank's time to Get every peer's 256-byte card after the
#    fence, and fence + get-all (from the fence's start to the slowest rank holding every
#    card), N = 2 ... 128 on one host, and 8 / 32 over 4 virtual nodes (pmixrun only);
#  - fence to every rank ready: from the last rank's entry into the fence (when it can
#    complete) to the last rank's first Get of a peer's card done, the ranks waiting 300 ms
#    before the fence (else what a fast PMIx_Init leaves of the daemons' own start-up, their
#    fabric's connections, lands in the fence); start to every rank ready: from the first
#    rank's start (before PMIx_Init) to the same, without that wait (one host: one clock);
#  - memory once every rank holds every card: the space of the files a rank maps shared (the
#    store: fmx's files, ds21's segments) against the fence's data (N cards), the ranks' PSS
#    summed, and the server's PSS (pmixd; under Open MPI, mpirun), N on one host.
# Writes bench/results/gds.csv (every run) and bench/results/gds.md (medians, ratios to ds21).
#   bench/gds.sh [BUILD_DIR]   (FMX_BENCH_N="2 8 32 64 128", FMX_BENCH_REPS=3, GETS=100000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=bench/results
mkdir -p "$out"
pmixrun=$PWD/$build/pmixrun
wireup=$PWD/$build/bench/wireup
getlat=$PWD/$build/bench/get_latency
[ -x "$wireup" ] && [ -x "$getlat" ] && [ -x "$pmixrun" ] || { echo "build first"; exit 1; }
reps=${FMX_BENCH_REPS:-3}
gets=${GETS:-100000}
sizes=${FMX_BENCH_N:-"2 8 32 64 128"}
root=()
[ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
export FI_PROVIDER=${FI_PROVIDER:-tcp} FI_TCP_IFACE=${FI_TCP_IFACE:-lo}
export OMPI_MCA_btl_tcp_if_include=lo
csv=$out/gds.csv
echo "what,launcher,store,n,vnodes,rep,a,b,c,d,e,f,g,h" >"$csv"

# latency LAUNCHER STORE N: "peer_median job_median" (microseconds)
latency() {
  local l=$1 g=$2 n=$3
  if [ "$l" = mpirun ]; then
    mpirun "${root[@]}" --oversubscribe --bind-to core -n "$n" "$getlat" "$gets"
  else
    FMX_GDS=$g "$pmixrun" --oversubscribe --bind-to core -n "$n" "$getlat" "$gets"
  fi | awk '$1 == "get_latency" { print $3, $5 }'
}
# getall LAUNCHER STORE N VNODES [SETTLE_MS]: "get_all_max fence_plus_get_all_max fence_to_ready
# start_to_ready fmx_store_bytes ranks_pss_kib server_pss_kib dstore_bytes" (microseconds,
# bytes, KiB)
getall() {
  local l=$1 g=$2 n=$3 v=$4 settle=${5:-0}
  if [ "$l" = mpirun ]; then
    FMX_WIREUP_SETTLE_MS=$settle mpirun "${root[@]}" --oversubscribe -x FMX_WIREUP_MEM=1 \
      -x FMX_WIREUP_SETTLE_MS -n "$n" "$wireup" 256 5
  else
    FMX_WIREUP_SETTLE_MS=$settle FMX_WIREUP_MEM=1 FMX_GDS=$g "$pmixrun" --oversubscribe -n "$n" \
      --vnodes "$v" "$wireup" 256 5
  fi | awk '$1 == "wireup" { if ($6 > g) g = $6; if ($5 + $6 > fg) fg = $5 + $6 }
            $1 == "wireup_at" { if (s == "" || $3 < s) s = $3; if ($4 > f) f = $4; if ($5 > r) r = $5 }
            $1 == "wireup_mem" { if ($3 > fs) fs = $3; if ($4 > ds) ds = $4; pss += $5; if ($2 == 0) srv = $6 }
            END { print g, fg, r - f, r - s, fs + 0, pss, srv, ds + 0 }'
}
configs=("pmixrun fmx" "pmixrun ds21" "pmixrun hash" "mpirun ds21")
for rep in $(seq "$reps"); do
  for n in 2 16; do
    for c in "${configs[@]}"; do
      read -r l g <<<"$c"
      echo "latency,$l,$g,$n,1,$rep,$(latency "$l" "$g" "$n" | tr ' ' ',')" >>"$csv"
    done
  done
  for n in $sizes; do
    for c in "${configs[@]}"; do
      read -r l g <<<"$c"
      echo "getall,$l,$g,$n,1,$rep,$(getall "$l" "$g" "$n" 1 | tr ' ' ',')" >>"$csv"
    done
  done
  for n in 8 32; do
    for g in fmx ds21 hash; do
      echo "getall,pmixrun,$g,$n,4,$rep,$(getall pmixrun "$g" "$n" 4 | tr ' ' ',')" >>"$csv"
      echo "settled,pmixrun,$g,$n,4,$rep,$(getall pmixrun "$g" "$n" 4 300 | tr ' ' ',')" >>"$csv"
    done
  done
  for n in 8 32 64; do
    for c in "${configs[@]}"; do
      read -r l g <<<"$c"
      echo "settled,$l,$g,$n,1,$rep,$(getall "$l" "$g" "$n" 1 300 | tr ' ' ',')" >>"$csv"
    done
  done
done

python3 - "$csv" "$out/gds.md" "$reps" "$gets" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for r in rows:
    k = (r["what"], r["launcher"], r["store"], int(r["n"]), int(r["vnodes"]))
    try:
        med.setdefault(k, []).append(tuple(float(r[c]) for c in "abcdefgh" if r.get(c)))
    except ValueError:
        pass
def m(k, i):
    v = med.get(k)
    v = [x[i] for x in v or [] if len(x) > i]
    return statistics.median(v) if v else float("nan")
cols = [("pmixrun", "fmx"), ("pmixrun", "ds21"), ("pmixrun", "hash"), ("mpirun", "ds21")]
o = [f"# The store ranks read the job's data from\n",
     f"bench/gds.sh on this host (2 cores), medians of {sys.argv[3]} runs, microseconds; "
     f"ratios are to pmixrun with ds21 in the same run. Open MPI 4.1.4's mpirun serves through "
     f"its own libpmix, which picks ds21.\n"]
o.append(f"\n## One PMIx_Get (median of {sys.argv[4]} gets, ranks bound to cores)\n")
o.append("| N | key | pmixrun fmx | pmixrun ds21 | pmixrun hash | mpirun | fmx / ds21 |\n|---|---|---|---|---|---|---|\n")
for n in (2, 16):
    for i, key in ((0, "a peer's 256-byte card"), (1, "the job's size")):
        v = [m(("latency",) + c + (n, 1), i) for c in cols]
        o.append(f"| {n} | {key} | " + " | ".join(f"{x:.2f}" for x in v) + f" | {v[0]/v[1]:.2f} |\n")
for i, title in ((0, "get-all (slowest rank)"), (1, "fence + get-all (slowest rank)")):
    o.append(f"\n## {title}, one host\n")
    o.append("| N | pmixrun fmx | pmixrun ds21 | pmixrun hash | mpirun | fmx / ds21 | fmx / mpirun |\n|---|---|---|---|---|---|---|\n")
    ns = sorted({k[3] for k in med if k[0] == "getall" and k[4] == 1})
    for n in ns:
        v = [m(("getall",) + c + (n, 1), i) for c in cols]
        o.append(f"| {n} | " + " | ".join(f"{x:.0f}" for x in v) + f" | {v[0]/v[1]:.2f} | {v[0]/v[3]:.2f} |\n")
    o.append(f"\n{title}, 4 virtual nodes (pmixd per node, fences through the engine)\n\n")
    o.append("| N | pmixrun fmx | pmixrun ds21 | pmixrun hash | fmx / ds21 |\n|---|---|---|---|---|\n")
    for n in sorted({k[3] for k in med if k[0] == "getall" and k[4] == 4}):
        v = [m(("getall", "pmixrun", g, n, 4), i) for g in ("fmx", "ds21", "hash")]
        o.append(f"| {n} | " + " | ".join(f"{x:.0f}" for x in v) + f" | {v[0]/v[1]:.2f} |\n")
o.append("\n## Fence to every rank ready (the last rank into the fence to the last rank's first "
         "Get of a peer's card done; the ranks wait 300 ms before the fence), one host; and from "
         "the first rank's start (before PMIx_Init; no wait)\n")
o.append("| N | pmixrun fmx | pmixrun ds21 | pmixrun hash | mpirun | fmx / ds21 | fmx / mpirun | start to ready fmx / ds21 / hash / mpirun |\n|---|---|---|---|---|---|---|---|\n")
for n in sorted({k[3] for k in med if k[0] == "getall" and k[4] == 1}):
    if ("settled", "pmixrun", "fmx", n, 1) not in med:
        continue
    v = [m(("settled",) + c + (n, 1), 2) for c in cols]
    it = [m(("getall",) + c + (n, 1), 3) for c in cols]
    o.append(f"| {n} | " + " | ".join(f"{x:.0f}" for x in v) + f" | {v[0]/v[1]:.2f} | {v[0]/v[3]:.2f} | "
             + " / ".join(f"{x:.0f}" for x in it) + " |\n")
o.append("\n4 virtual nodes\n\n| N | pmixrun fmx | pmixrun ds21 | pmixrun hash | fmx / ds21 | start to ready fmx / ds21 / hash |\n|---|---|---|---|---|---|\n")
for n in sorted({k[3] for k in med if k[0] == "getall" and k[4] == 4}):
    v = [m(("settled", "pmixrun", g, n, 4), 2) for g in ("fmx", "ds21", "hash")]
    it = [m(("getall", "pmixrun", g, n, 4), 3) for g in ("fmx", "ds21", "hash")]
    o.append(f"| {n} | " + " | ".join(f"{x:.0f}" for x in v) + f" | {v[0]/v[1]:.2f} | " + " / ".join(f"{x:.0f}" for x in it) + " |\n")
o.append("\n## Memory once every rank holds every card, one host\n")
o.append("The store's space (allocated blocks of the files ranks map shared), bytes: fmx's files "
         "under fmx; libpmix's dstore segments under ds21 (and, in brackets, the dstore segments "
         "libpmix maps in every rank under fmx too). Fence data: N cards of 256 bytes. PSS in "
         "KiB: the ranks' summed, and the server's (pmixd, or mpirun).\n\n")
o.append("| N | fence data | fmx's store (libpmix's own) | ds21's segments | fmx / fence data | ranks' PSS fmx / ds21 / hash / mpirun | server PSS fmx / ds21 / hash / mpirun |\n|---|---|---|---|---|---|---|\n")
for n in sorted({k[3] for k in med if k[0] == "getall" and k[4] == 1}):
    sh = [m(("getall",) + c + (n, 1), 4) for c in cols]
    rp = [m(("getall",) + c + (n, 1), 5) for c in cols]
    sp = [m(("getall",) + c + (n, 1), 6) for c in cols]
    ds = [m(("getall",) + c + (n, 1), 7) for c in cols]
    fd = n * 256
    o.append(f"| {n} | {fd} | {sh[0]:.0f} ({ds[0]:.0f}) | {ds[1]:.0f} | {sh[0]/fd:.1f} | " + " / ".join(f"{x:.0f}" for x in rp)
             + " | " + " / ".join(f"{x:.0f}" for x in sp) + " |\n")
notes = open(sys.argv[2]).read().split("\n## Reading these numbers", 1) if __import__("os").path.exists(sys.argv[2]) else [""]
open(sys.argv[2], "w").write("".join(o))
print("".join(o))
PY
