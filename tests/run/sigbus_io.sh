#!/bin/sh
# sigbus_io (a C program) under `uswap run --sigbus`: the I/O calls the
# shim wraps (src/preload/io.c) move the right bytes from and into heap
# pages not in memory, where the kernel alone gives EFAULT in that mode.
# $1: the sigbus_io program.
. "$(dirname "$0")/lib.sh"
need_preload
"$1" > "$TMP/want" 2>&1 || fail "sigbus_io fails even without uswap: $(cat "$TMP/want")"
run_sigbus sigbus_io "$1"
grep -o "EFAULT retried [0-9]*" "$TMP/stats"
# A SIGBUS sent to the process ends it, as without uswap, even when no
# fault follows; ignored, it does not (uswap's handler passes it on:
# src/mm/fault.c).  Before 2026-11-27 the first survived and the second
# died at the next fault (uswap's handler was reset).
"$USWAP_EXE" run --budget 8M --sigbus -- "$1" --kill > "$TMP/kill" 2>&1
rc=$?
[ $rc -eq 135 ] && ! grep -q survived "$TMP/kill" ||
	fail "kill -BUS under uswap --sigbus: exit $rc, $(cat "$TMP/kill")"
"$USWAP_EXE" run --budget 8M --sigbus -- /bin/sh -c 'trap "" BUS; kill -BUS $$; echo survived' \
	> "$TMP/kill" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q survived "$TMP/kill" ||
	fail "kill -BUS, ignored, under uswap --sigbus: exit $rc, $(cat "$TMP/kill")"
exit 0
