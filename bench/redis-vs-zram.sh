#!/bin/bash
# redis-vs-zram.sh: one real program, Debian's redis-server, under uswap with
# a budget B, against the same program in a memory cgroup limited to B with
# the kernel's zram (lz4) as swap, and without a limit (issue 6, "A
# benchmark").  Side by side in one run, interleaved, R repetitions:
#
#   uswap   `uswap run --budget B -- redis-server ...`
#   zram    redis-server in a memory cgroup (v1) limited to B, zram0 the only
#           swap (bench/zram-cgroup.sh sets it up and puts it back)
#   plain   redis-server, no limit
#   zram-mimalloc  as zram, with mimalloc preloaded into redis-server: the
#           heap `uswap run` gives it, so that the allocator's share of a
#           difference can be told from the swap's (not in the default set)
#
# Each run: start the server, load N keys of SIZE bytes of text-like values
# (bench/redis_load.py | redis-cli --pipe; about 4 x B of data), then
# redis-benchmark GET and SET over the whole keyspace (random keys, 4
# clients).  Reported: load keys/s, GET/SET requests/s with p50/p99, memory
# held at the end (uswap: the server's VmRSS, which includes uswap's
# compressed store; zram: the cgroup's usage plus zram's mem_used_total;
# plain: VmRSS) and its peak.  Table (medians, min-max, ratios uswap/zram) in
# bench/results/redis-vs-zram-DATE.md.  Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bench_name="redis-vs-zram"
# shellcheck source=common.sh
. "$here/common.sh"

budget=32M
data=
size=1000
requests=100000
clients=4
reps=3
configs="uswap zram plain"
uswap_cmd=
outdir="$here/results"
lock_wait=600
port=16379

usage() {
	cat <<EOF
usage: sudo $0 [options]
  -B, --budget B        uswap budget / cgroup limit (default $budget)
  -D, --data BYTES      bytes of values to load (default 4 x budget)
  -s, --value-size N    bytes per value (default $size)
  -n, --requests N      redis-benchmark requests per test (default $requests)
  -C, --clients N       redis-benchmark clients (default $clients)
  -c, --configs "C.."   any of "uswap zram plain zram-mimalloc uswap-nospin
                        uswap-sigbus" (default "uswap zram plain";
                        uswap-nospin is uswap with --no_spin, uswap-sigbus
                        with --sigbus, the in-thread mode)
EOF
	bench_usage_common
}

while [ $# -gt 0 ]; do
	case "$1" in
	-B | --budget) budget=$2; shift 2 ;;
	-D | --data) data=$2; shift 2 ;;
	-s | --value-size) size=$2; shift 2 ;;
	-n | --requests) requests=$2; shift 2 ;;
	-C | --clients) clients=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*)
		bench_option "$@" || { usage >&2; die "unknown option '$1'"; }
		shift 2
		;;
	esac
done

bench_need_root
for t in redis-server redis-cli redis-benchmark; do
	command -v $t >/dev/null || die "needs $t (apt-get install redis-server redis-tools)"
done
python=/usr/bin/python3
[ -x $python ] || die "needs /usr/bin/python3"
uswap_cmd=${uswap_cmd:-$root/build/tools/uswap}
budget_b=$(bench_bytes budget "$budget") || exit 1
if [ -n "$data" ]; then
	data_b=$(bench_bytes "data size" "$data") || exit 1
else
	data_b=$((4 * budget_b))
fi
bench_count "value size" "$size" 16
bench_count requests "$requests"
bench_count clients "$clients"
bench_count repetitions "$reps"
bench_count --lock-wait "$lock_wait" 0
nkeys=$((data_b / size))
bench_configs "uswap zram plain zram-mimalloc uswap-nospin uswap-sigbus"
mimalloc=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
if [[ " $configs " == *" zram-mimalloc "* ]] && [ ! -e "$mimalloc" ]; then
	die "zram-mimalloc: no $mimalloc (apt-get install libmimalloc2.0)"
fi

