/*
 * The private heap: every allocation uswap makes for itself (its pte
 * tables, swap map, folios, store descriptors) goes through these.
 *
 * Why: under `uswap run` the program's malloc is an allocator over uswap
 * regions (src/preload/).  Were uswap's own structures allocated there,
 * a handler thread could fault on a page it must itself swap in (a
 * deadlock), and reclaim could evict the swap map.  So before uswap_open
 * the shim calls priv_heap_use_libc(): from then on these go to glibc's own
 * allocator (__libc_malloc and friends, which take memory with brk and
 * mmap calls the shim never sees), whatever malloc the program
 * interposes.  Everywhere else (the library linked into a program, tests,
 * sanitizer builds) they are plain malloc/free, so ASan still checks them.
 *
 * Memory from priv_* must be freed with priv_free and never given to free(3)
 * (nor the reverse).  Code under src/ must not call library functions that
 * allocate behind its back (strdup, asprintf, qsort, fopen...) on paths
 * that run after uswap_open; see docs/locking.md.
 */
#ifndef USWAP_LIB_ALLOC_H
#define USWAP_LIB_ALLOC_H

#include <stddef.h>

void *priv_malloc(size_t size);
void *priv_calloc(size_t n, size_t size);
void *priv_realloc(void *p, size_t size);
/* @align: a power of two; @size need not be a multiple of it. */
void *priv_aligned_alloc(size_t align, size_t size);
void priv_free(void *p);

/*
 * priv_heap_use_libc - switch the private heap to glibc's allocator.
 * Context: once, before anything was allocated from the private heap
 * (the shim's constructor, before uswap_open).
 */
void priv_heap_use_libc(void);

#endif /* USWAP_LIB_ALLOC_H */
