#!/bin/bash
# pager-vs-zram.sh: uswap's pager against the kernel's own swap to zram, side
# by side in one run (issue 4, "A benchmark").  The same program
# (bench/workload.c) runs, interleaved, R times per cell, on:
#
#   uswap   uswap_map() memory with a resident budget B (uswap's own
#           compressed RAM device);
#   zram    plain anonymous memory in a memory cgroup (v1) limited to B, with
#           the kernel's zram (lz4) as the only swap device;
#   plain   plain anonymous memory without a limit (the ceiling).
#
# Patterns uniform, zipf(0.99) and sequential over S = 4 x B, 1 and 2
# threads.  Prints a markdown table (medians, min-max, ratios uswap/zram) and
# writes it to bench/results/pager-vs-zram-DATE.md with the raw lines next to
# it.  Run as root.  The script sets zram0 and the cgroup up itself and its
# exit trap always puts them back (swapoff, zram reset, original compression
# algorithm, rmdir); zram0 is taken under flock /run/uswap-zram.lock, which
# other uswap benchmarks take too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bench_name="pager-vs-zram"
# shellcheck source=common.sh
. "$here/common.sh"

budget=64M
size=
seconds=4
warm=1
reps=3
patterns="uniform zipf seq"
threads_list="1 2"
configs="uswap zram plain"
write_ratio=0.2
workload=
outdir="$here/results"
lock_wait=600
nice_level=0
cpus=
join=self
extra=()
table_only=

usage() {
	cat <<EOF
usage: sudo $0 [options] [-- extra workload options]
  -B, --budget B        resident budget / cgroup limit (default $budget)
  -S, --size S          working set (default 4 x budget)
  -t, --seconds T       measured seconds per run (default $seconds)
  -W, --warm T          unmeasured seconds of the pattern first (default $warm)
  -r, --reps R          repetitions per cell, interleaved (default $reps)
  -p, --patterns "P.."  default "$patterns"
  -T, --threads "N.."   default "$threads_list"
  -c, --configs "C.."   any of "uswap zram plain uswap-sigbus uswap-nospin
                        uswap-sigbus-spread uswap-nocarry
                        uswap-sigbus-nocarry uswap-sigbus-onecpu
                        uswap-sigbus-nofc" (default
                        the first three;
                        uswap-sigbus is uswap with USWAP_SIGBUS=1, faults
                        served in the faulting thread; uswap-nospin is uswap
                        with USWAP_NO_SPIN=1, handlers that sleep at once;
                        uswap-sigbus-spread is uswap-sigbus with
                        USWAP_NO_COLOCATE=1, uswap's threads on any CPU;
                        the -nocarry ones add USWAP_NO_CARRY=1, window
                        evictions that carry no page; uswap-sigbus-onecpu
                        is uswap-sigbus with the whole process on one CPU
                        (the first the script may use: the reclaimer's
                        TLB flushes stay local); uswap-sigbus-nofc is
                        uswap-sigbus with USWAP_NO_FAULT_COMPRESS=1,
                        faults over the budget that only wait for the
                        reclaimer; uswap* are
                        skipped if the workload was built without uswap.
                        Other USWAP_* variables in the environment reach
                        every uswap run)
  -w, --write-ratio W   default $write_ratio
  --workload PATH       default $root/build/bench/workload
  --join self|shell     how the zram run enters the cgroup: self (default)
                        = the workload joins after allocating its own
                        bookkeeping (shadow, sampler), so only the working
                        set is charged, as only the region counts against
                        uswap's budget; shell = a subshell joins before exec
                        (bookkeeping charged too)
  --lock-wait SECONDS   how long to wait for zram0's lock (default $lock_wait)
  --nice N              run the workload under nice -n N (default 0)
  --cpus LIST           run every workload under taskset -c LIST (all its
                        threads, uswap's too; default: not pinned)
  -o, --outdir DIR      default bench/results
  --table RAW           only print the tables again from a .raw file
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	-B | --budget) budget=$2; shift 2 ;;
	-S | --size) size=$2; shift 2 ;;
	-t | --seconds) seconds=$2; shift 2 ;;
	-W | --warm) warm=$2; shift 2 ;;
	-r | --reps) reps=$2; shift 2 ;;
	-p | --patterns) patterns=$2; shift 2 ;;
	-T | --threads) threads_list=$2; shift 2 ;;
	-c | --configs) configs=$2; shift 2 ;;
	-w | --write-ratio) write_ratio=$2; shift 2 ;;
	--workload) workload=$2; shift 2 ;;
	--join) join=$2; shift 2 ;;
	--lock-wait) lock_wait=$2; shift 2 ;;
	--nice) nice_level=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	-o | --outdir) outdir=$2; shift 2 ;;
	--table) table_only=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done

