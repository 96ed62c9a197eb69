#!/usr/bin/env bash
# The engine at scale: fence_bench on P member processes (each a "daemon" of L virtual ranks of
# B bytes) for every algorithm and the auto choice, on each provider; barriers too. Writes
# bench/results/engine.csv and PNG plots (gnuplot, installed from Debian if missing).
#   bench/engine.sh [BUILD_DIR]          (FMX_BENCH_PROVIDERS="tcp shm", also ucx-tcp ucx-sm;
#                                         rows of other providers in the CSV are kept,
#                                         FMX_BENCH_MAXP=256;
#                                         shm at P = 256 runs auto only, 3 times: it gives no
#                                         wait fd, and 256 polling members take seconds a fence)
set -euo pipefail
source "$(dirname "$0")/common.sh"
csv=$out/engine.csv
need_gnuplot
maxp=${FMX_BENCH_MAXP:-256}

run() { # run PROVIDER P ARGS...: one fmx-mprun, rows appended to the CSV (ucx-TLS: the UCX
  # backend over those UCX transports)
  local prov=$1 p=$2 env
  shift 2
  env=(FI_PROVIDER="$prov")
  [[ $prov == ucx-* ]] && env=(FMX_TRANSPORT=ucx "FMX_UCX_TLS=${prov#ucx-}" FMX_UCX_NET_DEVICES=lo)
  env "${env[@]}" timeout 900 "$mprun" -n "$p" --timeout 880 -- "$fb" "$@" \
    2>>"$out/engine.log" | grep -E '^[a-z0-9_;-]+,[a-z]+,(fence|barrier),' >>"$csv" ||
    echo "  ($prov, P=$p, $*: failed; see $out/engine.log)"
}

# rows of the providers not measured this time are kept
header=$({ FI_PROVIDER=tcp "$mprun" -n 2 -- "$fb" --reps 1 --header 2>/dev/null || true; } | head -1)
kept=$(mktemp)
if [ -f "$csv" ] && [ "$(head -1 "$csv")" = "$header" ]; then
  tail -n +2 "$csv" | awk -F, -v now="${FMX_BENCH_PROVIDERS:-tcp shm}" '
    BEGIN { n = split(now, p, " "); for (i = 1; i <= n; i++) skip[p[i]] = 1 } !($1 in skip)' >"$kept"
fi
{ echo "$header"; cat "$kept"; } >"$csv"
rm -f "$kept"
: >"$out/engine.log"
for prov in ${FMX_BENCH_PROVIDERS:-tcp shm}; do
  for p in 2 4 8 16 32 64 128 256; do
    [ "$p" -le "$maxp" ] || continue
    reps=$((p >= 128 ? 10 : 20))
    fences=auto,tree,rd,bruck,ring barriers=auto,dissemination,tree,rd
    if [ "$prov" = shm ] && [ "$p" -gt 128 ]; then
      # no wait fd: 256 members polling on 2 cores take seconds per fence
      reps=3 fences=auto barriers=auto
    fi
    echo "== $prov P=$p"
    # 1 MiB in all, 64 B per virtual rank
    run "$prov" "$p" --algos "$fences" --L $((16384 / p)) --B 64 --reps $reps
    run "$prov" "$p" --algos "$barriers" --barrier --reps $reps
  done
  # more virtual ranks on 16 members, up to 10^6 ranks of 64 B (64 MB in all)
  for l in 100 1000 10000 62500; do
    echo "== $prov P=16 L=$l"
    reps=$((l >= 10000 ? 3 : 10))
    run "$prov" 16 --algos auto,bruck,ring --L $l --B 64 --reps $reps
  done
done

# one panel per provider with 1 MiB fences in the CSV, measured now or kept (one whose every
# run failed has none)
present=$(for prov in tcp shm ucx-tcp ucx-sm; do
  awk -F, -v p="$prov" '$1 == p && $3 == "fence" && $8 == 1048576 { print p; exit }' "$csv"
done | xargs)
if [ -n "$present" ]; then
  gnuplot -e "csv='$csv'; outdir='$out'; providers='$present'" bench/plot.gp
else
  echo "engine.sh: no fence of 1 MiB was measured: no plots"
fi
echo "wrote $csv, $out/engine-latency.png, $out/engine-bound.png"
