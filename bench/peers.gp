# bench/peers.sh's ratios against P: the engine's median over Open MPI's (tcp BTL; shm against
# vader), one panel per size (sizes: the totals in bytes, "0" for barriers); below 1 fmx is faster.
#   gnuplot -e "csv='...'; png='...'; sizes='0 65536 1048576 16777216'" bench/peers.gp
set datafile separator ","
set terminal pngcairo size 330 * (words(sizes) + 1), 400 font ",10"
set output png
set logscale x 2
set logscale y
set grid
set key top left
set xlabel "members P"
set ylabel "fmx / Open MPI (median)"
all = "0 ".sizes
label(s) = s eq "0" ? "barrier" : (s + 0 >= 1048576 ? sprintf("%d MiB", (s + 0) / 1048576) : sprintf("%d KiB", (s + 0) / 1024))
set multiplot layout 1, words(all)
do for [s in all] {
  set title label(s)
  plot csv using 1:(column(2) == s + 0 ? column(3) : 1/0) with linespoints title "tcp", \
       csv using 1:(column(2) == s + 0 ? column(4) : 1/0) with linespoints title "shm / vader", \
       1 with lines dashtype 2 lc rgb "black" title "parity"
}
unset multiplot
