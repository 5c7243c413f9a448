#!/bin/bash
# stress-kernel-swap: the stress tier while the kernel's own swap works on
# the process (docs/pager.md, "The kernel's own swap").
#
# usage: kernel_swap.sh MM_STRESS ZRAM_CGROUP_SH
#
# A kernel that swaps pages out uswap's memory behind its back (this
# machine's DAMON pageout scheme does, as soon as any swap exists), and
# Linux 6.18's UFFDIO_MOVE then reports EEXIST for moves it has done
# (src/mm/mm.c, mm_move).  Here mm_stress --pageout pushes every
# private mapping of the process to kernel swap all the time:
#   1. it must pass (every policy's protocol, unified here);
#   2. with --move-unverified (the old trust in that EEXIST) it must be
#      caught losing pages, whenever the kernel misreported a move (a run
#      with no misreport is retried, then skipped: a kernel without the
#      quirk has nothing to catch).
# Needs kernel swap: uses the active swap if there is one, else (as root)
# turns zram0 into swap for the test's run, under the benchmarks' lock,
# and puts the machine back (bench/zram-cgroup.sh).  Otherwise skipped.
set -u
stress=$1
zc_name=stress-kernel-swap
zc_fail_code=77 # no zram0, or busy: skipped
# shellcheck source=../../bench/zram-cgroup.sh
. "$2"

if ! grep -q '^/' /proc/swaps; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: no kernel swap, and only root can set up zram0"
		exit 77
	fi
	trap zc_cleanup EXIT
	trap 'exit 1' INT TERM
	zc_swap_on $((256 << 20)) 60
	grep -q "^/dev/$zc_dev " /proc/swaps || zc_die "swapon /dev/$zc_dev did not take"
fi
grep '^/' /proc/swaps

echo "== 1. the pager under kernel swap"
"$stress" unified 0 3000 --pageout
rc=$?
[ $rc = 0 ] || { echo "FAIL: mm_stress --pageout exited $rc"; exit 1; }

echo "== 2. the same with UFFDIO_MOVE's EEXIST taken at its word"
for try in 1 2 3; do
	"$stress" unified 0 3000 --pageout --move-unverified --expect-loss
	rc=$?
	[ $rc = 77 ] || break
done
case $rc in
0) echo "PASS" ;;
77) echo "SKIP: the kernel misreported no move in 3 runs"; exit 77 ;;
*) echo "FAIL: --move-unverified was not caught (exit $rc)"; exit 1 ;;
esac