zc_name=redis-vs-zram
. "$here/zram-cgroup.sh"
server=
work=$(mktemp -d /tmp/redis-vs-zram.XXXXXX)

cleanup() {
	local rc=$?
	set +e
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		kill "$server"
		wait "$server" 2>/dev/null
	fi
	zc_cleanup
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [ $want_zram = 1 ]; then
	zc_setup $((2 * data_b + (256 << 20))) "$budget_b" "$lock_wait"
fi

stamp=$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$outdir"
raw="$outdir/redis-vs-zram-$stamp.raw"
md="$outdir/redis-vs-zram-$stamp.md"
: >"$raw"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_begin=$(date +%s)

status_kb() { # pid field -> kB
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# The server's pid once it answers; the uswap and zram runs exec into it.
start_server() { # config
	local c=$1 args=(--port "$port" --save "" --appendonly no --dir "$work"
		--protected-mode no --daemonize no --logfile "$work/redis.log")
	case "$c" in
	uswap) "$uswap_cmd" run --budget "$budget_b" --stats -- redis-server "${args[@]}" 2>"$work/uswap.err" 9>&- & ;;
	uswap-nospin) "$uswap_cmd" run --budget "$budget_b" --no_spin --stats -- redis-server "${args[@]}" 2>"$work/uswap.err" 9>&- & ;;
	uswap-sigbus) "$uswap_cmd" run --budget "$budget_b" --sigbus --stats -- redis-server "${args[@]}" 2>"$work/uswap.err" 9>&- & ;;
	zram | zram-mimalloc)
		echo 0 >"$zc_cg/memory.max_usage_in_bytes"
		echo 0 >"$zc_sys/mem_used_max" 2>/dev/null || true
		(
			echo $BASHPID >"$zc_cg/cgroup.procs"
			[ "$c" = zram ] || export LD_PRELOAD=$mimalloc
			exec redis-server "${args[@]}"
		) 9>&- &
		;;
	plain) redis-server "${args[@]}" 9>&- & ;;
	esac
	server=$!
	for _ in $(seq 1 100); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
		kill -0 "$server" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/redis.log" "$work/uswap.err" 2>/dev/null | tail -5 >&2
	die "$c: redis-server did not come up"
}

stop_server() {
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	server=
}

held_now() { # config -> bytes held now
	case "$1" in
	zram*) echo $(($(cat "$zc_cg/memory.usage_in_bytes") + $(zc_mem_used))) ;;
	*) echo $(($(status_kb "$server" VmRSS) * 1024)) ;;
	esac
}

# held_anon - config -> anonymous bytes held now: VmRSS without the
# program's file pages (its binary and libraries), which the zram cgroup
# is not charged for when they were in the page cache already; zram: the
# cgroup's anonymous memory plus zram's.
held_anon() {
	case "$1" in
	zram*) echo $(($(awk '$1 == "total_rss" { print $2 }' "$zc_cg/memory.stat") + $(zc_mem_used))) ;;
	*) echo $((($(status_kb "$server" RssAnon) + $(status_kb "$server" RssShmem)) * 1024)) ;;
	esac
}

held_peak() {
	case "$1" in
	zram*) echo $(($(cat "$zc_cg/memory.max_usage_in_bytes") + $(awk '{ print $5 }' "$zc_sys/mm_stat"))) ;;
	*) echo $(($(status_kb "$server" VmHWM) * 1024)) ;;
	esac
}

# killed - the server died under the run (the kernel's OOM killer in the
# zram configuration's cgroup, most often: SIGKILL): a failed run, kept
# in the raw lines (the table counts the runs that completed), not the end
# of the benchmark.  Return: 0 when it died.
killed() { # config rep phase
	local rc=0
	kill -0 "$server" 2>/dev/null && return 1
	wait "$server" 2>/dev/null || rc=$?
	server=
	echo "RESULT label=$1 rep=$2 failed=died-while-$3 status=$rc" >>"$raw"
	echo "  $1 rep $2: redis-server died while $3 (exit status $rc; 137 = SIGKILL, the OOM killer's); run counted as failed" >&2
	return 0
}

