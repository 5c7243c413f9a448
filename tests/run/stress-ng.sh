#!/bin/sh
# stress-ng's vm stressor with verification on, under a budget: its
# workers are forked children, so this also exercises fork (the child's
# own pager).
. "$(dirname "$0")/lib.sh"
need_preload
need_tool stress-ng
watched 120 "$USWAP_EXE" run --budget 8M --stats-file "$TMP/stats" \
	-- stress-ng --vm 1 --vm-bytes 32M --vm-keep --verify --vm-ops 6 \
	--timeout 60s --metrics-brief > "$TMP/out" 2>&1
rc=$?
hung $rc stress-ng "$TMP/out"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "stress-ng exited $rc"
grep -q -i -E "fail|verif.*error" "$TMP/out" && fail "stress-ng reported a failure"
check_paged "$TMP/stats"
exit 0
