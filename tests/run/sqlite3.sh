#!/bin/sh
# sqlite3 builds and queries an in-memory database (about 50M of pages and
# cache) under an 8M budget: the output is exactly what it is without uswap.
. "$(dirname "$0")/lib.sh"
need_preload
need_tool sqlite3
cat > "$TMP/q.sql" <<'SQL'
PRAGMA cache_size = -262144;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 12000)
INSERT INTO t SELECT i, (i * 2654435761) % 1000003,
	printf('%08x-%s-', (i * 40503) % 65536, hex(i * 7919)) ||
	printf('%03000d', i * 31)
FROM c;
CREATE INDEX t_k ON t(k);
SELECT count(*), sum(k), sum(length(s)) FROM t;
SELECT k, substr(s, 1, 40) FROM t ORDER BY k DESC LIMIT 3;
UPDATE t SET s = upper(substr(s, 1, 20)) || substr(s, 21) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(k), sum(length(s)), substr(max(s), 1, 40) FROM t;
SELECT id, k, substr(s, 2990, 20) FROM t WHERE k < 2000 ORDER BY k;
SQL
sqlite3 :memory: < "$TMP/q.sql" > "$TMP/want" 2>&1 || fail "sqlite3 without uswap failed: $(cat "$TMP/want")"
watched 120 "$USWAP_EXE" run --budget 8M --stats-file "$TMP/stats" \
	-- sqlite3 :memory: < "$TMP/q.sql" > "$TMP/got" 2>&1
rc=$?
hung $rc sqlite3 "$TMP/got"
[ $rc -eq 0 ] || { cat "$TMP/got"; fail "sqlite3 under uswap exited $rc"; }
cmp -s "$TMP/want" "$TMP/got" || { diff "$TMP/want" "$TMP/got" | head -20; fail "output differs"; }
echo "output identical ($(wc -l < "$TMP/want") lines)"
check_paged "$TMP/stats"
exit 0
