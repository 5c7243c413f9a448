# zram-cgroup.sh: the kernel-zram baseline of uswap's benchmarks, sourced by
# the bench/*-vs-zram.sh scripts and tests/mm/kernel_swap.sh.  It takes zram0 under
# flock /run/uswap-zram.lock (fd 9), makes it the only swap device (lz4,
# priority 100) and creates a memory cgroup (v1) limited to a budget with
# swappiness 100 and unlimited memory+swap; zc_cleanup puts everything back
# (swapoff, reset, the original compression algorithm, rmdir).  The caller
# must call zc_cleanup from its EXIT trap and set zc_name (for messages).
#
#   zc_setup DISKSIZE_BYTES LIMIT_BYTES LOCK_WAIT_SECONDS
#   -> $zc_cg (the cgroup directory), $zc_sys (/sys/block/zram0)
#   zc_swap_on DISKSIZE_BYTES LOCK_WAIT_SECONDS
#   -> the swap device alone, no cgroup (tests/mm/kernel_swap.sh)
# zc_die exits with $zc_fail_code (default 1; a test sets 77, "skipped").

zc_name=${zc_name:-zram-cgroup}
zc_dev=zram0
zc_sys=/sys/block/$zc_dev
zc_cg=
zc_on=0
zc_alg_orig=

zc_die() {
	echo "$zc_name: $*" >&2
	exit "${zc_fail_code:-1}"
}

zc_cleanup() {
	if [ -n "$zc_cg" ] && [ -d "$zc_cg" ]; then
		if [ -s "$zc_cg/cgroup.procs" ]; then
			echo "$zc_name: cgroup $zc_cg still has tasks: $(tr '\n' ' ' <"$zc_cg/cgroup.procs")" >&2
		fi
		rmdir "$zc_cg" || echo "$zc_name: could not remove $zc_cg" >&2
	fi
	if [ $zc_on -ge 2 ]; then
		swapoff "/dev/$zc_dev" || echo "$zc_name: swapoff /dev/$zc_dev failed" >&2
	fi
	if [ $zc_on -ge 1 ]; then
		echo 1 >"$zc_sys/reset" || echo "$zc_name: reset of $zc_dev failed" >&2
		if [ -n "$zc_alg_orig" ]; then
			echo "$zc_alg_orig" >"$zc_sys/comp_algorithm" 2>/dev/null ||
				echo "$zc_name: could not restore $zc_dev comp_algorithm $zc_alg_orig" >&2
		fi
	fi
	zc_cg= zc_on=0
	# The lock (fd 9) goes with the process.
}

zc_swap_on() {
	local disksize=$1 lock_wait=$2 waited=0

	[ -e "$zc_sys" ] || modprobe zram 2>/dev/null || true
	[ -e "$zc_sys" ] || zc_die "no $zc_sys (zram module missing?)"

	exec 9>/run/uswap-zram.lock
	if ! flock -n 9; then
		echo "$zc_name: $zc_dev is locked by another benchmark (/run/uswap-zram.lock); waiting up to ${lock_wait}s" >&2
		flock -w "$lock_wait" 9 || zc_die "gave up waiting for /run/uswap-zram.lock after ${lock_wait}s"
	fi
	# Someone who does not take the lock (e.g. bench/store_vs_zram.sh,
	# which refuses a busy device itself) may hold zram0 for a while:
	# wait for it, then refuse.
	zc_busy() { [ "$(cat "$zc_sys/disksize")" != 0 ] || grep -q "^/dev/$zc_dev " /proc/swaps; }
	while zc_busy; do
		if [ $waited -ge "$lock_wait" ]; then
			zc_die "$zc_dev is in use (disksize $(cat "$zc_sys/disksize"), $(grep -c "^/dev/$zc_dev " /proc/swaps) swap entries) by something that did not take /run/uswap-zram.lock, for ${lock_wait}s; refusing to touch it"
		fi
		[ $waited = 0 ] && echo "$zc_name: $zc_dev is in use (disksize $(cat "$zc_sys/disksize")) by something outside the lock; waiting up to ${lock_wait}s" >&2
		sleep 5
		waited=$((waited + 5))
	done

	zc_alg_orig=$(sed -n 's/.*\[\([^]]*\)\].*/\1/p' "$zc_sys/comp_algorithm")
	zc_on=1
	echo lz4 >"$zc_sys/comp_algorithm" || zc_die "$zc_dev: cannot select lz4 (available: $(cat "$zc_sys/comp_algorithm"))"
	echo "$disksize" >"$zc_sys/disksize"
	mkswap "/dev/$zc_dev" >/dev/null
	swapon -p 100 "/dev/$zc_dev"
	zc_on=2
}

zc_setup() {
	local disksize=$1 limit=$2 lock_wait=$3 memcg

	memcg=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)
	[ -n "$memcg" ] || zc_die "no cgroup v1 memory controller in /proc/mounts"
	zc_swap_on "$disksize" "$lock_wait"

	zc_cg=$memcg/uswap-bench.$$
	mkdir "$zc_cg"
	echo 100 >"$zc_cg/memory.swappiness"
	echo "$limit" >"$zc_cg/memory.limit_in_bytes"
	if [ -e "$zc_cg/memory.memsw.limit_in_bytes" ]; then
		# memory+swap unlimited: only memory is limited, swap is free.
		echo -1 >"$zc_cg/memory.memsw.limit_in_bytes"
	fi
	[ "$(cat "$zc_cg/memory.swappiness")" = 100 ] || zc_die "$zc_cg: memory.swappiness did not take"
}

# zc_mem_used: bytes the zram device holds now (mm_stat's mem_used_total).
zc_mem_used() {
	awk '{ print $3 }' "$zc_sys/mm_stat"
}
