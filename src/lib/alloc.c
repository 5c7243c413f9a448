/*
 * The private heap (alloc.h).  The switch is a plain flag written once,
 * before any other thread of uswap exists, and only read afterwards.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "lib/alloc.h"

/* glibc's own allocator, exported whatever malloc is interposed */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static bool use_libc;

void priv_heap_use_libc(void)
{
	use_libc = true;
}

void *priv_malloc(size_t size)
{
	return use_libc ? __libc_malloc(size) : malloc(size);
}

void *priv_calloc(size_t n, size_t size)
{
	return use_libc ? __libc_calloc(n, size) : calloc(n, size);
}

void *priv_realloc(void *p, size_t size)
{
	return use_libc ? __libc_realloc(p, size) : realloc(p, size);
}

void *priv_aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (use_libc)
		return __libc_memalign(align, size);
	return posix_memalign(&p, align, size) ? NULL : p;
}

void priv_free(void *p)
{
	if (use_libc)
		__libc_free(p);
	else
		free(p);
}
