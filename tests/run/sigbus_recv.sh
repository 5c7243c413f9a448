#!/bin/sh
# sigbus_recv (a C program) under `uswap run --sigbus`: no datagram,
# eventfd count or connection is lost while the receiving buffers are
# pushed out (src/preload/bounce.c receives through plain memory).
# $1: the sigbus_recv program.
. "$(dirname "$0")/lib.sh"
need_preload
timeout 120 "$USWAP_EXE" run --budget 8M --sigbus --stats-file "$TMP/stats" \
	-- "$1" > "$TMP/got" 2>&1
rc=$?
hung $rc sigbus_recv
cat "$TMP/got"
[ $rc -eq 0 ] || fail "sigbus_recv under uswap --sigbus exited $rc"
check_paged "$TMP/stats"
grep -o "received through plain memory [0-9]*" "$TMP/stats"
exit 0
