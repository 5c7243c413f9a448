"""seqsum.py N PASSES: the workload of bench/python-vs-zram.sh.

Builds list(range(N)) (N int objects in pymalloc's arenas, and the list's
array of N pointers: two mappings the program sweeps in step), sums it
PASSES times, checking every sum, then frees it (list_dealloc drops the
ints from the last to the first).  Prints one line for scripts:
  RESULT build=SECONDS passes=S1,S2,... free=SECONDS
Exit status 1 on a wrong sum.
"""
import sys
import time

n, passes = int(sys.argv[1]), int(sys.argv[2])
t0 = time.monotonic()
a = list(range(n))
build = time.monotonic() - t0
times = []
for _ in range(passes):
    t0 = time.monotonic()
    s = sum(a)
    times.append(time.monotonic() - t0)
    if s != n * (n - 1) // 2:
        print(f"seqsum: wrong sum {s}", file=sys.stderr)
        sys.exit(1)
t0 = time.monotonic()
del a
free = time.monotonic() - t0
print(f"RESULT build={build:.3f} passes=" + ",".join(f"{t:.3f}" for t in times)
      + f" free={free:.3f}")
