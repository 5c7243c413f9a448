#!/usr/bin/env python3
"""Dump a real program's heap for the store benchmark.

usage: store_pyheap.py OUT [MIB]

Builds the data of a small in-memory application (dicts of records, lists,
strings, floats, tuples, class instances, sets), then copies its own
writable private anonymous mappings and [heap] (where CPython's allocator
keeps objects) from /proc/self/mem into OUT, page by page, up to MIB MiB
(default 64).  Nothing is committed: the benchmark runs this every time.
"""
import random
import re
import sys

out = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 64
random.seed(1)

class Customer:
    def __init__(self, i):
        self.id = i
        self.name = "customer-%06d" % i
        self.email = "user%d@example.%s" % (i, random.choice(["com", "org", "net"]))
        self.balance = random.random() * 1000
        self.tags = [random.choice(["new", "vip", "late", "eu", "us"]) for _ in range(3)]
        self.orders = []

words = ["alpha", "beta", "gamma", "delta", "swap", "page", "fault", "slot"]
customers = {}
index = {}
orders = []
blobs = []
i = 0
# about 1.6x the dump size, so that the dump is mostly live objects
while len(orders) < limit * 2200:
    c = Customer(i)
    customers[c.name] = c
    for _ in range(random.randint(1, 6)):
        o = (i, random.randint(1, 10**6), round(random.random() * 100, 2),
             " ".join(random.choice(words) for _ in range(4)))
        c.orders.append(o)
        orders.append(o)
    index.setdefault(c.email[-3:], set()).add(i)
    if i % 50 == 0:
        blobs.append([random.randint(0, 1000) for _ in range(100)])
    if i % 97 == 0:
        blobs.append({"k%d" % j: j * 1.5 for j in range(40)})
    i += 1

pages = 0
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem, \
        open(out, "wb") as f:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw-p \S+ \S+ (\d+)\s*(\S*)", line)
        if not m or (m.group(3) != "0") or m.group(4) not in ("", "[heap]"):
            continue
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        for a in range(lo, hi, 4096):
            if pages >= limit * 256:
                break
            mem.seek(a)
            try:
                f.write(mem.read(4096))
            except OSError:
                continue
            pages += 1
print("%s: %d pages (%d MiB) of CPython heap" % (out, pages, pages // 256))
