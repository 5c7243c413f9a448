#!/bin/sh
# Loud, early failures: a bad option names the value, a bad USWAP_*
# variable names the variable, an unknown program, a static binary.
# $1: a statically linked program, or "" when none could be built.
. "$(dirname "$0")/lib.sh"
[ -n "${USWAP_EXE:-}" ] || skip "USWAP_EXE not set"

# expect STATUS PATTERN CMD...: CMD exits STATUS, stderr matches PATTERN
expect() {
	want=$1 pat=$2
	shift 2
	"$@" > "$TMP/out" 2> "$TMP/err"
	rc=$?
	[ $rc -eq "$want" ] || fail "$*: exit $rc, want $want: $(cat "$TMP/err")"
	grep -q -e "$pat" "$TMP/err" || fail "$*: stderr does not say '$pat': $(cat "$TMP/err")"
	echo "ok: $* -> $(head -n 1 "$TMP/err")"
}
expect 125 "budget=12q: not a size" "$USWAP_EXE" run --budget 12q -- true
expect 125 "USWAP_BUDGET=12q" env USWAP_BUDGET=12q "$USWAP_EXE" run -- true
expect 125 "threads=99: too large" "$USWAP_EXE" run --threads=99 -- true
expect 125 "unknown option --bugdet" "$USWAP_EXE" run --bugdet 4M -- true
expect 125 "device=zram:gzip" "$USWAP_EXE" run --device zram:gzip -- true
expect 125 "no program" "$USWAP_EXE" run --budget 4M
expect 127 "no-such-program-here: command not found" "$USWAP_EXE" run -- no-such-program-here
if [ -n "${1:-}" ]; then
	expect 126 "statically linked" "$USWAP_EXE" run -- "$1"
else
	echo "(no static program could be built: that case not checked)"
fi
exit 0
