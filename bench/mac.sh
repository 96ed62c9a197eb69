#!/usr/bin/env bash
# What authenticating every fabric message costs (transports/fmx_seal.h): the engine's fence
# (auto algorithm, fence_bench under fmx-mprun, as in peers.sh) with the MAC on, as daemons run
# it, and off (--no-mac), alternating within each run; medians over repetitions of the slowest
# member's time, then the median of FMX_MAC_RUNS (3) runs. Writes bench/results/mac.{csv,md}.
#   bench/mac.sh [BUILD_DIR]    (FMX_MAC_P="2 4", FMX_MAC_S="65536 1048576 16777216",
#                                FMX_MAC_PROVIDERS="tcp shm", FMX_MAC_REPS=20, FMX_MAC_RUNS=3)
set -euo pipefail
source "$(dirname "$0")/common.sh"
csv=$out/mac.csv
log=$out/mac.log
reps=${FMX_MAC_REPS:-20}
: >"$log"
echo "provider,mac,P,S_bytes,run,reps,min_us,median_us,p99_us" >"$csv"

one() { # PROVIDER on|off P S RUN
  local extra=()
  [ "$2" = off ] && extra=(--no-mac)
  FI_PROVIDER=$1 timeout 600 "$mprun" -n "$3" --timeout 580 -- "$fb" --algos auto --L 1 \
    --B $(($4 / $3)) --reps "$reps" "${extra[@]}" 2>>"$log" |
    awk -F, -v p="$1" -v m="$2" -v run="$5" '$3 == "fence" && $2 == "auto" {
      printf "%s,%s,%s,%.0f,%s,%s,%s,%s,%s\n", p, m, $4, $8, run, $9, $10, $11, $12 }' \
    >>"$csv" || echo "  ($1 mac $2 P=$3 S=$4: failed; see $log)"
}

for run in $(seq "${FMX_MAC_RUNS:-3}"); do
  for prov in ${FMX_MAC_PROVIDERS:-tcp shm}; do
    for p in ${FMX_MAC_P:-2 4}; do
      for s in ${FMX_MAC_S:-65536 1048576 16777216}; do
        echo "== run $run, $prov P=$p S=$s"
        one "$prov" on "$p" "$s" "$run"
        one "$prov" off "$p" "$s" "$run"
      done
    done
  done
done
python3 - "$csv" >"$out/mac.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for r in rows:
    med.setdefault((r['provider'], int(r['P']), int(r['S_bytes']), r['mac']), []).append(
        float(r['median_us']))
print('| provider | P | S | MAC on (us) | MAC off (us) | on / off |')
print('|---|---|---|---|---|---|')
for (prov, p, s, mac) in sorted(k for k in med if k[3] == 'on'):
    on = statistics.median(med[(prov, p, s, 'on')])
    off = statistics.median(med.get((prov, p, s, 'off'), [float('nan')]))
    size = '%d KiB' % (s // 1024) if s < 1 << 20 else '%d MiB' % (s >> 20)
    print('| %s | %d | %s | %.0f | %.0f | %.2f |' % (prov, p, size, on, off, on / off))
PY
cat "$out/mac.md"
