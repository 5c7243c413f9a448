#!/bin/sh
# shim_ops (a C program) under `uswap run`: madvise, mremap and munmap of
# swapped-out uswap memory give the contents Linux gives without uswap,
# and forked children work; with handler threads and in the in-thread mode.
# $1: the shim_ops program.
. "$(dirname "$0")/lib.sh"
need_preload
"$1" > "$TMP/want" 2>&1 || fail "shim_ops fails even without uswap: $(cat "$TMP/want")"
watched 55 "$USWAP_EXE" run --budget 8M --stats-file "$TMP/stats" -- "$1" > "$TMP/got" 2>&1
rc=$?
hung $rc shim_ops "$TMP/got"
cat "$TMP/got"
[ $rc -eq 0 ] || fail "shim_ops under uswap exited $rc"
check_paged "$TMP/stats"
# All of it again in the in-thread mode: until 2026-11-27 only the fork
# scenarios ran there (--fork-only), the system calls failing with EFAULT
# and new threads dying once the locale data was out (src/preload/io.c,
# locale.c, signals.c).  A forked child leaves the mode (src/mm/fork.c).
watched 55 "$USWAP_EXE" run --budget 8M --sigbus --stats-file "$TMP/stats-sigbus" \
	-- "$1" > "$TMP/got" 2>&1
rc=$?
hung $rc "shim_ops (--sigbus)" "$TMP/got"
cat "$TMP/got"
[ $rc -eq 0 ] || fail "shim_ops under uswap --sigbus exited $rc"
check_paged "$TMP/stats-sigbus"
exit 0
