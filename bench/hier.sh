#!/usr/bin/env bash
# The hierarchical fence against the flat ones where it is meant to help: daemons on several
# hosts, several per host. H network-namespace hosts (tests/netns/cluster.sh) with K members
# each (fence_bench under fmx-mprun, each member entering its host's namespace with a sysfs of
# its own), the engine over the paired transport (FMX_TRANSPORT=ucx: UCX's shared memory within
# a host, its tcp between hosts; or FMX_HIER_TRANSPORT). For each size, hier and the flat
# algorithms (rd, bruck, ring) in the same run, medians of FMX_HIER_RUNS runs' medians.
# Writes bench/results/hier.csv and hier.md (ratios hier / best flat, hier / rd).
#   bench/hier.sh [BUILD_DIR]   (FMX_HIER_HOSTS=2, FMX_HIER_PER_HOST=4, FMX_HIER_RUNS=5,
#                                FMX_HIER_B="8 256 4096 65536", needs root)
set -euo pipefail
if [ -z "${FMX_HOSTS:-}" ]; then # start the hosts, then come back inside them
  cd "$(dirname "$0")/.."
  exec bash tests/netns/cluster.sh "${FMX_HIER_HOSTS:-2}" bash "$0" "${1:-build}"
fi
source "$(dirname "$0")/common.sh"
read -r -a hosts <<<"$FMX_HOSTS"
k=${FMX_HIER_PER_HOST:-4} runs=${FMX_HIER_RUNS:-5} reps=${FMX_HIER_REPS:-50}
P=$((k * ${#hosts[@]}))
csv=$out/hier.csv log=$out/hier.log
wrap=$(mktemp)
trap 'rm -f "$wrap"' EXIT
# mprun runs "$wrap --rank R --size N --dir D fence_bench ARGS": member R enters host R / k
cat >"$wrap" <<'W'
#!/bin/bash
read -r -a hosts <<<"$FMX_HOSTS"
h=${hosts[$(($2 / FMX_HIER_PER_HOST_))]}
exec nsenter --net="/run/netns/$h" unshare --mount sh -c \
  'mount -t sysfs fmx-sysfs /sys && exec "$@"' sh "$7" "$1" "$2" "$3" "$4" "$5" "$6" "${@:8}"
W
chmod +x "$wrap"
export FMX_HIER_PER_HOST_=$k FMX_TRANSPORT=${FMX_HIER_TRANSPORT:-ucx} FMX_UCX_NET_DEVICES=fmx0
export FI_TCP_IFACE=fmx0
echo "run,algo,P,B,median_us" >"$csv"
: >"$log"
for run in $(seq "$runs"); do
  for b in ${FMX_HIER_B:-8 256 4096 65536}; do
    echo "== run $run, $P members on ${#hosts[@]} hosts, $b B each"
    timeout 600 "$mprun" -n "$P" --timeout 580 -- "$wrap" "$fb" --algos hier,rd,bruck,ring \
      --L 1 --B "$b" --reps "$reps" 2>>"$log" |
      awk -F, -v r="$run" -v b="$b" '$3 == "fence" { print r "," $2 "," $4 "," b "," $11 }' >>"$csv" ||
      echo "  (failed; see $log)"
  done
done
python3 - "$csv" "$P" "${#hosts[@]}" "$FMX_TRANSPORT" >"$out/hier.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
P, H, tp = sys.argv[2], sys.argv[3], sys.argv[4]
med = {}
for r in rows:
    med.setdefault((int(r["B"]), r["algo"]), []).append(float(r["median_us"]))
print(f"Fence over {P} members on {H} network-namespace hosts ({int(P)//int(H)} per host), "
      f"FMX_TRANSPORT={tp}; median over runs of each run's median, us\n")
print("| B per member | hier | rd | bruck | ring | hier / best flat | hier / rd |")
print("|---|---|---|---|---|---|---|")
for b in sorted({k[0] for k in med}):
    v = {a: statistics.median(med[(b, a)]) for a in ("hier", "rd", "bruck", "ring") if (b, a) in med}
    flat = min(v[a] for a in ("rd", "bruck", "ring") if a in v)
    cells = " | ".join(f"{v[a]:.0f}" if a in v else "-" for a in ("hier", "rd", "bruck", "ring"))
    print(f"| {b} | {cells} | {v['hier'] / flat:.2f} | {v['hier'] / v['rd']:.2f} |")
PY
cat "$out/hier.md"
