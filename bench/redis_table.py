#!/usr/bin/python3
"""redis_table.py RAW CONFIG...: the markdown tables of bench/redis-vs-zram.sh
from its RESULT lines: medians with min-max per configuration, and the
ratios of each uswap configuration / kernel zram."""
import statistics
import sys

raw, configs = sys.argv[1], sys.argv[2:]
runs = [dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        for line in open(raw)]


def stat(c, k, scale=1.0):
    v = []
    for r in runs:
        if r.get("label") == c and k in r:
            try:
                v.append(float(r[k]) * scale)
            except ValueError:
                pass
    return (statistics.median(v), min(v), max(v)) if v else None


def fmt(s, nd=0):
    if s is None:
        return "–"
    return f"{s[0]:,.{nd}f} ({s[1]:,.{nd}f}–{s[2]:,.{nd}f})"


cols = [("load keys/s", "load_kps", 1, 0), ("GET req/s", "get_rps", 1, 0),
        ("GET p50 ms", "get_p50_ms", 1, 3), ("GET p99 ms", "get_p99_ms", 1, 3),
        ("SET req/s", "set_rps", 1, 0), ("SET p99 ms", "set_p99_ms", 1, 3),
        ("held MiB", "held", 1 / 1048576, 1), ("peak MiB", "peak", 1 / 1048576, 1)]


def runs_ok(c):
    mine = [r for r in runs if r.get("label") == c]
    return f"{sum('failed' not in r for r in mine)}/{len(mine)}"


print("| config | " + " | ".join(c[0] for c in cols) + " | runs ok |")
print("|---|" + "---|" * (len(cols) + 1))
for c in configs:
    print(f"| {c} | " + " | ".join(fmt(stat(c, k, s), nd) for _, k, s, nd in cols)
          + f" | {runs_ok(c)} |")
failed = [r for r in runs if "failed" in r]
if failed:
    print()
    print("Failed runs (not in the medians): " + ", ".join(
        f"{r.get('label')} rep {r.get('rep')} ({r['failed']}, exit status "
        f"{r.get('status', '?')})" for r in failed))
for mine in [c for c in configs if c.startswith("uswap")]:
    if "zram" not in configs:
        break
    print()
    print(f"Ratios of medians, {mine} / kernel zram (throughput: higher is "
          "better; latency and memory: lower is better):")
    print()
    print("| " + " | ".join(c[0] for c in cols) + " |")
    print("|" + "---|" * len(cols))
    out = []
    for _, k, s, nd in cols:
        u, z = stat(mine, k), stat("zram", k)
        out.append("–" if not u or not z or not z[0] else f"{u[0] / z[0]:.2f}×")
    print("| " + " | ".join(out) + " |")
    sw = [r.get("swapouts", "?") for r in runs if r.get("label") == mine]
    print()
    print(f"{mine} swap-outs per run (it did page): {', '.join(sw)}")
