#!/bin/sh
# python3 builds and sorts large lists and dicts (about 90M of heap) under
# a 48M budget: it prints exactly what it prints without uswap.
. "$(dirname "$0")/lib.sh"
need_preload
PY=/usr/bin/python3
[ -x $PY ] || skip "$PY is not installed"
cat > "$TMP/p.py" <<'PYEOF'
import hashlib
n = 150000
def key(i):
    return hashlib.md5(str(i).encode()).hexdigest()
rows = [(key(i), i, "v%07d" % (i * 7 % n)) for i in range(n)]
d = {k: (i, v) for k, i, v in rows}
rows.sort()
print(len(rows), rows[0], rows[-1], rows[n // 2])
by_val = sorted(d.items(), key=lambda kv: (kv[1][1], kv[0]))
print(by_val[0], by_val[-1])
nums = [(i * 2654435761) % 1000003 for i in range(300000)]
nums.sort()
print(sum(nums[::1000]), nums[:3], nums[-3:])
h = hashlib.sha256()
for k, i, v in rows[::97]:
    h.update(k.encode()); h.update(v.encode())
print(h.hexdigest())
PYEOF
$PY "$TMP/p.py" > "$TMP/want" 2>&1 || fail "python3 without uswap failed: $(cat "$TMP/want")"
"$USWAP_EXE" run --budget 48M --stats-file "$TMP/stats" \
	-- $PY "$TMP/p.py" > "$TMP/got" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$TMP/got"; fail "python3 under uswap exited $rc"; }
cmp -s "$TMP/want" "$TMP/got" || { diff "$TMP/want" "$TMP/got" | head; fail "output differs"; }
cat "$TMP/got"
check_paged "$TMP/stats"
exit 0