python=/usr/bin/python3
[ -x $python ] || python=$(command -v python3) || die "needs python3 for the tables"

# tables RAW CONFIG...: the markdown tables from the RESULT lines in RAW.
tables() {
	"$python" - "$@" <<'EOF'
import sys, statistics

raw, configs = sys.argv[1], sys.argv[2:]
runs = []
for line in open(raw):
    kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    runs.append(kv)

def num(r, k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None

cells = {}
order = []
for r in runs:
    key = (r.get("pattern"), r.get("threads"))
    if key not in order:
        order.append(key)
    cells.setdefault(key + (r.get("label"),), []).append(r)

def stats(rs, k, scale=1.0):
    v = [num(r, k) for r in rs if r.get("failed") != "1" and r.get("rc") == "0"]
    v = [x * scale for x in v if x is not None and x >= 0]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)

def fmt(s, nd=2, spread=True):
    if s is None:
        return "–"
    m, lo, hi = s
    f = lambda x: f"{x:,.{nd}f}"
    return f"{f(m)} ({f(lo)}–{f(hi)})" if spread else f(m)

def cpu_per_op(rs):
    v = []
    for r in rs:
        if r.get("rc") != "0" or r.get("failed") == "1":
            continue
        c, n = num(r, "cpu_s"), num(r, "ops")
        if c is not None and n:
            v.append(c / n * 1e6)
    return (statistics.median(v), min(v), max(v)) if v else None

def maj_per_s(rs):
    v = []
    for r in rs:
        if r.get("rc") != "0" or r.get("failed") == "1":
            continue
        secs = num(r, "seconds")
        m = num(r, "us_major") if r.get("mem") == "uswap" else num(r, "majflt")
        if secs and m is not None:
            v.append(m / secs)
    return (statistics.median(v), min(v), max(v)) if v else None

print("| pattern | threads | config | ops/s, M (min–max) | CPU µs/op | p50 µs | p99 µs (min–max) | max µs | major faults/s, k | held MiB | runs ok |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
med = {}
for key in order:
    for c in configs:
        rs = cells.get(key + (c,), [])
        if not rs:
            continue
        ok = sum(1 for r in rs if r.get("rc") == "0" and r.get("failed") != "1")
        errs = sum(int(num(r, "verify_errors") or 0) for r in rs)
        o = stats(rs, "ops_s", 1e-6)
        p50 = stats(rs, "p50_ns", 1e-3)
        p99 = stats(rs, "p99_ns", 1e-3)
        mx = stats(rs, "max_ns", 1e-3)
        held = stats(rs, "held", 1 / 1048576)
        mj = maj_per_s(rs)
        cp = cpu_per_op(rs)
        med[key + (c,)] = (o, p99, held, cp)
        note = f"{ok}/{len(rs)}" + (f", {errs} VERIFY ERRORS" if errs else "")
        res = stats(rs, "ws_resident")
        bud = num(rs[0], "budget")
        if c != "plain" and res and bud and res[0] > 1.05 * bud:
            note += f", resident {res[0] / 1048576:.0f} MiB > budget {bud / 1048576:.0f} MiB"
        print(f"| {key[0]} | {key[1]} | {c} | {fmt(o, 3)} | {fmt(cp, 2, False)} | {fmt(p50, 2, False)} | "
              f"{fmt(p99, 1)} | {fmt(mx, 0, False)} | "
              f"{'–' if mj is None else f'{mj[0] / 1e3:,.1f}'} | {fmt(held, 1, False)} | {note} |")

for uc in [c for c in configs if c.startswith("uswap")]:
    if "zram" not in configs:
        break
    print()
    print(f"Ratios of medians, {uc} / kernel zram (goal: ops/s ≥ 2× on uniform and seq, ≥ 1.2× on zipf; p99 ≤ 1; held ≤ 1):")
    print()
    print("| pattern | threads | ops/s | p99 | held | CPU/op | goal met |")
    print("|---|---|---|---|---|---|---|")
    for key in order:
        u, z = med.get(key + (uc,)), med.get(key + ("zram",))
        if not u or not z:
            continue
        def ratio(i):
            if u[i] is None or z[i] is None or z[i][0] == 0:
                return None
            return u[i][0] / z[i][0]
        ro, rp, rh, rc = ratio(0), ratio(1), ratio(2), ratio(3)
        goal = 1.2 if key[0] == "zipf" else 2.0
        f = lambda x: "–" if x is None else f"{x:.2f}×"
        why = []
        if ro is None or ro < goal:
            why.append(f"ops/s {f(ro)} < {goal:g}×")
        if rp is None or rp > 1.005:
            why.append(f"p99 {f(rp)} > 1")
        if rh is None or rh > 1.005:
            why.append(f"held {f(rh)} > 1")
        verdict = "yes" if not why else "no: " + ", ".join(why)
        print(f"| {key[0]} | {key[1]} | {f(ro)} | {f(rp)} | {f(rh)} | {f(rc)} | {verdict} |")
if "zram" in configs and "plain" in configs:
    print()
    print("Kernel zram / plain memory, ops/s (what swapping costs the kernel):",
          ", ".join(f"{k[0]} {k[1]}t {med[k + ('zram',)][0][0] / med[k + ('plain',)][0][0]:.2f}×"
                    for k in order if med.get(k + ('zram',)) and med.get(k + ('plain',))
                    and med[k + ('zram',)][0] and med[k + ('plain',)][0]))
EOF
}

if [ -n "$table_only" ]; then
	# shellcheck disable=SC2046
	tables "$table_only" $(grep -o ' label=[^ ]*' "$table_only" | cut -d= -f2 | awk '!seen[$0]++')
	exit 0
fi

bench_need_root
workload=${workload:-$root/build/bench/workload}
[ -x "$workload" ] || die "no workload at $workload: build first (meson setup build && meson compile -C build)"
case "$join" in self | shell) ;; *) die "bad --join '$join' (self or shell)" ;; esac
pin=()
if [ -n "$cpus" ]; then
	taskset -c "$cpus" true 2>/dev/null || die "bad --cpus '$cpus' (taskset -c refuses it)"
	pin=(taskset -c "$cpus")
