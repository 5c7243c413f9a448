#!/bin/bash
# race-bench.sh - the swap-in policies side by side under same-entry fault
# storms and a mixed workload (issue 5).  Runs bench/race_bench for every
# policy and scenario, REPS times, interleaved (rep 1 of every policy, then
# rep 2, ...) so that the load of the shared machine falls on all of them
# alike; then writes the markdown table (medians, min..max, ratios to
# unified) and a plot made with gnuplot.
#
# usage: bench/race-bench.sh [BUILDDIR] [REPS] [MS]
#   BUILDDIR  a build with test hooks (the default; `unsafe` needs them)
#   REPS      repetitions per policy and scenario (default 5)
#   MS        storm time / run time per run, milliseconds (default 1000)
# Scenarios: storm (faults served by handler threads, uswap's default; each
# device read 100 us slower, as the kernel reproducer's brd mdelay, so that
# the threads really meet), storm-sigbus (the same, faults served in the
# faulting thread's SIGBUS handler, as the kernel serves them in the
# faulting task), storm-nodelay (handler threads, the bare compressed RAM
# device), mixed (no delay).
# Output: docs/race-bench.md (table), docs/race-bench.png (plot),
#         docs/race-bench.raw (every RESULT line), docs/race-bench.dat
set -euo pipefail

cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-5}
ms=${3:-1000}
bin=$build/bench/race_bench
policies="unified fallback waitqueue sleep retry unsafe"
scenarios="storm storm-sigbus storm-nodelay mixed"
delay=100 # us added to each device read in the storms (the reproducer's mdelay)
declare -A spec=(
	[storm]="storm --read-delay-us $delay"
	[storm-sigbus]="storm --sigbus 1 --read-delay-us $delay"
	[storm-nodelay]="storm"
	[mixed]="mixed"
)
out=docs/race-bench

