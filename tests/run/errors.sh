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
expect 125 "budget=512K: too small (at least 1M)" "$USWAP_EXE" run --budget 512K -- true
expect 127 "no-such-program-here: command not found" "$USWAP_EXE" run -- no-such-program-here
# userfaultfd not permitted: an unprivileged user, when the machine does
# not grant it to everyone
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null &&
	[ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] &&
	! setpriv --reuid=65534 --regid=65534 --clear-groups test -w /dev/userfaultfd 2>/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$USWAP_EXE" 2>/dev/null; then
	expect 125 "vm.unprivileged_userfaultfd=1" setpriv --reuid=65534 \
		--regid=65534 --clear-groups "$USWAP_EXE" run -- true
else
	echo "(userfaultfd is granted to everyone here, or not root: that case not checked)"
fi
if [ -n "${1:-}" ]; then
	expect 126 "statically linked" "$USWAP_EXE" run -- "$1"
else
	echo "(no static program could be built: that case not checked)"
fi
exit 0
