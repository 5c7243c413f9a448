#!/bin/sh
# sigbus_dgram (a C program) under `uswap run --sigbus`: no datagram is
# lost while its receiving buffers are pushed out (src/preload/io.c
# receives through plain memory).  $1: the sigbus_dgram program.
. "$(dirname "$0")/lib.sh"
need_preload
timeout 120 "$USWAP_EXE" run --budget 8M --sigbus --stats-file "$TMP/stats" \
	-- "$1" > "$TMP/got" 2>&1
rc=$?
hung $rc sigbus_dgram
cat "$TMP/got"
[ $rc -eq 0 ] || fail "sigbus_dgram under uswap --sigbus exited $rc"
check_paged "$TMP/stats"
grep -o "received through plain memory [0-9]*" "$TMP/stats"
exit 0
