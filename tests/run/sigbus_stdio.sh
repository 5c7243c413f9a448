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
run_sigbus sigbus_stdio "$1" "$TMP" < "$TMP/in"
grep -o "stdio buffers given [0-9]*" "$TMP/stats"
exit 0
