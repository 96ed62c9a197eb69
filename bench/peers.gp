# bench/peers.sh's ratios against P: the engine's median over Open MPI's (tcp BTL; shm against
# vader), one panel per size, barrier first; below the dashed line fmx is faster. The CSV
# (peers_table.py --ratios) has P, then tcp and shm ratios per size in ascending order.
#   gnuplot -e "csv='...'; png='...'; sizes='65536 1048576 16777216'" bench/peers.gp
set datafile separator ","
set datafile missing "NaN"
set terminal pngcairo size 330 * (words(sizes) + 1), 400 font ",10"
set output png
set logscale x 2
set logscale y
set yrange [0.1:100]
set grid
set key top right
set xlabel "members P"
set ylabel "fmx / Open MPI (median)"
all = "0 ".sizes
label(s) = s eq "0" ? "barrier" : (s + 0 >= 1048576 ? sprintf("%d MiB", (s + 0) / 1048576) : sprintf("%d KiB", (s + 0) / 1024))
set multiplot layout 1, words(all)
do for [i = 1:words(all)] {
  set title label(word(all, i))
  plot csv using 1:2 * i with linespoints title "tcp", \
       csv using 1:2 * i + 1 with linespoints title "shm / vader", \
       1 with lines dashtype 2 lc rgb "black" title "parity"
}
unset multiplot