fi
budget_b=$(bench_bytes budget "$budget") || exit 1
bench_count repetitions "$reps"
bench_count --lock-wait "$lock_wait" 0
for t in $threads_list; do bench_count threads "$t"; done
if [ -n "$size" ]; then
	size_b=$(bench_bytes size "$size") || exit 1
else
	size_b=$((4 * budget_b))
fi
[ "$size_b" -gt "$budget_b" ] || echo "pager-vs-zram: note: size $size_b <= budget $budget_b: nothing will swap" >&2

features=$("$workload" --features)
want_zram=0
run_configs=()
for c in $configs; do
	case "$c" in
	uswap | uswap-sigbus | uswap-nospin | uswap-sigbus-spread | uswap-nocarry | uswap-sigbus-nocarry | uswap-sigbus-onecpu | uswap-sigbus-nofc)
		if [[ " $features " == *" uswap "* ]]; then
			run_configs+=("$c")
		else
			echo "pager-vs-zram: workload built without uswap (src/api/uswap.c absent at configure time): skipping the $c configuration" >&2
		fi
		;;
	zram) want_zram=1 run_configs+=(zram) ;;
	plain) run_configs+=(plain) ;;
	*) die "unknown configuration '$c' (uswap, uswap-sigbus, uswap-nospin, uswap-sigbus-spread, uswap-nocarry, uswap-sigbus-nocarry, uswap-sigbus-onecpu, uswap-sigbus-nofc, zram, plain)" ;;
	esac
done
[ ${#run_configs[@]} -gt 0 ] || die "nothing to run"

# ---- setup and the trap that undoes it ------------------------------------

zc_name=pager-vs-zram
. "$here/zram-cgroup.sh"
zsys=$zc_sys
zdev=$zc_dev
child=

cleanup() {
	local rc=$?
	set +e
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		kill "$child"
		wait "$child" 2>/dev/null
	fi
	zc_cleanup
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

cg=
if [ $want_zram = 1 ]; then
	zc_setup $((2 * size_b)) "$budget_b" "$lock_wait"
	cg=$zc_cg
fi

# ---- the runs --------------------------------------------------------------

stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$outdir"
raw="$outdir/pager-vs-zram-$stamp.raw"
md="$outdir/pager-vs-zram-$stamp.md"
: >"$raw"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_begin=$(date +%s)

uswap_env() { # uswap configuration -> its USWAP_* variables
	case "$1" in
	uswap) ;;
	uswap-sigbus) echo USWAP_SIGBUS=1 ;;
	uswap-sigbus-spread) echo USWAP_SIGBUS=1 USWAP_NO_COLOCATE=1 ;;
	uswap-nospin) echo USWAP_NO_SPIN=1 ;;
	uswap-nocarry) echo USWAP_NO_CARRY=1 ;;
	uswap-sigbus-nocarry) echo USWAP_SIGBUS=1 USWAP_NO_CARRY=1 ;;
	uswap-sigbus-onecpu) echo USWAP_SIGBUS=1 ;;
	uswap-sigbus-nofc) echo USWAP_SIGBUS=1 USWAP_NO_FAULT_COMPRESS=1 ;;
	esac
}

