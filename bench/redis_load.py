#!/usr/bin/python3
"""redis_load.py N SIZE SEED: N Redis SET commands in RESP on stdout, for
`redis-cli --pipe`.  Keys are key:%012d (what redis-benchmark's -r uses for
key:__rand_int__), values SIZE bytes of words drawn from a fixed random
vocabulary: text-like data, so that neither swap gets a free ride on
all-zero or all-'x' pages.  lz4 compresses it 1.11x page by page (4 KiB
pieces of this stream, measured 2026-11-26): swap gains little from it.
Deterministic by SEED.
"""
import random, sys
n, size, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
words = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 9))) for _ in range(2000)]
out = sys.stdout.buffer
buf = []
for i in range(n):
    parts = []
    ln = 0
    while ln < size:
        w = rnd.choice(words)
        parts.append(w)
        ln += len(w) + 1
    v = ' '.join(parts)[:size].encode()
    k = b'key:%012d' % i
    buf.append(b'*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(k), k, len(v), v))
    if len(buf) >= 1000:
        out.write(b''.join(buf)); buf = []
out.write(b''.join(buf))
