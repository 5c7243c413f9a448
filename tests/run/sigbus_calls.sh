#!/bin/sh
# sigbus_calls (a C program) under `uswap run --sigbus`: stat, getrandom,
# getcwd, readlink, getdents64, pipe, socketpair, the waits and
# sigtimedwait into heap pages not in memory (src/preload/fill.c and
# bounce.c).  $1: the sigbus_calls program.
. "$(dirname "$0")/lib.sh"
need_preload
"$1" > "$TMP/want" 2>&1 || fail "sigbus_calls fails even without uswap: $(cat "$TMP/want")"
timeout 120 "$USWAP_EXE" run --budget 8M --sigbus --stats-file "$TMP/stats" \
	-- "$1" > "$TMP/got" 2>&1
rc=$?
hung $rc sigbus_calls
cat "$TMP/got"
[ $rc -eq 0 ] || fail "sigbus_calls under uswap --sigbus exited $rc"
check_paged "$TMP/stats"
exit 0
