/*
 * Folios and their pool: the page-sized buffers the swap cache holds.
 *
 * A pool is one array of struct folio, one per page of the area its creator
 * hands in, and a LIFO free list.  The structs are type-stable: a folio goes
 * back on the free list when its last reference is dropped, but its memory
 * stays a struct folio until folio_pool_destroy(), so a lockless swap-cache
 * lookup that races with the free may still read it (folio_try_get() then
 * refuses a count of 0, and the lookup re-checks the swap table).
 *
 * The folio lock is a bit lock on folio->flags (PG_locked) with a futex for
 * sleepers (PG_waiters), the way the kernel's folio lock is a bit with a
 * hashed wait queue.
 *
 * Locks: pool->lock protects the free list (folio->next_free, pool->nfree);
 * it is a leaf lock, never held while taking another.  The folio lock nests
 * outside the cluster locks of swap.c (docs/locking.md).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "store/device.h"
#include "swap/folio.h"

struct folio_pool {
	pthread_mutex_t lock;
	struct folio *free;   /* free list through next_free: pool->lock */
	size_t nfree;	      /* length of the free list: pool->lock */
	size_t npages;	      /* written at creation only */
	struct folio *folios; /* npages structs: written at creation only */
};

/*
 * folio_pool_create - see folio.h.
 * Context: any thread; may block in malloc.
 */
int folio_pool_create(void *area, size_t npages, struct folio_pool **out)
{
	struct folio_pool *pool;
	size_t i;

	if (!area || ((uintptr_t)area & (PAGE_SIZE - 1))) {
		fprintf(stderr, "folio_pool_create: area %p not page-aligned\n",
			area);
		return -EINVAL;
	}
	if (npages == 0) {
		fprintf(stderr, "folio_pool_create: npages 0\n");
		return -EINVAL;
	}
	pool = priv_calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->folios = priv_calloc(npages, sizeof(*pool->folios));
	if (!pool->folios) {
		priv_free(pool);
		return -ENOMEM;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pool->npages = npages;
	/* Push in reverse so that the first folio_alloc gets page 0. */
	for (i = npages; i-- > 0;) {
		struct folio *folio = &pool->folios[i];

		folio->data = (char *)area + i * PAGE_SIZE;
		folio->pool = pool;
		folio->next_free = pool->free;
		pool->free = folio;
	}
	pool->nfree = npages;
	*out = pool;
	return 0;
}

/*
 * folio_pool_destroy - free the pool.  The caller guarantees that no folio
 * is in use any more (none in a swap cache, no reference held).
 * Context: no other thread may touch the pool's folios.
 */
void folio_pool_destroy(struct folio_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_destroy(&pool->lock);
	priv_free(pool->folios);
	priv_free(pool);
}

/* folio_pool_free_count - folios on the free list.  Context: pool->lock. */
size_t folio_pool_free_count(struct folio_pool *pool)
{
	size_t n;

	pthread_mutex_lock(&pool->lock);
	n = pool->nfree;
	pthread_mutex_unlock(&pool->lock);
	return n;
}

/* folio_alloc - see folio.h.  Context: takes pool->lock (leaf). */
struct folio *folio_alloc(struct folio_pool *pool)
{
	struct folio *folio;

	pthread_mutex_lock(&pool->lock);
	folio = pool->free;
	if (folio) {
		pool->free = folio->next_free;
		pool->nfree--;
	}
	pthread_mutex_unlock(&pool->lock);
	if (!folio)
		return NULL;
	folio->next_free = NULL;
	folio->private = NULL;
	__atomic_store_n(&folio->swap.val, 0, __ATOMIC_RELAXED);
	atomic_store_explicit(&folio->flags, 0, memory_order_relaxed);
	/*
	 * Release: a lockless lookup that sees the count go from 0 to 1 and
	 * then re-checks the swap table must not see the old flags.
	 */
	atomic_store_explicit(&folio->refcount, 1, memory_order_release);
	return folio;
}

/*
 * folio_get - take a reference on a folio the caller already holds one on
 * (or that the swap cache holds, under its cluster lock).
 * Context: any thread; lockless; never sleeps.
 */
void folio_get(struct folio *folio)
{
	int32_t old = atomic_fetch_add_explicit(&folio->refcount, 1,
						memory_order_relaxed);

	if (old <= 0) {
		fprintf(stderr, "folio_get: folio %p had refcount %d\n",
			(void *)folio, old);
		abort();
	}
}

/*
 * folio_try_get - take a reference unless the count is 0 (a free folio).
 * Context: lockless; used by swap_cache_get_folio on a folio that may have
 * been freed under it (type-stable memory makes the access itself safe).
 */
bool folio_try_get(struct folio *folio)
{
	int32_t old =
		atomic_load_explicit(&folio->refcount, memory_order_relaxed);

	do {
		if (old <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&folio->refcount, &old, old + 1, memory_order_acquire,
		memory_order_relaxed));
	return true;
}

/*
 * folio_put - drop a reference; the last one returns the folio to its pool.
 * Context: any thread; the last put takes pool->lock (leaf), so it may be
 * called with a cluster lock held, but swap.c calls it after unlocking.
 */
void folio_put(struct folio *folio)
{
	struct folio_pool *pool = folio->pool;
	int32_t old = atomic_fetch_sub_explicit(&folio->refcount, 1,
						memory_order_acq_rel);

	if (old > 1)
		return;
	if (old != 1) {
		fprintf(stderr, "folio_put: folio %p had refcount %d\n",
			(void *)folio, old);
		abort();
	}
	if (atomic_load_explicit(&folio->flags, memory_order_relaxed) &
	    (PG_locked | PG_swapcache)) {
		fprintf(stderr, "folio_put: freeing folio %p with flags %#x\n",
			(void *)folio,
			(unsigned)atomic_load_explicit(&folio->flags,
						       memory_order_relaxed));
		abort();
	}
	pthread_mutex_lock(&pool->lock);
	folio->next_free = pool->free;
	pool->free = folio;
	pool->nfree++;
	pthread_mutex_unlock(&pool->lock);
}

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)uaddr, op, val, NULL, NULL, 0);
}

