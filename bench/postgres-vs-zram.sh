#!/usr/bin/env bash
# postgres-vs-zram.sh: one query of a real program, Debian's PostgreSQL,
# whose backend needs more memory than it is given: an in-memory sort of N
# md5 strings (work_mem 1GB: no spill to disk; about 190 MB of backend
# memory at N = 600000, VmHWM without any limit).  Side by side in one run,
# for each budget B:
#   uswap   the server under `uswap run --budget B` (every process its own
#           budget; the backend is the one that pages)
#   zram    the server plain, the query's backend alone moved into a memory
#           cgroup (v1) limited to B, zram0 (lz4) the only swap
#           (bench/zram-cgroup.sh sets it up and puts it back)
#   plain   the server plain, no limit
# Each run's result is checked against Python's; a backend the kernel's
# OOM killer ended counts as "killed", any other wrong answer aborts.
# Prints a markdown table (medians, min-max of the query's wall time,
# completed runs, ratio uswap/zram) and writes it to
# bench/results/postgres-vs-zram-DATE.md.  Run as root: the server runs as
# nobody (PostgreSQL refuses root); when nobody may not use userfaultfd,
# vm.unprivileged_userfaultfd is 1 for the run and put back after.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bench_name="postgres-vs-zram"
# shellcheck source=common.sh
. "$here/common.sh"
budgets="64M 96M 128M"
rows=600000
reps=3
configs="uswap zram plain"
uswap_cmd=
lock_wait=600
outdir=$root/bench/results

usage() {
	cat <<EOF
usage: $0 [OPTIONS]
  -B, --budgets "B.."   budgets / cgroup limits (default "$budgets")
  -n, --rows N          strings sorted (default $rows)
  -c, --configs "C.."   any of "uswap zram plain uswap-nospin uswap-sigbus"
                        (default "$configs"; uswap-nospin is uswap with
                        --no_spin, uswap-sigbus uswap run --sigbus)
EOF
	bench_usage_common
}

while [ $# -gt 0 ]; do
	case "$1" in
	-B | --budgets) budgets=$2; shift 2 ;;
	-n | --rows) rows=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*)
		bench_option "$@" || { usage >&2; die "unknown option '$1'"; }
		shift 2
		;;
	esac
done

bench_need_root
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] && [ -x "$pgbin/postgres" ] || die "needs PostgreSQL (apt-get install postgresql-15)"
command -v psql >/dev/null || die "needs psql"
command -v setpriv >/dev/null || die "needs setpriv"
bench_count "row count" "$rows"
bench_count repetitions "$reps"
bench_count --lock-wait "$lock_wait" 0
uswap_cmd=${uswap_cmd:-$root/build/tools/uswap}
bench_budgets_max "$budgets"
bench_configs "uswap uswap-nospin uswap-sigbus zram plain"
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [[ " $configs " == *" uswap"* ]] && ! $as_nobody test -x "$uswap_cmd"; then
	die "nobody cannot run $uswap_cmd (a directory above it is not searchable)"
fi

zc_name=postgres-vs-zram
. "$here/zram-cgroup.sh"
work=$(mktemp -d /tmp/postgres-vs-zram.XXXXXX)
chmod 711 "$work"
sysctl_orig=
postmaster=

stop_server() {
	[ -n "$postmaster" ] || return 0
	if ! timeout 60 $as_nobody "$pgbin/pg_ctl" -D "$work/data" stop -m fast >/dev/null 2>&1; then
		pkill -9 -P "$postmaster" 2>/dev/null
		kill -9 "$postmaster" 2>/dev/null
		sleep 1
		rm -f "$work/data/postmaster.pid"
	fi
	postmaster=
}

cleanup() {
	local rc=$?
	set +e
	stop_server
	zc_cleanup
	[ -z "$sysctl_orig" ] || echo "$sysctl_orig" >/proc/sys/vm/unprivileged_userfaultfd
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [[ " $configs " == *" uswap"* ]] && ! $as_nobody test -w /dev/userfaultfd &&
	[ "$(cat /proc/sys/vm/unprivileged_userfaultfd)" = 0 ]; then
	sysctl_orig=0
	echo 1 >/proc/sys/vm/unprivileged_userfaultfd
fi
if [ $want_zram = 1 ]; then
	zc_setup $((2 * bench_max_b + (512 << 20))) "$bench_max_b" "$lock_wait"
	procs=$zc_cg/cgroup.procs
else
	procs=/dev/null
fi

chown 65534:65534 "$work"
$as_nobody "$pgbin/initdb" -D "$work/data" -A trust -U postgres >"$work/initdb.log" 2>&1 ||
	die "initdb failed: $(tail -3 "$work/initdb.log")"
want=$(/usr/bin/python3 -c "
import hashlib
h = sorted(hashlib.md5(str(i).encode()).hexdigest() for i in range(1, $rows + 1))
print('%d|%s|%s|%s' % (len(h), h[0], h[-1], hashlib.md5(','.join(h).encode()).hexdigest()))")
# The backend moves itself into the cgroup (zram) before the query: psql
# runs as root here, so its \! may write cgroup.procs.
cat >"$work/q.sql" <<EOF
SELECT pg_backend_pid() AS pid \gset
\setenv PGPID :pid
\echo backend :pid
\! [ "\$MOVE" = 0 ] || echo \$PGPID > $procs
SET work_mem = '1GB';
SELECT count(*), min(h), max(h), md5(string_agg(h, ',' ORDER BY h)) FROM (SELECT md5(i::text) h FROM generate_series(1, $rows) i ORDER BY 1) s;
EOF

start_server() { # config budget
	local pre=()
	case "$1" in
	uswap) pre=("$uswap_cmd" run --budget "$2" --stats-file "$work/stats" --) ;;
	uswap-nospin) pre=("$uswap_cmd" run --budget "$2" --no_spin --stats-file "$work/stats" --) ;;
	uswap-sigbus) pre=("$uswap_cmd" run --budget "$2" --sigbus --stats-file "$work/stats" --) ;;
	esac
	rm -f "$work/stats"
	$as_nobody "${pre[@]}" "$pgbin/postgres" -D "$work/data" -k "$work" -p 5498 \
		-c listen_addresses= >"$work/log" 2>&1 9>&- &
	for _ in $(seq 150); do
		if psql -h "$work" -p 5498 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
			postmaster=$(head -1 "$work/data/postmaster.pid")
			return 0
		fi
		sleep 0.2
	done
	die "the server ($1) did not start: $(tail -3 "$work/log")"
}

stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$outdir"
raw="$outdir/postgres-vs-zram-$stamp.raw"
md="$outdir/postgres-vs-zram-$stamp.md"
: >"$raw"
echo "postgres-vs-zram: N=$rows, budgets $budgets, $reps reps, configs $configs; raw lines in $raw" >&2
for rep in $(seq "$reps"); do
	for b in $budgets; do
		for c in $configs; do
			bb=$(numfmt --from=iec "${b%B}")
			if [ "$c" = zram ]; then
				echo 0 >"$zc_cg/memory.force_empty" 2>/dev/null
				echo "$bb" >"$zc_cg/memory.limit_in_bytes" || die "cannot set the cgroup limit $bb"
			fi
			start_server "$c" "$b"
			maj0=0
			[ "$c" = zram ] && maj0=$(awk '$1 == "total_pgmajfault" { print $2 }' "$zc_cg/memory.stat")
			t0=$(date +%s.%N)
			got=$(MOVE=$([ "$c" = zram ] && echo 1 || echo 0) \
				psql -h "$work" -p 5498 -U postgres -d postgres -At -f "$work/q.sql" 2>&1)
			t1=$(date +%s.%N)
			res=$(echo "$got" | grep -v '^SET$' | tail -1)
			if [ "$res" = "$want" ]; then
				status=ok
			elif echo "$got" | grep -q 'server closed the connection' &&
				grep -q 'was terminated by signal 9' "$work/log"; then
				status=killed
			else
				die "$c at $b returned '$got', want '$want'"
			fi
			stop_server
			pid=$(echo "$got" | sed -n 's/^backend //p')
			case "$c" in
			uswap | uswap-nospin | uswap-sigbus) majors=$(sed -n "s/^uswap\[$pid .*major \([0-9]*\),.*/\1/p" "$work/stats") ;;
			zram) majors=$(($(awk '$1 == "total_pgmajfault" { print $2 }' "$zc_cg/memory.stat") - maj0)) ;;
			*) majors=0 ;;
			esac
			secs=$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")
			echo "$rep $b $c $status $secs ${majors:-?}" | tee -a "$raw" >&2
		done
	done
done

/usr/bin/python3 - "$raw" "$budgets" "$configs" "$rows" >"$md" <<'EOF'
import statistics, sys
raw, budgets, configs, rows = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
runs = {}
for line in open(raw):
    rep, b, c, status, secs, majors = line.split()
    runs.setdefault((b, c), []).append((status, float(secs), majors))
print(f"Sort of {rows} md5 strings in one PostgreSQL backend (work_mem 1GB); "
      "seconds of the query, median (min-max) of the runs that completed, "
      "completed/all (the rest: killed by the kernel's OOM killer), "
      "median major faults of the backend in brackets\n")
# a ratio column for each uswap configuration, when zram ran too
ratios = [c for c in configs if c.startswith("uswap")] if "zram" in configs else []
print("| budget | " + " | ".join(configs) + " |" + "".join(f" time {c} / zram |" for c in ratios))
print("|---|" + "---|" * (len(configs) + len(ratios)))
for b in budgets:
    cells, med = [], {}
    for c in configs:
        r = runs.get((b, c), [])
        ok = [s for st, s, _ in r if st == "ok"]
        maj = [int(m) for st, _, m in r if st == "ok" and m.isdigit()]
        if ok:
            med[c] = statistics.median(ok)
            mj = f" [{int(statistics.median(maj))}]" if maj and c != "plain" else ""
            cells.append(f"{med[c]:.2f} ({min(ok):.2f}-{max(ok):.2f}) {len(ok)}/{len(r)}{mj}")
        else:
            cells.append(f"- {len(ok)}/{len(r)}")
    ratio = "".join(f" {med[c] / med['zram']:.2f}× |" if c in med and "zram" in med else " - |"
                    for c in ratios)
    print(f"| {b} | " + " | ".join(cells) + " |" + ratio)
EOF
cat "$md"
echo "postgres-vs-zram: table in $md" >&2
