#!/usr/bin/env bash
# python-vs-zram.sh: a data tool's sequential passes over more memory than
# it is given.  CPython builds list(range(N)) (about 36 bytes an element:
# 290 MB at N = 8000000), sums it PASSES times and frees it
# (bench/seqsum.py); each pass reads the list's array and the int objects
# in step, front to back; the free drops the ints from the last.
# Side by side in one run, for each budget B:
#   uswap   python3 under `uswap run --budget B`
#   zram    python3 plain in a memory cgroup (v1) limited to B, zram0 (lz4)
#           the only swap (bench/zram-cgroup.sh sets it up and puts it back)
#   plain   python3 plain, no limit
# Every sum is checked (seqsum.py exits 1 on a wrong one, which aborts the
# run); a process the kernel's OOM killer ended counts as "killed".
# Prints a markdown table (per run the median pass, and the free; median,
# min-max over the runs; ratios uswap/zram) and writes it to
# bench/results/python-vs-zram-DATE.md.  Run as root (zram, swapon,
# cgroups).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bench_name="python-vs-zram"
# shellcheck source=common.sh
. "$here/common.sh"
budgets="64M"
elements=8000000
passes=3
reps=3
configs="uswap zram plain"
uswap_cmd=
lock_wait=600
outdir=$root/bench/results

usage() {
	cat <<EOF
usage: $0 [OPTIONS]
  -B, --budgets "B.."   budgets / cgroup limits (default "$budgets")
  -n, --elements N      list length (default $elements)
  -p, --passes N        sums per run (default $passes)
  -c, --configs "C.."   any of "uswap uswap-sigbus zram plain" (default
                        "$configs"; uswap-sigbus: uswap run --sigbus)
EOF
	bench_usage_common
}

while [ $# -gt 0 ]; do
	case "$1" in
	-B | --budgets) budgets=$2; shift 2 ;;
	-n | --elements) elements=$2; shift 2 ;;
	-p | --passes) passes=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*)
		bench_option "$@" || { usage >&2; die "unknown option '$1'"; }
		shift 2
		;;
	esac
done

bench_need_root
python=/usr/bin/python3
[ -x "$python" ] || die "needs $python"
bench_count elements "$elements"
bench_count passes "$passes"
bench_count repetitions "$reps"
bench_count --lock-wait "$lock_wait" 0
uswap_cmd=${uswap_cmd:-$root/build/tools/uswap}
bench_budgets_max "$budgets"
bench_configs "uswap uswap-sigbus zram plain"

zc_name=python-vs-zram
. "$here/zram-cgroup.sh"
work=$(mktemp -d /tmp/python-vs-zram.XXXXXX)
cleanup() {
	local rc=$?
	set +e
	zc_cleanup
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# the objects need about 36 bytes an element; zram holds them compressed
[ $want_zram = 1 ] && zc_setup $((elements * 40 + (512 << 20))) "$bench_max_b" "$lock_wait"

stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$outdir"
raw="$outdir/python-vs-zram-$stamp.raw"
md="$outdir/python-vs-zram-$stamp.md"
: >"$raw"
echo "python-vs-zram: N=$elements, $passes passes, budgets $budgets, $reps reps, configs $configs; raw lines in $raw" >&2
run="$python $here/seqsum.py $elements $passes"
for rep in $(seq "$reps"); do
	for b in $budgets; do
		for c in $configs; do
			bb=$(numfmt --from=iec "${b%B}")
			majors=0
			case "$c" in
			uswap | uswap-sigbus)
				rm -f "$work/stats"
				mode=
				[ "$c" = uswap-sigbus ] && mode=--sigbus
				out=$("$uswap_cmd" run --budget "$b" $mode --stats-file "$work/stats" -- $run 2>"$work/err")
				rc=$?
				majors=$(sed -n 's/^uswap\[[0-9]* .*major \([0-9]*\),.*/\1/p' "$work/stats" | sort -n | tail -1)
				;;
			zram)
				echo 0 >"$zc_cg/memory.force_empty" 2>/dev/null
				echo "$bb" >"$zc_cg/memory.limit_in_bytes" || die "cannot set the cgroup limit $bb"
				maj0=$(awk '$1 == "total_pgmajfault" { print $2 }' "$zc_cg/memory.stat")
				out=$(sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$zc_cg/cgroup.procs" $run 2>"$work/err")
				rc=$?
				majors=$(($(awk '$1 == "total_pgmajfault" { print $2 }' "$zc_cg/memory.stat") - maj0))
				;;
			plain)
				out=$($run 2>"$work/err")
				rc=$?
				;;
			esac
			if [ $rc -eq 0 ] && [[ "$out" == RESULT* ]]; then
				status=ok
			elif [ $rc -eq 137 ]; then
				status=killed
			else
				die "$c at $b: exit status $rc: $(tail -3 "$work/err") $out"
			fi
			build=$(echo "$out" | sed -n 's/.*build=\([0-9.]*\).*/\1/p')
			times=$(echo "$out" | sed -n 's/.*passes=\([0-9.,]*\).*/\1/p')
			free=$(echo "$out" | sed -n 's/.*free=\([0-9.]*\).*/\1/p')
			echo "$rep $b $c $status ${build:--} ${times:--} ${free:--} ${majors:-?}" | tee -a "$raw" >&2
		done
	done
done

"$python" - "$raw" "$budgets" "$configs" "$elements" "$passes" >"$md" <<'EOF'
import statistics, sys
raw, budgets, configs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
elements, passes = sys.argv[4], sys.argv[5]
runs = {}
for line in open(raw):
    rep, b, c, status, build, times, free, majors = line.split()
    ok = status == "ok"
    runs.setdefault((b, c), []).append((
        statistics.median(float(t) for t in times.split(",")) if ok else None,
        float(free) if ok else None, majors))
# a ratio column per uswap configuration, against zram
mine = [c for c in configs if c.startswith("uswap")] if "zram" in configs else []
print(f"CPython sums list(range({elements})) {passes} times, then frees it "
      "(bench/seqsum.py); seconds per pass (per run the median pass) and "
      "seconds of the free: the median (min-max) over the runs that "
      "completed, completed/all (the rest: killed by the kernel's OOM "
      "killer); median major faults per run in brackets\n")
for what, k in (("pass", 0), ("free", 1)):
    print(f"| budget | " + " | ".join(f"{c} {what}" for c in configs) + " |"
          + "".join(f" {what} {c} / zram |" for c in mine))
    print("|---|" + "---|" * (len(configs) + len(mine)))
    for b in budgets:
        cells, med = [], {}
        for c in configs:
            r = runs.get((b, c), [])
            ok = [x[k] for x in r if x[k] is not None]
            maj = [int(x[2]) for x in r if x[k] is not None and x[2].isdigit()]
            if ok:
                med[c] = statistics.median(ok)
                mj = f" [{int(statistics.median(maj))}]" if maj and c != "plain" and k == 0 else ""
                cells.append(f"{med[c]:.3f} ({min(ok):.3f}-{max(ok):.3f}) {len(ok)}/{len(r)}{mj}")
            else:
                cells.append(f"- 0/{len(r)}")
        ratio = "".join(f" {med[c] / med['zram']:.2f}× |"
                        if c in med and "zram" in med else " - |"
                        for c in mine)
        print(f"| {b} | " + " | ".join(cells) + " |" + ratio)
    print()
EOF
cat "$md"
echo "python-vs-zram: table in $md" >&2