/* folio_trylock - take the folio lock if it is free.  Context: any; never
 * sleeps, so it may be called with a cluster lock held. */
bool folio_trylock(struct folio *folio)
{
	uint32_t old = atomic_fetch_or_explicit(&folio->flags, PG_locked,
						memory_order_acquire);

	return !(old & PG_locked);
}

/*
 * folio_lock - take the folio lock, sleeping on the futex while another
 * thread holds it.  Context: may sleep; the caller holds no cluster lock
 * (docs/locking.md: folio lock outside the cluster lock).
 */
void folio_lock(struct folio *folio)
{
	uint32_t old;

	for (;;) {
		if (folio_trylock(folio))
			return;
		/* Announce a sleeper, then sleep only if still locked. */
		old = atomic_fetch_or_explicit(&folio->flags, PG_waiters,
					       memory_order_relaxed);
		if (!(old & PG_locked))
			continue;
		futex(&folio->flags, FUTEX_WAIT_PRIVATE,
		      old | PG_waiters | PG_locked);
	}
}

/*
 * folio_unlock - release the folio lock and wake every sleeper (they race
 * for it again; losers set PG_waiters again before sleeping).
 * Context: any thread that holds the lock; never sleeps.
 */
void folio_unlock(struct folio *folio)
{
	uint32_t old = atomic_fetch_and_explicit(
		&folio->flags, ~(uint32_t)(PG_locked | PG_waiters),
		memory_order_release);

	if (!(old & PG_locked)) {
		fprintf(stderr, "folio_unlock: folio %p was not locked\n",
			(void *)folio);
		abort();
	}
	if (old & PG_waiters)
		futex(&folio->flags, FUTEX_WAKE_PRIVATE, INT_MAX);
}

/*
 * folio_wait_locked - sleep until the folio lock is free, without taking
 * it.  Context: may sleep.
 */
void folio_wait_locked(struct folio *folio)
{
	uint32_t old;

	for (;;) {
		old = atomic_load_explicit(&folio->flags, memory_order_acquire);
		if (!(old & PG_locked))
			return;
		old = atomic_fetch_or_explicit(&folio->flags, PG_waiters,
					       memory_order_relaxed);
		if (!(old & PG_locked))
			continue;
		futex(&folio->flags, FUTEX_WAIT_PRIVATE,
		      old | PG_waiters | PG_locked);
	}
}

/*
 * folio_set_flag / folio_clear_flag - atomic bit updates.  Not for
 * PG_locked / PG_waiters (use the lock functions, which wake sleepers).
 * Context: any thread, normally the folio lock holder; never sleeps.
 */
void folio_set_flag(struct folio *folio, uint32_t bit)
{
	atomic_fetch_or_explicit(&folio->flags, bit, memory_order_release);
}

void folio_clear_flag(struct folio *folio, uint32_t bit)
{
	atomic_fetch_and_explicit(&folio->flags, ~bit, memory_order_release);
}
