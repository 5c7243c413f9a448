# Sourced by the tests of tests/run: one scenario each, exit 0 pass, 1 fail,
# 77 skip (the reason on stderr).  Meson passes USWAP_EXE (the uswap binary)
# and USWAP_SANITIZE (b_sanitize).
set -u
TMP=$(mktemp -d /tmp/uswap-run-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

# watched SECS CMD...: run CMD as timeout(1) would (exit 124 when it is
# killed after SECS), but first write what every thread of CMD's
# processes was doing into $TMP/hang-report (hung shows it): a hang in CI
# then leaves evidence, not just meson's "TIMEOUT" (run-shim-ops hung so
# twice before one was seen here: src/mm/fault.c,
# mm_serve_until_handlers_up).
watched() {
	secs=$1
	shift
	# an asynchronous command's stdin would be /dev/null: keep ours
	exec 3<&0
	"$@" <&3 3<&- &
	w_pid=$!
	exec 3<&-
	w_left=$((secs * 10))
	while [ $w_left -gt 0 ] && kill -0 $w_pid 2>/dev/null; do
		sleep 0.1
		w_left=$((w_left - 1))
	done
	if kill -0 $w_pid 2>/dev/null; then
		hang_report $w_pid > "$TMP/hang-report"
		w_tree=$(tree_pids $w_pid)
		kill -KILL $w_tree 2>/dev/null
		wait $w_pid
		return 124
	fi
	wait $w_pid
}

# tree_pids PID: PID and its descendants.
tree_pids() {
	echo "$1"
	for c in $(pgrep -P "$1"); do tree_pids "$c"; done
}

# hang_report PID: each thread of PID and its descendants: name, state,
# kernel wait channel, system call (number and arguments, or -1 with the
# stack pointer) and the user pc as library+offset (gdb -batch -ex 'info
# symbol OFFSET' LIBRARY names it), then its kernel stack; last, where gdb
# is installed, each thread's user stack.  The user stacks come last and
# are kept short (8 frames, no arguments): a CI log that is cut keeps its
# end, and a report of 2026-11-28 (run-sigbus-recv) lost the threads that
# mattered to a cut in the middle.
hang_report() {
	echo "=== hang report: the threads of $1 and its children"
	pids=$(tree_pids "$1")
	for p in $pids; do
		echo "process $p: $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)"
		for t in /proc/$p/task/*; do
			sc=$(cat "$t/syscall" 2>/dev/null)
			echo "  thread ${t##*/} $(cat "$t/comm" 2>/dev/null)" \
				"state $(cut -d' ' -f3 "$t/stat" 2>/dev/null)" \
				"wchan $(cat "$t/wchan" 2>/dev/null)" \
				"syscall $sc pc $(where_pc "$p" "${sc##* }")"
			sed 's/^/    /' "$t/stack" 2>/dev/null
		done
	done
	command -v gdb >/dev/null 2>&1 || return 0
	# bounded: the report must end well inside meson's timeout (the
	# tests give watched 120 s of 180), so 15 s a process, 3 processes
	n=0
	for p in $pids; do
		n=$((n + 1))
		[ $n -le 3 ] || break
		echo "=== user stacks of process $p"
		timeout 15 gdb -batch -nx -p "$p" \
			-ex 'set debuginfod enabled off' \
			-ex 'set print frame-arguments none' \
			-ex 'thread apply all bt 8' 2>&1 |
			grep -E '^(Thread|#)' | cut -c1-200
	done
}

# where_pc PID ADDR: the mapping of PID holding ADDR (hex), as FILE+OFFSET.
where_pc() {
	a=$(printf '%d' "$2" 2>/dev/null) || return
	while read -r range perm off dev ino file; do
		lo=$(printf '%d' "0x${range%-*}")
		hi=$(printf '%d' "0x${range#*-}")
		if [ "$a" -ge "$lo" ] && [ "$a" -lt "$hi" ]; then
			printf '%s+%#x\n' "${file:-[anon]}" $((a - lo + 0x$off))
			return
		fi
	done < "/proc/$1/maps"
}

# hung RC WHAT [OUTPUT]: fail when RC is timeout(1)'s 124 (or watched's),
# showing the end of the OUTPUT file and watched's report.  Each run under
# uswap here is killed after a minute or two (seconds normally), so that a
# hang (a lost wake-up: src/mm/fault.c, do_wp_page) fails saying so, not
# at meson's timeout with no word.
hung() {
	[ "$1" -ne 124 ] || {
		[ -z "${3:-}" ] || tail -n 20 "$3" >&2
		[ ! -f "$TMP/hang-report" ] || cat "$TMP/hang-report" >&2
		fail "$2 under uswap hung (killed)"
	}
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
	watched 120 "$USWAP_EXE" run --budget 8M --sigbus \
		--stats-file "$TMP/stats" -- "$@" > "$TMP/got" 2>&1
	rc=$?
	hung $rc "$name" "$TMP/got"
	cat "$TMP/got"
	[ $rc -eq 0 ] || fail "$name under uswap --sigbus exited $rc"
	check_paged "$TMP/stats"
}
