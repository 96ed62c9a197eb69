# Medians per launcher and rank count from a compare.sh CSV, as a Markdown table, with each
# row's ratio to the reference launcher's (-v ref=NAME, default mpirun; NAME-dmodex for -dmodex
# rows) measured in the same run. Rows ending in -job time the whole job only. Launchers keep
# the order of their first run.
BEGIN { FS = ","; if (ref == "") ref = "mpirun" }
NR > 1 {
  k = $1 SUBSEP $2; n[k]++
  w[k, n[k]] = $4; f[k, n[k]] = $5; g[k, n[k]] = $6; fg[k, n[k]] = $7; b[k, n[k]] = $8
  if (!($1 in seen)) { seen[$1] = 1; labels[++nl] = $1 }
  N[$2 + 0] = 1
}
function med(a, k, c,    i, j, t, v) {
  for (i = 1; i <= c; i++) v[i] = a[k, i]
  for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
  return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
}
END {
  printf "| N | launcher | wall s | fence ms | get_all ms | fence+get ms | barrier us | wall / %s | fence+get / %s | get_all / %s |\n", ref, ref, ref
  print "|---|---|---|---|---|---|---|---|---|---|"
  for (nn = 1; nn <= 4096; nn++) {
    if (!(nn in N)) continue
    for (i = 1; i <= nl; i++) {
      l = labels[i]; k = l SUBSEP nn
      if (!(k in n)) continue
      r = l ~ /-dmodex$/ ? ref "-dmodex" : l ~ /-job$/ ? ref "-job" : ref
      m = r SUBSEP nn
      mw = (m in n) ? med(w, m, n[m]) : 0; mfg = (m in n) ? med(fg, m, n[m]) : 0
      mg = (m in n) ? med(g, m, n[m]) : 0
      if (l ~ /-job$/) {
        printf "| %d | %s | %.3f | - | - | - | - | %s | - | - |\n", nn, l, med(w, k, n[k]),
          mw ? sprintf("%.2f", med(w, k, n[k]) / mw) : "-"
        continue
      }
      printf "| %d | %s | %.3f | %.2f | %.2f | %.2f | %.0f | %s | %s | %s |\n", nn, l, med(w, k, n[k]),
        med(f, k, n[k]), med(g, k, n[k]), med(fg, k, n[k]), med(b, k, n[k]),
        mw ? sprintf("%.2f", med(w, k, n[k]) / mw) : "-", mfg ? sprintf("%.2f", med(fg, k, n[k]) / mfg) : "-",
        mg ? sprintf("%.2f", med(g, k, n[k]) / mg) : "-"
    }
  }
}