[ -x "$bin" ] || { echo "no $bin: build first (meson compile -C $build)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "gnuplot missing (apt-get install gnuplot-nox)" >&2; exit 1; }

raw=$out.raw
{
	echo "# race-bench $(date -u '+%Y-%m-%d %H:%M UTC') $(uname -r) cpus=$(nproc) reps=$reps ms=$ms"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$raw"
for rep in $(seq 1 "$reps"); do
	for s in $scenarios; do
		for p in $policies; do
			read -r -a args <<<"${spec[$s]}"
			line=$(nice -n 5 "$bin" "${args[0]}" "$p" "${args[@]:1}" --ms "$ms" | grep '^RESULT') || {
				echo "race_bench $s $p failed" >&2
				exit 1
			}
			line=$(echo "$line" | sed "s/ scenario=[^ ]* / scenario=$s /")
			echo "$line rep=$rep" >>"$raw"
			echo "rep $rep $s $p: $(echo "$line" | tr ' ' '\n' | grep -E '^(repeat_per_swapin|p99_us|swapins_per_s)=' | tr '\n' ' ')" >&2
		done
	done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw"

python3 - "$raw" "$out" "$bin" "$reps" "$ms" "$delay" <<'EOF'
import sys, statistics
raw, out, binary, reps, ms, delay = sys.argv[1:]
runs = []
header = []
for line in open(raw):
    if line.startswith('#'):
        header.append(line[1:].strip())
        continue
    kv = dict(f.split('=', 1) for f in line.split()[1:])
    runs.append(kv)
policies = ["unified", "fallback", "waitqueue", "sleep", "retry", "unsafe"]

def vals(s, p, k):
    return [float(r[k]) for r in runs if r['scenario'] == s and r['policy'] == p]

def med(s, p, k):
    v = vals(s, p, k)
    return statistics.median(v) if v else float('nan')

def cell(s, p, k, fmt):
    v = vals(s, p, k)
    m = statistics.median(v)
    return (fmt % m) + " (" + (fmt % min(v)) + "–" + (fmt % max(v)) + ")"

def ratio(s, p, k):
    b = med(s, 'unified', k)
    return "%.2f" % (med(s, p, k) / b) if b else "–"

scen = ["storm", "storm-sigbus", "storm-nodelay", "mixed"]
md = []
for s in scen:
    any_run = [r for r in runs if r['scenario'] == s][0]
    tput = "accesses_per_s" if s == "mixed" else "swapins_per_s"
    tname = "accesses/s" if s == "mixed" else "swap-ins/s"
    if s == "storm-sigbus":
        md.append("### storm-sigbus: the same storm (reads +%s µs), each fault served in the faulting thread (USWAP_F_SIGBUS), as the kernel serves it in the faulting task" % delay)
        md.append("")
        md.append("Latency: every storm access.")
    elif s == "storm-nodelay":
        md.append("### storm-nodelay: the storm on the bare compressed RAM device (no read delay), handler threads")
        md.append("")
        md.append("Latency: every storm access.")
    elif s == "storm":
        md.append("### storm: %s threads on each just-evicted page at once, %s handler threads, %s pages per round, each device read +%s µs"
                  % (any_run['threads'], any_run['handlers'], any_run['pages'], delay))
        md.append("")
        md.append("Latency: every storm access (each one touches a just-evicted page).")
    else:
        md.append("### mixed: %s threads, random accesses over %s pages (3/4 in a hot set of 32), budget 64 pages, %s handlers, reclaimer on"
                  % (any_run['threads'], any_run['pages'], any_run['handlers']))
        md.append("")
        md.append("Latency: the accesses slower than 2 µs (those that faulted).")
    md.append("")
    md.append("| policy | repeated faults / swap-in | faults / swap-in | loser waits / swap-in | p50 µs | p99 µs | max µs | %s | CPU µs / swap-in | lost | p99 ÷ unified | %s ÷ unified |" % (tname, tname))
    md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for p in policies:
        if not vals(s, p, 'p50_us'):
            continue
        lw = [float(r['loser_waits']) / max(float(r['swapins']), 1) for r in runs
              if r['scenario'] == s and r['policy'] == p]
        lost = sum(int(r['lost']) for r in runs if r['scenario'] == s and r['policy'] == p)
        md.append("| %s | %s | %s | %.3f (%.3f–%.3f) | %s | %s | %s | %s | %s | %d | %s | %s |" % (
            p, cell(s, p, 'repeat_per_swapin', '%.3f'), cell(s, p, 'faults_per_swapin', '%.2f'),
            statistics.median(lw), min(lw), max(lw),
            cell(s, p, 'p50_us', '%.0f'), cell(s, p, 'p99_us', '%.0f'), cell(s, p, 'max_us', '%.0f'),
            cell(s, p, tput, '%.0f'), cell(s, p, 'cpu_us_per_swapin', '%.0f'), lost,
            ratio(s, p, 'p99_us'), ratio(s, p, tput)))
    md.append("")
md.append("Each cell: median (min–max) of %s runs of %s ms; `lost` = lost updates (a thread's counter word behind its own count) and misloads (a wrong stamp) summed over the runs. "
          "Runs interleaved policy by policy. %s." % (reps, ms, "; ".join(header)))
md.append("")
md.append("Command: `bench/race-bench.sh %s %s %s`" % (binary.split('/bench/')[0], reps, ms))
open(out + ".md", "w").write("\n".join(md) + "\n")

with open(out + ".dat", "w") as f:
    f.write("# idx policy " + " ".join(
        "%s_%s_%s" % (s, k, m) for s in scen
        for k in ["p50_us", "p99_us", "max_us", "repeat_per_swapin", "tput"]
        for m in ["med", "min", "max"]) + "\n")
    for i, p in enumerate(policies):
        row = [str(i), p]
        for s in scen:
            for k in ["p50_us", "p99_us", "max_us", "repeat_per_swapin", "tput"]:
                kk = k if k != "tput" else ("accesses_per_s" if s == "mixed" else "swapins_per_s")
                v = vals(s, p, kk)
                if k == "tput":  # relative to unified's median
                    b = statistics.median(vals(s, "unified", kk))
                    v = [x / b for x in v]
                row += ["%g" % statistics.median(v), "%g" % min(v), "%g" % max(v)]
        f.write(" ".join(row) + "\n")
EOF

# .dat columns: 1 idx, 2 policy, then per scenario (storm 3-17, storm-sigbus
# 18-32, storm-nodelay 33-47, mixed 48-62): p50, p99, max, repeated faults
# per swap-in, throughput / unified's, each as median, min, max.
gnuplot <<EOF
set terminal pngcairo size 1200,900 font ",10"
set output "$out.png"
set multiplot layout 2,2 title "uswap swap-in policies, same-entry fault storms of 8 threads: median, bars min..max of $reps runs (shared 2-CPU VM)"
set xrange [-0.5:5.5]
set xtics ("unified" 0, "fallback" 1, "waitqueue" 2, "sleep" 3, "retry" 4, "unsafe" 5)
set grid ytics
set logscale y
set key top left opaque
set ylabel "microseconds"
set title "storm, handler threads (uswap's default), reads +${delay} us"
plot "$out.dat" using (\$1-0.2):3:4:5 with yerrorbars pt 7 title "p50", \
     "" using (\$1):6:7:8 with yerrorbars pt 5 title "p99", \
     "" using (\$1+0.2):9:10:11 with yerrorbars pt 9 title "max"
set title "storm, in-thread (SIGBUS) mode as in the kernel, reads +${delay} us"
plot "$out.dat" using (\$1-0.2):18:19:20 with yerrorbars pt 7 title "p50", \
     "" using (\$1):21:22:23 with yerrorbars pt 5 title "p99", \
     "" using (\$1+0.2):24:25:26 with yerrorbars pt 9 title "max"
set title "repeated faults per swap-in (log; 0 drawn at 0.001)"
set ylabel "repeated faults / swap-in"
plot "$out.dat" using (\$1-0.2):(\$12+0.001):(\$13+0.001):(\$14+0.001) with yerrorbars pt 7 title "storm", \
     "" using (\$1-0.07):(\$27+0.001):(\$28+0.001):(\$29+0.001) with yerrorbars pt 5 title "storm in-thread", \
     "" using (\$1+0.07):(\$42+0.001):(\$43+0.001):(\$44+0.001) with yerrorbars pt 9 title "storm, no delay", \
     "" using (\$1+0.2):(\$57+0.001):(\$58+0.001):(\$59+0.001) with yerrorbars pt 11 title "mixed"
set title "throughput relative to unified (log)"
set ylabel "swap-ins/s (mixed: accesses/s) / unified's median"
plot "$out.dat" using (\$1-0.2):15:16:17 with yerrorbars pt 7 title "storm", \
     "" using (\$1-0.07):30:31:32 with yerrorbars pt 5 title "storm in-thread", \
     "" using (\$1+0.07):45:46:47 with yerrorbars pt 9 title "storm, no delay", \
     "" using (\$1+0.2):60:61:62 with yerrorbars pt 11 title "mixed", \
     1 with lines lc rgb "gray" notitle
unset multiplot
EOF
echo "wrote $out.md $out.png $out.raw $out.dat" >&2
