#!/bin/sh
# sigbus_stdio (a C program) under `uswap run --sigbus`: stdio reads and
# writes every byte right while the heap is pushed out between calls
# (src/preload/stdio.c gives streams buffers out of uswap memory).
# $1: the sigbus_stdio program.
. "$(dirname "$0")/lib.sh"
need_preload
"$1" --make "$TMP/in" || fail "sigbus_stdio --make failed"
"$1" "$TMP" < "$TMP/in" > "$TMP/want" 2>&1 ||
	fail "sigbus_stdio fails even without uswap: $(cat "$TMP/want")"
timeout 120 "$USWAP_EXE" run --budget 8M --sigbus --stats-file "$TMP/stats" \
	-- "$1" "$TMP" < "$TMP/in" > "$TMP/got" 2>&1
rc=$?
hung $rc sigbus_stdio
cat "$TMP/got"
[ $rc -eq 0 ] || fail "sigbus_stdio under uswap --sigbus exited $rc"
check_paged "$TMP/stats"
grep -o "stdio buffers given [0-9]*" "$TMP/stats"
exit 0
