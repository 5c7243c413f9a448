/*
 * Forced into every uswap source file of the shim's copy of the library
 * (-include raw.h, src/preload/meson.build); never included by hand.
 *
 * Under `uswap run` the program's mmap, munmap, mremap and madvise are the
 * shim's (shim.c), which route private anonymous memory into uswap regions.
 * uswap's own calls must never take that route: a region's pte tables,
 * the staging area, the store's chunks and the doorbell pages are plain
 * memory, and a pager thread that mapped a uswap region for itself could
 * wait on its own fault.  So in this copy of the sources those names are
 * the shim's raw system calls, bound at compile time: no thread-local
 * state, no window before the shim is initialised.
 *
 * The same goes for glibc's allocator (lib/alloc.h): libmimalloc.so.2 also
 * exports __libc_malloc and friends, so a plain reference would bind to
 * mimalloc, not glibc.  The shim resolves glibc's own with dlsym on
 * libc.so.6 (shim.c, shim_libc_*).
 *
 * sigaction: below.
 *
 * pthread_create: the threads uswap starts (fault handlers, reclaimer, a
 * forked child's new ones) are marked as uswap's own, so that whatever
 * mmap they reach through a library goes straight to the kernel.
 */
#ifndef USWAP_PRELOAD_RAW_H
#define USWAP_PRELOAD_RAW_H

/*
 * Meson defines _FILE_OFFSET_BITS=64, with which glibc's headers bind mmap
 * to the symbol mmap64 by an asm label that no macro renames: the raw
 * calls would then reach the shim's mmap64.  Off_t is 64-bit on the
 * 64-bit targets the shim is built for anyway.
 */
#undef _FILE_OFFSET_BITS

#define mmap		uswap_raw_mmap
#define mmap64		uswap_raw_mmap
#define munmap		uswap_raw_munmap
#define mremap		uswap_raw_mremap
#define madvise		uswap_raw_madvise
#define pthread_create	uswap_shim_pthread_create
#define __libc_malloc	uswap_shim_libc_malloc
#define __libc_calloc	uswap_shim_libc_calloc
#define __libc_realloc	uswap_shim_libc_realloc
#define __libc_memalign uswap_shim_libc_memalign
#define __libc_free	uswap_shim_libc_free

/*
 * sigaction: the shim interposes it (signals.c) so that the program's
 * SIGBUS handler goes behind uswap's.  uswap's own calls, which install
 * and restore that handler, are libc's __sigaction.  Function-like, so
 * that `struct sigaction` stays what it is.
 */
struct sigaction;
int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
#define sigaction(sig, act, old) __sigaction(sig, act, old)

#endif /* USWAP_PRELOAD_RAW_H */
