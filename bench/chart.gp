# The benchmark's chart, drawn by bench/run.sh:
#   gnuplot -e "datadir='...'; outfile='...'; subtitle='...'" bench/chart.gp
# datadir holds bars.tsv (no header; scenario, then messages/s of pgmsg, raw PostgreSQL
# and PgQ, NaN where a system cannot do the work) and rate_<system>.dat
# (seconds into the sustained run, messages consumed per second over the
# interval before, table + index size in MiB); hassus is 0 when no
# sustained run was made.

set terminal pngcairo size 1400,1150 font "sans,11"
set output outfile
set datafile separator "\t"
set datafile missing "NaN"

pgmsg_c = "#1f77b4"
raw_c = "#7f7f7f"
pgq_c = "#ff7f0e"

set multiplot title "pgmsg vs raw PostgreSQL vs PgQ (".subtitle.")" font "sans,14"

# throughput per scenario
set origin 0, 0.5
set size 1, 0.47
set title "Throughput per scenario (messages/s, log scale; a missing bar: the system cannot do that work)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set logscale y
set yrange [100:*]
set format y "%.0s%c"
set grid ytics
set xtics rotate by -30 scale 0 font "sans,10"
set rmargin 10
set key top right
plot datadir."/bars.tsv" using 2:xtic(1) title "pgmsg" lc rgb pgmsg_c, \
     "" using 3 title "raw PostgreSQL" lc rgb raw_c, \
     "" using 4 title "PgQ" lc rgb pgq_c

# the sustained runs
set rmargin -1
unset logscale y
unset format
set format y "%g"
set xtics norotate font "sans,10"
set datafile separator whitespace
set style data lines
set xlabel "seconds into the sustained run"
set yrange [0:*]
set key top right

if (!hassus) {
    set origin 0, 0
    set size 1, 0.48
    unset title
    set label 1 "no sustained run in this benchmark" at graph 0.5, 0.5 center font "sans,14"
    plot [0:1] [0:1] NaN notitle
} else {
    set origin 0, 0
    set size 0.5, 0.48
    set title "Sustained run: messages consumed per second"
    plot datadir."/rate_pgmsg.dat" using 1:2 title "pgmsg" lw 2 lc rgb pgmsg_c, \
         datadir."/rate_raw.dat" using 1:2 title "raw PostgreSQL" lw 2 lc rgb raw_c, \
         datadir."/rate_pgq.dat" using 1:2 title "PgQ" lw 2 lc rgb pgq_c

    set origin 0.5, 0
    set size 0.5, 0.48
    set title "Sustained run: table + index size (MiB)"
    plot datadir."/rate_pgmsg.dat" using 1:3 title "pgmsg" lw 2 lc rgb pgmsg_c, \
         datadir."/rate_raw.dat" using 1:3 title "raw PostgreSQL" lw 2 lc rgb raw_c, \
         datadir."/rate_pgq.dat" using 1:3 title "PgQ" lw 2 lc rgb pgq_c
}

unset multiplot
