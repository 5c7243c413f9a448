# Sourced by the tests of tests/run: one scenario each, exit 0 pass, 1 fail,
# 77 skip (the reason on stderr).  Meson passes USWAP_EXE (the uswap binary)
# and USWAP_SANITIZE (b_sanitize).
set -u
TMP=$(mktemp -d /tmp/uswap-run-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

# hung RC WHAT: fail when RC is timeout(1)'s 124.  Each run under uswap
# here is killed after 120 s (a few seconds each normally), so that a hang
# (a lost wake-up: src/mm/fault.c, do_wp_page) fails saying so, not at
# meson's timeout with no word.
hung() {
	[ "$1" -ne 124 ] || fail "$2 under uswap hung (killed after 120 s)"
}

# need_tool NAME: skip when a program the test runs is not installed.
need_tool() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (scripts/install-deps)"
}

# need_preload: skip when LD_PRELOAD of this build's shim cannot work.
need_preload() {
	[ -n "${USWAP_EXE:-}" ] && [ -x "$USWAP_EXE" ] || skip "USWAP_EXE not set"
	case "${USWAP_SANITIZE:-none}" in
	none|"") ;;
	*) skip "the shim is built with -fsanitize=$USWAP_SANITIZE: its runtime would have to be preloaded before it into an uninstrumented program, and would then replace mimalloc's malloc (the heap would not be paged)" ;;
	esac
}

# swapouts FILE: the sum of the swapouts counters of every process that
# wrote statistics into FILE (uswap run --stats-file).
swapouts() {
	sed -n 's/.*swapouts \([0-9]*\).*/\1/p' "$1" | awk '{s += $1} END {print s + 0}'
}

# routed FILE: mappings the shims routed into uswap regions.
routed() {
	sed -n 's/.*mmap routed \([0-9]*\).*/\1/p' "$1" | awk '{s += $1} END {print s + 0}'
}

# adopted FILE: mappings made before uswap was up and adopted (mimalloc's
# first segment, in every process).
adopted() {
	sed -n 's/.*, adopted \([0-9]*\).*/\1/p' "$1" | awk '{s += $1} END {print s + 0}'
}

# check_paged FILE: the statistics show real paging, not a silent shim.
check_paged() {
	[ -s "$1" ] || fail "no statistics were written to $1 (did the shim load?)"
	r=$(routed "$1")
	s=$(swapouts "$1")
	a=$(adopted "$1")
	echo "statistics: $r mappings routed, $a adopted, $s pages swapped out"
	[ "$r" -gt 0 ] || fail "no mapping was routed into uswap: $(cat "$1")"
	[ "$a" -gt 0 ] || fail "no early mapping was adopted: $(cat "$1")"
	[ "$s" -gt 0 ] || fail "no page was swapped out: $(cat "$1")"
}

# run_sigbus NAME PROGRAM [ARGS...]: PROGRAM under `uswap run --budget 8M
# --sigbus` (stdin as the caller's), its output shown; fail when it hangs,
# exits non-zero or the statistics show no paging.  Statistics in
# $TMP/stats.
run_sigbus() {
	name=$1
	shift
	timeout 120 "$USWAP_EXE" run --budget 8M --sigbus \
		--stats-file "$TMP/stats" -- "$@" > "$TMP/got" 2>&1
	rc=$?
	hung $rc "$name"
	cat "$TMP/got"
	[ $rc -eq 0 ] || fail "$name under uswap --sigbus exited $rc"
	check_paged "$TMP/stats"
}
