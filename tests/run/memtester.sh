#!/bin/sh
# memtester over 4 x the budget passes, and pages really were swapped out.
# 17M (over 16M) so that mimalloc gives the buffer a segment of its own
# (its first segment, mapped before uswap is up, stays plain); only the
# stuck-address and random-value tests (MEMTESTER_TEST_MASK=1): the others
# sweep the buffer hundreds of times, minutes under a budget on 2 cores.
. "$(dirname "$0")/lib.sh"
need_preload
need_tool memtester
watched 120 env MEMTESTER_TEST_MASK=1 "$USWAP_EXE" run --budget 4M --stats-file "$TMP/stats" \
	-- memtester 17M 1 > "$TMP/out" 2>&1
rc=$?
hung $rc memtester "$TMP/out"
tail -n 3 "$TMP/out"
[ $rc -eq 0 ] || { cat "$TMP/out"; fail "memtester exited $rc"; }
grep -q FAILURE "$TMP/out" && fail "memtester reported a failure"
check_paged "$TMP/stats"
exit 0
