#!/bin/sh
# sigbus_calls (a C program) under `uswap run --sigbus`: stat, getrandom,
# getcwd, readlink, getdents64, pipe, socketpair, the waits and
# sigtimedwait into heap pages not in memory (src/preload/fill.c and
# bounce.c).  $1: the sigbus_calls program.
. "$(dirname "$0")/lib.sh"
need_preload
"$1" > "$TMP/want" 2>&1 || fail "sigbus_calls fails even without uswap: $(cat "$TMP/want")"
run_sigbus sigbus_calls "$1"
exit 0
