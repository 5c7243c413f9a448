#!/bin/sh
# redis-server (Debian's) under an 8M budget: load about 60M of values,
# BGSAVE (a fork) while a client keeps writing, check the dump with
# redis-check-rdb, read back every key from the server and from the dump
# (loaded by a second redis-server without uswap).  Twice: with handler
# threads and in the in-thread mode.
. "$(dirname "$0")/lib.sh"
need_preload
need_tool redis-server
need_tool redis-cli
need_tool redis-check-rdb
need_tool redis-benchmark

N=30000
SOCK=$TMP/r.sock
# every value is a function of its key: 2K, compressible like real data
LOAD="for i = 1, $N do redis.call('SET', 'k:' .. i, i .. ':' .. string.rep((i * 7919) % 104729 .. ',', 300, '')) end return $N"
CHECK="local bad = 0 for i = 1, $N do if redis.call('GET', 'k:' .. i) ~= i .. ':' .. string.rep((i * 7919) % 104729 .. ',', 300, '') then bad = bad + 1 end end return bad"

# With handler threads, then in the in-thread mode (--sigbus: redis installs
# its own SIGBUS handler and waits in epoll_wait on a heap array; before
# src/preload/signals.c and io.c's epoll wrappers it died at startup).
for mode in "" --sigbus; do
	rm -f "$TMP/dump.rdb"
	"$USWAP_EXE" run --budget 8M $mode --stats-file "$TMP/stats$mode" -- redis-server \
		--port 0 --unixsocket "$SOCK" --save '' --appendonly no \
		--dir "$TMP" --dbfilename dump.rdb --daemonize no \
		> "$TMP/server.log" 2>&1 &
	SERVER=$!
	stop() {
		timeout 10 redis-cli -s "$SOCK" shutdown nosave > /dev/null 2>&1 ||
			kill -9 $SERVER 2> /dev/null
		wait $SERVER 2> /dev/null
	}
	i=0
	until redis-cli -s "$SOCK" ping > /dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$TMP/server.log"; kill $SERVER; fail "redis-server did not start"; }
		sleep 0.1
	done
	[ "$(timeout 120 redis-cli -s "$SOCK" eval "$LOAD" 0)" = $N ] || { stop; fail "load failed"; }

	# a client writing during the BGSAVE
	timeout 120 redis-benchmark -s "$SOCK" -t set -n 30000 -r 100000 -d 200 -q > "$TMP/bench" 2>&1 &
	WRITER=$!
	sleep 0.2
	redis-cli -s "$SOCK" bgsave
	i=0
	while timeout 10 redis-cli -s "$SOCK" info persistence | grep -q 'rdb_bgsave_in_progress:1'; do
		i=$((i + 1))
		[ $i -lt 600 ] || { stop; fail "BGSAVE did not finish in 60 s"; }
		sleep 0.1
	done
	wait $WRITER || { stop; fail "the writing client failed: $(cat "$TMP/bench")"; }
	redis-cli -s "$SOCK" info persistence | grep -q 'rdb_last_bgsave_status:ok' ||
		{ stop; fail "BGSAVE failed: $(tail -n 20 "$TMP/server.log")"; }
	bad=$(timeout 120 redis-cli -s "$SOCK" eval "$CHECK" 0)
	[ "$bad" = 0 ] || { stop; fail "'$bad' keys read back wrong from the server (or no answer in 120 s)"; }
	echo "server${mode:+ ($mode)}: all $N keys read back"
	stop

	redis-check-rdb "$TMP/dump.rdb" > "$TMP/check" 2>&1 || { cat "$TMP/check"; fail "redis-check-rdb failed"; }
	grep -q "RDB looks OK" "$TMP/check" || { cat "$TMP/check"; fail "redis-check-rdb did not say OK"; }
	echo "redis-check-rdb: RDB looks OK"

	# the dump itself, in a plain server
	redis-server --port 0 --unixsocket "$TMP/p.sock" --save '' --appendonly no \
		--dir "$TMP" --dbfilename dump.rdb --daemonize no > "$TMP/plain.log" 2>&1 &
	PLAIN=$!
	i=0
	# PONG, not LOADING: ping answers while the dump is still loading
	# (redis-cli exits 0 on that error too)
	until [ "$(redis-cli -s "$TMP/p.sock" ping 2> /dev/null)" = PONG ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { kill $PLAIN; fail "the plain redis-server did not start"; }
		sleep 0.1
	done
	bad=$(redis-cli -s "$TMP/p.sock" eval "$CHECK" 0)
	redis-cli -s "$TMP/p.sock" shutdown nosave > /dev/null 2>&1
	wait $PLAIN 2> /dev/null
	[ "$bad" = 0 ] || fail "$bad keys wrong in the dump"
	echo "dump: all $N keys read back"
	check_paged "$TMP/stats$mode"
done
exit 0
