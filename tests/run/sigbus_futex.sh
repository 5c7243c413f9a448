#!/bin/sh
# sigbus_futex (a C program) under `uswap run --sigbus`: glibc's waits on
# objects in heap pages that uswap keeps pushing out.  Without
# src/preload/futex.c their futex(2) gets EFAULT and glibc aborts ("The
# futex facility returned an unexpected error code.", exit 134): this
# script fails 3 runs of 4 without futex.c's pthread wrappers, 3 of 4
# without its syscall(3) ("futex(FUTEX_WAIT): Bad address"), 4 of 4
# without its from_shim check (exit 139).
# $1: the sigbus_futex program.
. "$(dirname "$0")/lib.sh"
need_preload
"$1" 1 8 maps > "$TMP/want" 2>&1 || fail "sigbus_futex fails even without uswap: $(cat "$TMP/want")"
run_sigbus sigbus_futex "$1" 15 64
# the same while threads map, unmap and read into the heap: the shim's
# own locks go straight through its wrappers (futex.c, from_shim); when
# they did not, SIGSEGV (exit 139) in 3 runs of 3
run_sigbus sigbus_futex "$1" 12 64 maps
grep -o "futex waits kept [0-9]*" "$TMP/stats" | head -1
exit 0
