#!/bin/sh
# PostgreSQL, a pre-fork server, under `uswap run`: the postmaster forks a
# backend per connection (pgbench -C) and from its signal handlers, every
# process pages at a 4M budget.  pgbench's TPC-B-like transactions must all
# commit and keep their invariant (the accounts', tellers' and branches'
# balances and the history's deltas sum to the same), and a sort bigger
# than the budget must return what Python computes.  Before uswap's
# threads blocked signals (src/lib/thread.c) the postmaster's SIGUSR1
# handler ran on a uswap thread and forked there: the postmaster hung
# after 34 transactions, and new backends hung in setlocale.
#
# PostgreSQL refuses to run as root: as root, the server runs as nobody,
# with CAP_SYS_PTRACE as an ambient capability (kept across exec and
# fork), which lets it use userfaultfd.  Until 2026-11-28 the test set
# vm.unprivileged_userfaultfd=1 for its run and put it back after: of two
# runs at once (run-postgres and run-postgres-sigbus, which the suite may
# start together, or two suites), the one that ended first took
# userfaultfd from the other's new backends ("fork child: userfaultfd:
# Operation not permitted", the backend aborted, pgbench failed).
. "$(dirname "$0")/lib.sh"
need_preload
need_tool python3
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/pgbench" ] ||
	skip "PostgreSQL is not installed (postgresql, scripts/install-deps)"
command -v psql >/dev/null 2>&1 || skip "psql is not installed"

postmaster=
AS= # the command prefix that runs the server's side as its user
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null 2>&1 || skip "setpriv is not installed"
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	AS="$AS --inh-caps=+sys_ptrace --ambient-caps=+sys_ptrace"
	$AS true 2>/dev/null ||
		skip "setpriv cannot give nobody CAP_SYS_PTRACE (ambient capabilities)"
	$AS test -x "$USWAP_EXE" ||
		skip "nobody cannot run $USWAP_EXE (a directory above it is not searchable)"
	chmod 711 "$TMP"
fi
cleanup() {
	if [ -n "$postmaster" ] && kill -0 "$postmaster" 2>/dev/null; then
		pkill -9 -P "$postmaster" 2>/dev/null
		kill -9 "$postmaster" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP # meson's timeout: still stop the server

D=$TMP/pg
mkdir "$D"
[ -z "$AS" ] || chown 65534:65534 "$D"
$AS "$PGBIN/initdb" -D "$D/data" -A trust -U postgres > "$D/initdb.log" 2>&1 ||
	fail "initdb failed: $(tail -5 "$D/initdb.log")"
$AS "$USWAP_EXE" run --budget 4M --swap_size 256M --stats-file "$D/stats" \
	-- "$PGBIN/postgres" -D "$D/data" -k "$D" -p 5499 -c listen_addresses= \
	-c max_connections=20 > "$D/log" 2>&1 &
for i in $(seq 100); do
	[ -s "$D/data/postmaster.pid" ] && postmaster=$(head -1 "$D/data/postmaster.pid")
	psql -h "$D" -p 5499 -U postgres -d postgres -Atc 'select 1' > /dev/null 2>&1 && break
	sleep 0.2
done
[ -n "$postmaster" ] || fail "the server did not start: $(tail -5 "$D/log")"
P="-h $D -p 5499 -U postgres postgres"
# server_said: the end of the server's log, which names a backend that
# died and of what (a pgbench failure alone says only that it did)
server_said() {
	echo "; the server's log ends:"
	tail -n 15 "$D/log"
}

timeout 120 "$PGBIN/pgbench" -i -s 2 -q $P > "$D/init.out" 2>&1 ||
	fail "pgbench -i failed or hung (120 s): $(tail -3 "$D/init.out")$(server_said)"
timeout 120 "$PGBIN/pgbench" -C -c 4 -j 2 -t 100 $P > "$D/bench.out" 2>&1
rc=$?
[ $rc -ne 124 ] || fail "pgbench -C hung (killed after 120 s): $(grep -c '' "$D/bench.out") lines of output"
[ $rc -eq 0 ] || fail "pgbench -C exited $rc: $(tail -5 "$D/bench.out")$(server_said)"
grep -E 'processed|failed|tps' "$D/bench.out"
sums=$(psql $P -Atc "select (select sum(abalance) from pgbench_accounts),
	(select sum(bbalance) from pgbench_branches),
	(select sum(tbalance) from pgbench_tellers),
	(select sum(delta) from pgbench_history),
	(select count(*) from pgbench_history)")
echo "balances: $sums"
echo "$sums" | awk -F'|' '$1 == $2 && $2 == $3 && $3 == $4 && $5 == 400 { ok = 1 } END { exit !ok }' ||
	fail "the TPC-B invariant does not hold, or not 400 transactions: $sums"

# A sort of 80k md5 strings in one backend, far over its budget.
want=$(python3 -c "
import hashlib
h = sorted(hashlib.md5(str(i).encode()).hexdigest() for i in range(1, 80001))
print('80000|%s|%s|%s' % (h[0], h[-1], hashlib.md5(','.join(h).encode()).hexdigest()))")
got=$(timeout 120 psql $P -Atc "set work_mem = '256MB';
	select count(*), min(h), max(h), md5(string_agg(h, ',' order by h))
	from (select md5(i::text) h from generate_series(1, 80000) i order by 1) s" 2>&1)
[ "$got" = "SET
$want" ] || fail "the sort returned '$got', want '$want'$(server_said)"
echo "sort: $want"

timeout 60 $AS "$PGBIN/pg_ctl" -D "$D/data" stop -m fast > /dev/null ||
	fail "pg_ctl stop failed or hung: $(tail -3 "$D/log")"
postmaster=
check_paged "$D/stats"
echo "processes that wrote statistics: $(grep -c 'faults' "$D/stats")"