run_one() { # config rep
	local c=$1 rep=$2 t0 t1 line="RESULT label=$1 rep=$2" bench swapouts=-
	start_server "$c"
	t0=$(date +%s.%N)
	if ! "$python" "$here/redis_load.py" "$nkeys" "$size" "$rep" | redis-cli -p "$port" --pipe >"$work/load.out" 2>&1; then
		killed "$c" "$rep" loading && return
		die "$c: loading failed: $(tail -2 "$work/load.out")"
	fi
	t1=$(date +%s.%N)
	[ "$(redis-cli -p "$port" dbsize)" = "$nkeys" ] || {
		killed "$c" "$rep" loading && return
		die "$c: dbsize $(redis-cli -p "$port" dbsize), want $nkeys"
	}
	line+=" load_kps=$(awk -v n="$nkeys" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
	bench=$(redis-benchmark -p "$port" -t get,set -n "$requests" -r "$nkeys" -c "$clients" -d "$size" --csv 2>/dev/null) || true
	killed "$c" "$rep" benchmarking && return
	# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
	line+=$(echo "$bench" | tr -d '"' | awk -F, '$1 == "GET" || $1 == "SET" {
		t = tolower($1); printf " %s_rps=%s %s_p50_ms=%s %s_p99_ms=%s", t, $2, t, $5, t, $7 }')
	line+=" held=$(held_now "$c") peak=$(held_peak "$c") held_anon=$(held_anon "$c")"
	if [[ "$c" == uswap* ]]; then
		# PID COMMAND BUDGET RESIDENT CACHED STORED COMPR RATIO HELD ... SWAPOUT
		swapouts=$("$uswap_cmd" stat --bytes "$server" 2>/dev/null |
			awk 'NR == 2 { printf "%s uswap_stored=%s uswap_compr=%s", $NF, $6, $7 }')
		line+=" swapouts=${swapouts:-?}"
	fi
	# what zram holds: data swapped, compressed, memory used, pages
	# stored as same-filled and as huge (raw) (Documentation/admin-guide/
	# blockdev/zram.rst, mm_stat)
	[ "${c#zram}" = "$c" ] || line+=$(awk '{ printf " zram_orig=%s zram_compr=%s zram_used=%s zram_same_pages=%s zram_huge_pages=%s", $1, $2, $3, $6, $8 }' "$zc_sys/mm_stat")
	stop_server
	echo "$line" >>"$raw"
	echo "  $line" >&2
}

echo "redis-vs-zram: B=$budget_b, $nkeys keys x $size B, $requests requests x GET,SET, $clients clients, $reps reps; configs $configs; raw lines in $raw" >&2
read -r -a cfgs <<<"$configs"
ncfg=${#cfgs[@]}
for rep in $(seq 1 "$reps"); do
	for i in $(seq 0 $((ncfg - 1))); do
		run_one "${cfgs[$(((i + rep - 1) % ncfg))]}" "$rep"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
t_end=$(date +%s)

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "Command: \`sudo bench/redis-vs-zram.sh -B $budget -D $data_b -s $size -n $requests -C $clients -r $reps -c \"$configs\"\`"
	echo
	echo "Run $(date -u -d @"$t_begin" '+%Y-%m-%d %H:%M') to $(date -u -d @"$t_end" '+%H:%M') UTC at commit $commit; $(redis-server --version | cut -d' ' -f3); $(uname -r), $(nproc) vCPU; load average before $load_before, after $load_after."
	echo "B = $((budget_b >> 20)) MiB; $nkeys keys of $size bytes ($((data_b >> 20)) MiB of values); redis-benchmark GET and SET, $requests requests each, $clients clients, random keys over the whole keyspace; $reps interleaved repetitions."
	echo
	"$python" "$here/redis_table.py" "$raw" $configs
} | tee "$md"
echo "redis-vs-zram: table in $md" >&2
