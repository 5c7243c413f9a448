#!/bin/sh
# sigbus_recv (a C program) under `uswap run --sigbus`: no datagram,
# eventfd count or connection is lost while the receiving buffers are
# pushed out (src/preload/bounce.c receives through plain memory).
# $1: the sigbus_recv program.
. "$(dirname "$0")/lib.sh"
need_preload
run_sigbus sigbus_recv "$1"
grep -o "received through plain memory [0-9]*" "$TMP/stats"
exit 0
