# Plots of bench/results/engine.csv: fence latency against member count (1 MiB in all) per
# algorithm, one panel per provider measured (the variable providers, e.g. "tcp shm"), and the
# ratio of the median to the alpha-beta bound.
#   gnuplot -e "csv='...'; outdir='...'; providers='tcp shm'" bench/plot.gp
set datafile separator ","
set terminal pngcairo size 550 * words(providers), 500 font ",10"
set key outside right
set logscale x 2
set logscale y
set grid
set xlabel "members P (1 MiB in all, 64 B per virtual rank)"
algos = "auto tree rd bruck ring"
# column c of the 1 MiB fences of provider p and algorithm a, undefined elsewhere
pick(p, a, c) = (strcol(1) eq p && strcol(2) eq a && strcol(3) eq "fence" && column(8) == 1048576 ? column(c) : 1/0)

set output outdir."/engine-latency.png"
set multiplot layout 1, words(providers)
set ylabel "median fence time (us)"
do for [p in providers] {
  set title p
  plot for [a in algos] csv using 4:(pick(p, a, 11)) with linespoints title a
}
unset multiplot

set output outdir."/engine-bound.png"
set multiplot layout 1, words(providers)
set ylabel "median / alpha-beta bound"
do for [p in providers] {
  set title p
  plot for [a in algos] csv using 4:(pick(p, a, 17)) with linespoints title a, \
       1.5 with lines dt 2 lc "black" title "1.5x"
}
unset multiplot
