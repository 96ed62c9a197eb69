# Plots of bench/results/engine.csv: fence latency against member count (1 MiB in all) per
# algorithm and provider, and the ratio of the median to the alpha-beta bound.
set datafile separator ","
set terminal pngcairo size 1100,500 font ",10"
set key outside right
set logscale x 2
set grid
set xlabel "members P (1 MiB in all, 64 B per virtual rank)"

set output outdir."/engine-latency.png"
set multiplot layout 1,2
set logscale y
set ylabel "median fence time (us)"
set title "tcp"
plot for [a in "auto tree rd bruck ring"] csv using ($4):(strcol(1) eq "tcp" && strcol(2) eq a && strcol(3) eq "fence" && $8 == 1048576 ? $11 : 1/0) with linespoints title a
set title "shm"
plot for [a in "auto tree rd bruck ring"] csv using ($4):(strcol(1) eq "shm" && strcol(2) eq a && strcol(3) eq "fence" && $8 == 1048576 ? $11 : 1/0) with linespoints title a
unset multiplot

set output outdir."/engine-bound.png"
set multiplot layout 1,2
set logscale y  # ratios from below 1 to hundreds
set ylabel "median / alpha-beta bound"
set title "tcp"
plot for [a in "auto tree rd bruck ring"] csv using ($4):(strcol(1) eq "tcp" && strcol(2) eq a && strcol(3) eq "fence" && $8 == 1048576 ? $17 : 1/0) with linespoints title a, 1.5 with lines dt 2 lc "black" title "1.5x"
set title "shm"
plot for [a in "auto tree rd bruck ring"] csv using ($4):(strcol(1) eq "shm" && strcol(2) eq a && strcol(3) eq "fence" && $8 == 1048576 ? $17 : 1/0) with linespoints title a, 1.5 with lines dt 2 lc "black" title "1.5x"
unset multiplot
