# shellcheck shell=bash disable=SC2154,SC2034
# common.sh: what the *-vs-zram.sh benchmarks check alike, so that each
# gives a bad value the same clear error, naming it, before it touches
# the machine.  Sourced at the top of each; the script sets bench_name
# first (for messages), and configs and uswap_cmd before bench_configs.
#
#   bench_option "$@"             takes one of the options the scripts that run
#                                 a program under `uswap run` share off the
#                                 front: -r/--reps, -c/--configs, --uswap,
#                                 --lock-wait, -o/--outdir (into reps,
#                                 configs, uswap_cmd, lock_wait, outdir);
#                                 returns 1 if $1 is none of them, dies if
#                                 its value is missing; the caller shifts 2
#   bench_usage_common            the usage lines of those but -c (whose
#                                 configurations are the script's own)
#   die MESSAGE                   "bench_name: MESSAGE" on stderr, exit 1
#   bench_need_root               dies unless root (zram, swapon, cgroups)
#   bench_count WHAT VALUE [MIN]  dies unless VALUE is a whole number of at
#                                 least MIN (default 1)
#   bench_bytes WHAT SIZE         prints SIZE in bytes (64M, 1G, 300000; a
#                                 trailing B is allowed), or dies naming it:
#                                 x=$(bench_bytes budget "$b") || exit 1
#   bench_budgets_max "B.."       bench_max_b := the largest of the budgets,
#                                 each checked as bench_bytes does
#   bench_configs "KNOWN.."       each of $configs must be one of KNOWN;
#                                 checks $uswap_cmd when one is uswap*;
#                                 want_zram := 1 when one is zram*, else 0
# (bench/zram-cgroup.sh, the zram baseline itself, is sourced separately.)

bench_option() {
	case "$1" in
	-r | --reps | -c | --configs | --uswap | --lock-wait | -o | --outdir) ;;
	*) return 1 ;;
	esac
	[ $# -ge 2 ] || die "option '$1' needs a value"
	case "$1" in
	-r | --reps) reps=$2 ;;
	-c | --configs) configs=$2 ;;
	--uswap) uswap_cmd=$2 ;;
	--lock-wait) lock_wait=$2 ;;
	-o | --outdir) outdir=$2 ;;
	esac
}

bench_usage_common() {
	cat <<EOF
  -r, --reps N          repetitions, interleaved (default $reps)
  --uswap PATH          the uswap command (default build/tools/uswap)
  --lock-wait SECONDS   how long to wait for zram0's lock (default $lock_wait)
  -o, --outdir DIR      where the tables go (default bench/results)
EOF
}

die() {
	echo "$bench_name: $*" >&2
	exit 1
}

bench_need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (zram, swapon, cgroups)"
}

bench_count() {
	local what=$1 value=$2 min=${3:-1}
	if ! [[ "$value" =~ ^[0-9]+$ ]] || [ "$value" -lt "$min" ]; then
		die "bad $what '$value' (a whole number, at least $min)"
	fi
}

bench_bytes() {
	local v
	if ! v=$(numfmt --from=iec "${2%B}" 2>/dev/null) || ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -eq 0 ]; then
		die "bad $1 '$2' (bytes: 64M, 1G, 300000)"
	fi
	echo "$v"
}

bench_budgets_max() {
	local b bb
	bench_max_b=0
	[ -n "${1// /}" ] || die "no budget given"
	for b in $1; do
		bb=$(bench_bytes budget "$b") || exit 1
		[ "$bb" -gt "$bench_max_b" ] && bench_max_b=$bb
	done
	return 0
}

bench_configs() {
	local c
	want_zram=0
	[ -n "${configs// /}" ] || die "no configuration given"
	for c in $configs; do
		[[ " $1 " == *" $c "* ]] || die "unknown configuration '$c' (${1// /, })"
		case "$c" in
		uswap*) [ -x "$uswap_cmd" ] || die "no uswap command at $uswap_cmd (build first, or --uswap PATH)" ;;
		zram*) want_zram=1 ;;
		esac
	done
}
