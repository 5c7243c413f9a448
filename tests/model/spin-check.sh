#!/bin/sh
# spin-check.sh - check the swap-in model (model/swapin.pml) with spin.
#
# usage: spin-check.sh safe POLICY
#            every safety run of the policy's bounds (docs/model.md) must
#            complete (no depth truncation) with errors: 0, and the
#            liveness runs must give the answer docs/model.md states.
#        spin-check.sh same POLICY OTHER
#            POLICY is the same model as OTHER (spin generates the same
#            verifier from both): check that, and run POLICY's smallest
#            bounds only; OTHER's own test runs all of them.
#        spin-check.sh finds POLICY PATTERN [-DNAME=VALUE ...]
#            one safety run with the given defines must report an error
#            whose assertion text matches the extended regex PATTERN.
#
# Exit 0 pass, 1 fail, 77 when spin is not installed.  The model is found
# through $USWAP_SRCDIR (set by tests/meson.build) or next to this script.
# Each pan run is printed as one line: what ran, states stored, depth,
# errors, seconds.
set -u

mode=${1:-}
policy=${2:-}
if [ -z "$mode" ] || [ -z "$policy" ]; then
	echo "usage: $0 safe POLICY | same POLICY OTHER |" \
		"finds POLICY PATTERN [-D...]" >&2
	exit 1
fi

if ! command -v spin >/dev/null 2>&1; then
	echo "spin is not installed (Debian package spin): skipped" >&2
	exit 77
fi
cc=$(command -v gcc || command -v cc) || {
	echo "no C compiler to build spin's verifier (pan)" >&2
	exit 1
}

srcdir=${USWAP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
model=$srcdir/model/swapin.pml
if [ ! -r "$model" ]; then
	echo "cannot read the model $model" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/uswap-spin.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
cp "$model" "$work/swapin.pml"
cd "$work" || exit 1

# A depth limit far above the deepest path of any run here (a few hundred
# steps): the search is never cut; the check below makes sure.
DEPTH=1000000

# run KIND DEFINES...: build pan for the model with DEFINES and run it.
# KIND: safety (assertions, invalid end states: exhaustive, lossless
# COLLAPSE compression), fair / unfair (non-progress cycles, with or
# without weak fairness).  Leaves pan's output in out.txt and the number of
# errors in $errors; returns 1 if pan could not be built or run to its end.
run() {
	kind=$1
	shift
	rm -f pan pan.* swapin.pml.trail out.txt
	if ! spin -a "$@" swapin.pml >spin.txt 2>&1; then
		cat spin.txt >&2
		echo "spin -a $* failed" >&2
		return 1
	fi
	case $kind in
	safety) cflags="-DSAFETY -DCOLLAPSE"; pflags="" ;;
	fair) cflags="-DNP -DCOLLAPSE"; pflags="-l -f" ;;
	unfair) cflags="-DNP -DCOLLAPSE"; pflags="-l" ;;
	esac
	# shellcheck disable=SC2086
	if ! "$cc" -w -O1 $cflags -o pan pan.c 2>cc.txt; then
		cat cc.txt >&2
		echo "building pan failed" >&2
		return 1
	fi
	start=$(date +%s.%N)
	# shellcheck disable=SC2086
	nice ./pan -m$DEPTH $pflags >out.txt 2>&1
	end=$(date +%s.%N)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' out.txt | head -n 1)
	states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' out.txt)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' out.txt)
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	printf '%-6s %-50s states %-10s depth %-5s errors %-3s %ss\n' \
		"$kind" "$*" "$states" "$depth" "$errors" "$secs"
	if [ -z "$errors" ]; then
		cat out.txt >&2
		echo "pan did not finish" >&2
		return 1
	fi
	if grep -q 'max search depth too small' out.txt; then
		echo "search truncated at depth $DEPTH: raise DEPTH" >&2
		return 1
	fi
	if grep -qi 'out of memory' out.txt; then
		echo "pan ran out of memory" >&2
		return 1
	fi
	return 0
}

# expect_none KIND DEFINES...: the run must complete with no error.
expect_none() {
	run "$@" || return 1
	if [ "$errors" != 0 ]; then
		grep -E 'violated|cycle|invalid end' out.txt >&2
		echo "FAIL: spin found an error in $policy ($*)" >&2
		return 1
	fi
	return 0
}

# expect_some KIND DEFINES...: the run must find an error.
expect_some() {
	run "$@" || return 1
	if [ "$errors" = 0 ]; then
		echo "FAIL: spin found no error where one must be ($*)" >&2
		return 1
	fi
	return 0
}

P=-DPOLICY=$policy
case $mode in
safe)
	case $policy in
	RETRY | SLEEP | WAITQUEUE | FALLBACK | UNIFIED) ;;
	*)
		echo "no safe bounds for policy $policy" >&2
		exit 1
		;;
	esac
	rc=0
	# The bounds of docs/model.md, "Bounds and state counts".
	expect_none safety "$P" -DNT=2 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 || rc=1
	expect_none safety "$P" -DNT=2 -DNSLOTS=2 -DROUNDS=3 -DOPS=1 || rc=1
	expect_none safety "$P" -DNT=2 -DNSLOTS=2 -DROUNDS=2 -DOPS=2 -DZAP ||
		rc=1
	expect_none safety "$P" -DNT=3 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 || rc=1
	# Liveness: no fair run is infinite (every thread completes).
	expect_none fair "$P" -DNT=2 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 || rc=1
	case $policy in
	FALLBACK | UNIFIED)
		# Every wait is a blocking wait: no run at all is infinite.
		expect_none unfair "$P" -DNT=2 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 ||
			rc=1
		;;
	*)
		# The loser busy-faults while the pin holder does not run:
		# the livelock the thread's sleep and wait queue address.
		expect_some unfair "$P" -DNT=2 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 ||
			rc=1
		;;
	esac
	exit $rc
	;;
same)
	other=${3:-}
	mkdir a b
	(cd a && spin -a -DPOLICY="$policy" ../swapin.pml >/dev/null) || exit 1
	(cd b && spin -a -DPOLICY="$other" ../swapin.pml >/dev/null) || exit 1
	for f in pan.c pan.h pan.b pan.m pan.t pan.p; do
		if ! cmp -s "a/$f" "b/$f"; then
			echo "FAIL: $policy is no longer the same model as" \
				"$other ($f differs): give it its own bounds" >&2
			exit 1
		fi
	done
	echo "$policy: spin generates the same verifier as for $other"
	rc=0
	expect_none safety "$P" -DNT=2 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 || rc=1
	expect_none fair "$P" -DNT=2 -DNSLOTS=1 -DROUNDS=2 -DOPS=1 || rc=1
	exit $rc
	;;
finds)
	pattern=${3:-}
	if [ -z "$pattern" ]; then
		echo "finds needs a PATTERN" >&2
		exit 1
	fi
	shift 3
	expect_some safety "$P" "$@" || exit 1
	violated=$(grep -E '^pan:[0-9]+: ' out.txt)
	echo "found: $violated"
	if ! echo "$violated" | grep -Eq -- "$pattern"; then
		echo "FAIL: the error is not the expected one ($pattern)" >&2
		exit 1
	fi
	exit 0
	;;
*)
	echo "unknown mode $mode" >&2
	exit 1
	;;
esac
