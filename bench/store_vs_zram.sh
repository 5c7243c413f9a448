#!/bin/bash
# Run the compressed RAM device against the kernel's zram, side by side
# (bench/store_vs_zram.c), on a freshly dumped CPython heap and a synthetic
# mix.  Needs root and an unused zram device; sets it to lz4, sizes it, and
# resets it on any exit (restoring its compressor), so that the machine is
# left as found.
#
# usage: bench/store_vs_zram.sh [BUILDDIR]   (a release build, e.g.
#        meson setup build-rel --buildtype=release -Ddebug_checks=false)
# env:   REPS (default 7), MIB (data set size, default 64),
#        ZRAM=zram0 (default; refused if in use or initialised) or
#        ZRAM=new (hot-add a private zram device, removed on exit: for when
#        zram0 is busy, e.g. another benchmark swaps on it)
set -euo pipefail

build=${1:-build}
reps=${REPS:-7}
mib=${MIB:-64}
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/bench/store_vs_zram
zram=${ZRAM:-zram0}

[ -x "$bin" ] || { echo "no $bin: meson compile -C $build first" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root (zram sysfs)" >&2; exit 1; }
added=
tmp=$(mktemp -d)
cleanup() {
	if [ -n "${z:-}" ] && [ -n "${armed:-}" ]; then
		echo 1 > $z/reset || true
		echo "$old_alg" > $z/comp_algorithm || true
	fi
	if [ -n "$added" ]; then
		echo "$added" > /sys/class/zram-control/hot_remove || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ "$zram" = new ]; then
	[ -e /sys/class/zram-control/hot_add ] ||
		{ echo "no zram-control (modprobe zram?)" >&2; exit 1; }
	added=$(cat /sys/class/zram-control/hot_add)
	zram=zram$added
	echo "# hot-added $zram (removed on exit)" >&2
fi
z=/sys/block/$zram
if [ ! -e $z ]; then
	echo "no $z (modprobe zram?): refusing to create one" >&2
	exit 1
fi
if [ "$(cat $z/initstate)" != 0 ] || grep -q "^/dev/$zram " /proc/swaps ||
	grep -q "^/dev/$zram " /proc/mounts; then
	echo "$zram is in use or initialised (initstate $(cat $z/initstate)):" \
		"refusing to touch it (ZRAM=new uses a private device)" >&2
	exit 1
fi
grep -qw lz4 $z/comp_algorithm || { echo "zram has no lz4" >&2; exit 1; }
old_alg=$(sed 's/.*\[\(.*\)\].*/\1/' $z/comp_algorithm)
armed=1

python3 "$src/bench/store_pyheap.py" "$tmp/pyheap.bin" "$mib" >&2
echo lz4 > $z/comp_algorithm
echo $(( (mib + 16) * 1024 * 1024 )) > $z/disksize
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $zram: $(cat $z/comp_algorithm), disksize $(cat $z/disksize)"
"$bin" -r "$reps" -s -z /dev/$zram -m $z/mm_stat "$tmp/pyheap.bin" "synthetic:$mib"