# uswap-sigbus-onecpu's CPU: the first this script may run on
onecpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')

run_one() { # config pattern threads rep
	local c=$1 p=$2 t=$3 rep=$4 rc=0 out err
	local args=(--budget "$budget_b" --size "$size_b" --pattern "$p"
		--threads "$t" --seconds "$seconds" --warm "$warm"
		--write-ratio "$write_ratio" --seed "$rep" --label "$c" "${extra[@]}")
	local tmo
	tmo=$(awk -v s="$seconds" -v w="$warm" 'BEGIN { printf "%d", 10 * (s + w) + 300 }')
	out=$(mktemp) err=$(mktemp)
	case "$c" in
	uswap*)
		local upin=("${pin[@]}")
		[ "$c" = uswap-sigbus-onecpu ] && upin=(taskset -c "$onecpu")
		# shellcheck disable=SC2046 # one word per variable
		env $(uswap_env "$c") timeout -k 10 "$tmo" "${upin[@]}" nice -n "$nice_level" "$workload" --mem uswap "${args[@]}" >"$out" 2>"$err" 9>&- &
		;;
	zram)
		echo 0 >"$cg/memory.max_usage_in_bytes"
		echo 0 >"$zsys/mem_used_max" 2>/dev/null || true
		if [ "$join" = self ]; then
			timeout -k 10 "$tmo" "${pin[@]}" nice -n "$nice_level" "$workload" --mem plain --cgroup "$cg" --zram "$zdev" "${args[@]}" >"$out" 2>"$err" 9>&- &
		else
			(
				echo $BASHPID >"$cg/cgroup.procs"
				exec timeout -k 10 "$tmo" "${pin[@]}" nice -n "$nice_level" "$workload" --mem plain --cgroup-report "$cg" --zram "$zdev" "${args[@]}"
			) >"$out" 2>"$err" 9>&- &
		fi
		;;
	plain)
		timeout -k 10 "$tmo" "${pin[@]}" nice -n "$nice_level" "$workload" --mem plain "${args[@]}" >"$out" 2>"$err" 9>&- &
		;;
	esac
	child=$!
	wait "$child" || rc=$?
	child=
	local line
	line=$(grep '^RESULT ' "$out" || true)
	if [ -z "$line" ]; then
		line="RESULT label=$c pattern=$p threads=$t failed=1"
	fi
	echo "$line rep=$rep rc=$rc" >>"$raw"
	printf '  rep %d %-7s %-7s %st: %s\n' "$rep" "$c" "$p" "$t" "$(sed -n 2p "$out")" >&2
	if [ "$rc" != 0 ]; then
		echo "  -> exit status $rc; stderr:" >&2
		head -5 "$err" | sed 's/^/     /' >&2
	fi
	rm -f "$out" "$err"
}

ncfg=${#run_configs[@]}
echo "pager-vs-zram: B=$budget_b S=$size_b ${seconds}s (+${warm}s warm) x $reps reps; configs ${run_configs[*]}; raw lines in $raw" >&2
for rep in $(seq 1 "$reps"); do
	for p in $patterns; do
		for t in $threads_list; do
			# Rotate the order each repetition, so no configuration
			# always runs first (or right after the same one).
			for i in $(seq 0 $((ncfg - 1))); do
				run_one "${run_configs[$(((i + rep - 1) % ncfg))]}" "$p" "$t" "$rep"
			done
		done
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
t_end=$(date +%s)

# ---- the table -------------------------------------------------------------

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
	echo "Command: \`sudo bench/pager-vs-zram.sh -B $budget -S $size_b -t $seconds -W $warm -r $reps -p \"$patterns\" -T \"$threads_list\" -c \"$configs\" -w $write_ratio --join $join${cpus:+ --cpus $cpus}\`"
	echo
	echo "Run $(date -u -d @"$t_begin" '+%Y-%m-%d %H:%M') to $(date -u -d @"$t_end" '+%H:%M') UTC at commit $commit; $(uname -r), $(nproc) vCPU ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average before $load_before, after $load_after."
	echo "B = $((budget_b >> 20)) MiB, S = $((size_b >> 20)) MiB, write ratio $write_ratio, ${seconds}s measured after the first touch and ${warm}s unmeasured, $reps interleaved repetitions per cell."
	echo
	tables "$raw" "${run_configs[@]}"
} | tee "$md"
echo "pager-vs-zram: table in $md" >&2
