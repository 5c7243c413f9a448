/*
 * zspool: the dense allocator for compressed objects (see zspool.h for the
 * interface and docs/store.md for the prose).  It sits under the compressed
 * RAM device (zram.c) and above the OS: it takes page runs from anonymous
 * mappings and gives them back with MADV_DONTNEED.
 *
 * Size classes.  An object of s bytes goes to the class of size
 * 32 + 16 * ceil((s - 32) / 16) (s <= 32 goes to 32): 255 classes up to 4096,
 * as the kernel's zsmalloc with 4 KiB pages.  For each class size c we pick
 * the zspage length k in 1..8 pages that wastes the least of k * 4096 bytes
 * (the first k reaching the best use, as zsmalloc's get_pages_per_zspage()),
 * and the zspage then holds n = k * 4096 / c objects.  Worked example: c =
 * 1184 (a typical lz4-compressed heap page): k = 1 holds 3 objects (87%
 * used), k = 2 holds 6 (87%), k = 7 holds 24 (99.1%), k = 8 holds 27 (97.6%),
 * so k = 7.  Adjacent classes with the same (k, n) are merged into the larger
 * one (fewer half-empty zspages, same packing), again as zsmalloc does.
 *
 * Packing.  A zspage is k pages of contiguous virtual memory, so object i of
 * the zspage lives at base + i * c and may straddle a page boundary with no
 * copy needed to read it.  Objects carry no header: the handle of object i is
 * kept beside the zspage, in its descriptor's owner[] array (4 bytes per
 * object), which compaction needs to find whose handle to update.  Free
 * objects of a zspage are chained through owner[] too.
 *
 * Handles.  A handle is (class id << 32 | index into the class's handle
 * table); the table entry says (zspage, object index).  Compaction moves an
 * object and rewrites its entry under the class lock, so handles stay valid.
 *
 * Pages.  zspages are carved from 64 MiB reservations (MAP_NORESERVE) in runs
 * of k pages; a run is populated with MADV_POPULATE_WRITE when made (one
 * syscall instead of k page faults); when its zspage empties it goes to the
 * run cache (up to ZSPOOL_CACHE_PAGES, kept populated, see run_cache_put) or
 * back to the OS with MADV_DONTNEED; freed runs are kept per length for
 * reuse.  The pool's memory use is the number of pages of live zspages
 * (plus the cached runs), the same measure as zsmalloc's
 * zs_get_total_pages() behind zram's mem_used_total.
 *
 * Lock order (outermost first):
 *	class->lock			zspool_store, zspool_free, zspool_map,
 *					compact_class
 *	  pool->run_lock		run_put, run_cache_put (zspage_release)
 * run_get(), run_cache_get(), run_cache_flush() (zspage_make, compaction)
 * take run_lock with no class lock.
 * No function holds two class locks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/alloc.h"
#include "store/device.h"
#include "store/zspool.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define ZS_MIN_SIZE    32
#define ZS_DELTA       16
#define ZS_NCLASSES    ((PAGE_SIZE - ZS_MIN_SIZE) / ZS_DELTA + 1) /* 255 */
#define ZS_MAX_PAGES   8
#define ZS_CHUNK       (64UL << 20) /* virtual reservation, bytes */
#define ZS_FREE	       0x80000000u  /* owner[i]: object i is free */
#define ZS_END	       0xffffu	    /* end of a zspage's free chain */
#define ZS_HT_INITIAL  64
#define ZS_CACHE_PAGES ZSPOOL_CACHE_PAGES

/*
 * One zspage: k pages holding n objects of one class.  Every field but
 * base and pins is protected by the class lock.
 */
struct zspage {
	struct zspage *prev, *next; /* on the class's partial or full list */
	char *base;		    /* k pages; written at creation only */
	atomic_int pins;	    /* zspool_map()s reading it, see map */
	uint16_t inuse;		    /* live objects */
	uint16_t free_head;	    /* first free object, or ZS_END */
	bool full;		    /* on the full list (inuse == n) */
	uint32_t owner[]; /* n entries: handle index or ZS_FREE|next */
};

/* A handle table entry: where the object is; or, when free, the next free. */
struct zs_hent {
	struct zspage *zsp; /* NULL when the entry is free */
	uint32_t idx;	    /* object index in zsp, or next free entry */
};

struct zs_class {
	pthread_mutex_t lock;
	/* Written at setup only. */
	uint32_t size;	/* bytes per object */
	uint16_t pages; /* pages per zspage */
	uint16_t objs;	/* objects per zspage */
	uint32_t id;	/* index in pool->classes */
	/* Protected by lock. */
	struct zspage *partial; /* zspages with a free object, newest first */
	struct zspage *full;	/* zspages with none */
	uint64_t nzspages;	/* on both lists */
	uint64_t inuse;		/* live objects in the class */
	struct zs_hent *ht;	/* handle table; entry 0 is never used */
	uint32_t ht_len, ht_cap;
	uint32_t ht_free; /* first free entry, 0 = none */
} __attribute__((aligned(64)));

struct zspool {
	struct zs_class classes[ZS_NCLASSES];
	/* size index -> canonical (merged) class; written at setup only */
	struct zs_class *class_of[ZS_NCLASSES];
	uint64_t limit_pages; /* setup only; 0 = none */

	/* Counters: atomics, relaxed except pages (see reserve_pages). */
	atomic_uint_fast64_t pages;
	atomic_uint_fast64_t pages_max;
	atomic_uint_fast64_t pages_compacted;
	atomic_uint_fast64_t meta_bytes;

	/* Page runs.  All protected by run_lock. */
	pthread_mutex_t run_lock;
	char *chunk;	  /* current reservation */
	size_t chunk_off; /* bytes of it handed out */
	char **chunks;	  /* every reservation, for destroy */
	size_t nchunks, chunks_cap;
	char **runs[ZS_MAX_PAGES + 1]; /* freed runs by length */
	size_t nruns[ZS_MAX_PAGES + 1], runs_cap[ZS_MAX_PAGES + 1];
	/* emptied runs still populated (and counted in pages), by length */
	char **hot[ZS_MAX_PAGES + 1];
	size_t nhot[ZS_MAX_PAGES + 1], hot_cap[ZS_MAX_PAGES + 1];
	unsigned int hot_pages; /* sum over hot[], <= ZS_CACHE_PAGES */
};

/* Debug tier: the caller holds the lock (held by someone, at least). */
#ifdef USWAP_DEBUG
#define assert_held(m)                                                 \
	do {                                                           \
		if (pthread_mutex_trylock(m) == 0) {                   \
			fprintf(stderr, "zspool: %s: lock not held\n", \
				__func__);                             \
			abort();                                       \
		}                                                      \
	} while (0)
#else
#define assert_held(m) ((void)0)
#endif

static unsigned int size_index(size_t size)
{
	if (size <= ZS_MIN_SIZE)
		return 0;
	return (size - ZS_MIN_SIZE + ZS_DELTA - 1) / ZS_DELTA;
}

/* The zspage length for objects of @size: least waste, smallest k on ties. */
static unsigned int pages_per_zspage(size_t size)
{
	unsigned int k, best_k = 1;
	size_t best_used = 0;

	for (k = 1; k <= ZS_MAX_PAGES; k++) {
		size_t bytes = k * PAGE_SIZE;
		size_t used = bytes / size * size;

		/* compare used / bytes without division: used * best_bytes */
		if (used * (best_k * PAGE_SIZE) > best_used * bytes) {
			best_used = used;
			best_k = k;
		}
	}
	return best_k;
}

size_t zspool_huge_size(void)
{
	size_t c;

	for (c = PAGE_SIZE; c >= ZS_MIN_SIZE; c -= ZS_DELTA)
		if (pages_per_zspage(c) * PAGE_SIZE / c > 1)
			return c;
	return 0;
}

static void add_meta(struct zspool *pool, long delta)
{
	atomic_fetch_add_explicit(&pool->meta_bytes, (uint64_t)delta,
				  memory_order_relaxed);
}

/*
 * reserve_pages - account @k more pages, unless that passes the limit.
 * A compare-and-swap loop, so that two stores racing at the limit cannot
 * both pass it.  Return: 0 or -ENOSPC.  Context: any; lock free.
 */
static int reserve_pages(struct zspool *pool, uint64_t k)
{
	uint64_t cur, max;

	cur = atomic_load_explicit(&pool->pages, memory_order_relaxed);
	do {
		if (pool->limit_pages && cur + k > pool->limit_pages)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(
		&pool->pages, &cur, cur + k, memory_order_relaxed,
		memory_order_relaxed));
	max = atomic_load_explicit(&pool->pages_max, memory_order_relaxed);
	while (cur + k > max &&
	       !atomic_compare_exchange_weak_explicit(
		       &pool->pages_max, &max, cur + k, memory_order_relaxed,
		       memory_order_relaxed))
		;
	return 0;
}

static void unreserve_pages(struct zspool *pool, uint64_t k)
{
	atomic_fetch_sub_explicit(&pool->pages, k, memory_order_relaxed);
}

static bool push_ptr(char ***arr, size_t *n, size_t *cap, char *p)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		char **na = priv_realloc(*arr, ncap * sizeof(*na));

		if (!na)
			return false;
		*arr = na;
		*cap = ncap;
	}
	(*arr)[(*n)++] = p;
	return true;
}

/*
 * run_get - @k contiguous pages, populated.  Return NULL when out of memory.
 * Context: takes run_lock; may block (mmap, madvise).
 */
static char *run_get(struct zspool *pool, unsigned int k)
{
	size_t bytes = (size_t)k * PAGE_SIZE;
	char *run = NULL;

	pthread_mutex_lock(&pool->run_lock);
	if (pool->nruns[k]) {
		run = pool->runs[k][--pool->nruns[k]];
	} else {
		if (!pool->chunk || pool->chunk_off + bytes > ZS_CHUNK) {
			char *c = mmap(NULL, ZS_CHUNK, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS |
					       MAP_NORESERVE,
				       -1, 0);

			if (c == MAP_FAILED)
				goto out;
			if (!push_ptr(&pool->chunks, &pool->nchunks,
				      &pool->chunks_cap, c)) {
				munmap(c, ZS_CHUNK);
				goto out;
			}
			pool->chunk = c;
			pool->chunk_off = 0;
		}
		run = pool->chunk + pool->chunk_off;
		pool->chunk_off += bytes;
	}
out:
	pthread_mutex_unlock(&pool->run_lock);
	/* One syscall for k pages; older kernels say EINVAL: fault them. */
	if (run)
		(void)madvise(run, bytes, MADV_POPULATE_WRITE);
	return run;
}

/*
 * run_put - give @k pages at @run back to the OS and keep the range for
 * reuse.  Context: takes run_lock; may block.
 */
static void run_put(struct zspool *pool, char *run, unsigned int k)
{
	(void)madvise(run, (size_t)k * PAGE_SIZE, MADV_DONTNEED);
	pthread_mutex_lock(&pool->run_lock);
	/* Out of memory for the list: the range leaks, its pages do not. */
	(void)push_ptr(&pool->runs[k], &pool->nruns[k], &pool->runs_cap[k],
		       run);
	pthread_mutex_unlock(&pool->run_lock);
}

/*
 * The run cache.  A zspage that empties under store/discard churn (swap's
 * steady state; every page of the huge class, one page per zspage, does
 * it) would cost MADV_DONTNEED (a TLB shootdown IPI to every CPU running
 * the process), then a fault and a zeroed page when the next zspage of
 * that length is made.  So up to ZS_CACHE_PAGES pages of emptied runs are
 * kept populated and reused first.  They stay counted in pool->pages
 * (mem_used_total: the process does hold them); compaction, and a store
 * that would otherwise pass the limit, give them back.
 *
 * run_cache_put - keep @run (k pages, still reserved) in the cache.
 * Return: true if kept; false if the cache is full (the caller gives the
 * run back and unreserves its pages).  Context: takes run_lock.
 */
static bool run_cache_put(struct zspool *pool, char *run, unsigned int k)
{
	bool kept = false;

	pthread_mutex_lock(&pool->run_lock);
	if (pool->hot_pages + k <= ZS_CACHE_PAGES &&
	    push_ptr(&pool->hot[k], &pool->nhot[k], &pool->hot_cap[k], run)) {
		pool->hot_pages += k;
		kept = true;
	}
	pthread_mutex_unlock(&pool->run_lock);
	return kept;
}

/* A cached run of @k pages (already reserved), or NULL.  Takes run_lock. */
static char *run_cache_get(struct zspool *pool, unsigned int k)
{
	char *run = NULL;

	pthread_mutex_lock(&pool->run_lock);
	if (pool->nhot[k]) {
		run = pool->hot[k][--pool->nhot[k]];
		pool->hot_pages -= k;
	}
	pthread_mutex_unlock(&pool->run_lock);
	return run;
}

/*
 * run_cache_flush - give every cached run back to the OS and unreserve its
 * pages.  Return: pages given back.  Context: takes run_lock; may block.
 */
static long run_cache_flush(struct zspool *pool)
{
	long freed = 0;
	unsigned int k;

	pthread_mutex_lock(&pool->run_lock);
	for (k = 1; k <= ZS_MAX_PAGES; k++)
		while (pool->nhot[k]) {
			char *run = pool->hot[k][--pool->nhot[k]];

			(void)madvise(run, (size_t)k * PAGE_SIZE,
				      MADV_DONTNEED);
			(void)push_ptr(&pool->runs[k], &pool->nruns[k],
				       &pool->runs_cap[k], run);
			freed += k;
		}
	pool->hot_pages = 0;
	pthread_mutex_unlock(&pool->run_lock);
	if (freed)
		unreserve_pages(pool, (uint64_t)freed);
	return freed;
}

static void list_del(struct zspage **head, struct zspage *zsp)
{
	if (zsp->prev)
		zsp->prev->next = zsp->next;
	else
		*head = zsp->next;
	if (zsp->next)
		zsp->next->prev = zsp->prev;
	zsp->prev = zsp->next = NULL;
}

static void list_add(struct zspage **head, struct zspage *zsp)
{
	zsp->prev = NULL;
	zsp->next = *head;
	if (*head)
		(*head)->prev = zsp;
	*head = zsp;
}

static size_t zspage_desc_size(const struct zs_class *cls)
{
	return sizeof(struct zspage) + cls->objs * sizeof(uint32_t);
}

/*
 * zspage_make - make an empty zspage for @cls: reserve its pages against the
 * limit, take and populate a page run, chain its free objects.  Done
 * without the class lock, because populating k pages takes microseconds
 * and would stall every store and load of the class.
 * Return: 0 and *@out; -ENOSPC (limit); -ENOMEM.
 * Context: no class lock held; takes run_lock; may block.
 */
static int zspage_make(struct zspool *pool, struct zs_class *cls,
		       struct zspage **out)
{
	struct zspage *zsp;
	unsigned int i;
	int ret;

	zsp = priv_calloc(1, zspage_desc_size(cls));
	if (!zsp)
		return -ENOMEM;
	zsp->base = run_cache_get(pool, cls->pages);
	if (!zsp->base) {
		ret = reserve_pages(pool, cls->pages);
		/* At the limit: cached runs of other lengths make room. */
		if (ret == -ENOSPC && run_cache_flush(pool))
			ret = reserve_pages(pool, cls->pages);
		if (ret) {
			priv_free(zsp);
			return ret;
		}
		zsp->base = run_get(pool, cls->pages);
		if (!zsp->base) {
			priv_free(zsp);
			unreserve_pages(pool, cls->pages);
			return -ENOMEM;
		}
	}
	atomic_init(&zsp->pins, 0);
	for (i = 0; i < cls->objs; i++)
		zsp->owner[i] = ZS_FREE | (i + 1 < cls->objs ? i + 1 : ZS_END);
	zsp->free_head = 0;
	add_meta(pool, (long)zspage_desc_size(cls));
	*out = zsp;
	return 0;
}

/* Put a new zspage on @cls's partial list.  Context: cls->lock held. */
static void zspage_add(struct zs_class *cls, struct zspage *zsp)
{
	list_add(&cls->partial, zsp);
	cls->nzspages++;
}

/*
 * zspage_release - free an empty, unpinned zspage and its pages.
 * Context: cls->lock held; takes run_lock; may block.
 */
static void zspage_release(struct zspool *pool, struct zs_class *cls,
			   struct zspage *zsp)
{
	assert_held(&cls->lock);
	if (zsp->inuse ||
	    atomic_load_explicit(&zsp->pins, memory_order_acquire)) {
		/* A bug in the caller: never free what is read. */
		fprintf(stderr, "zspool: releasing a busy zspage (%u, %d)\n",
			zsp->inuse, atomic_load(&zsp->pins));
		abort();
	}
	list_del(zsp->full ? &cls->full : &cls->partial, zsp);
	cls->nzspages--;
	if (!run_cache_put(pool, zsp->base, cls->pages)) {
		run_put(pool, zsp->base, cls->pages);
		unreserve_pages(pool, cls->pages);
	}
	add_meta(pool, -(long)zspage_desc_size(cls));
	priv_free(zsp);
}

/* Take a free object of @zsp for handle index @hidx.  Context: cls->lock. */
static unsigned int zspage_take(struct zs_class *cls, struct zspage *zsp,
				uint32_t hidx)
{
	unsigned int i = zsp->free_head;

	assert_held(&cls->lock);
	zsp->free_head = zsp->owner[i] & ZS_END;
	zsp->owner[i] = hidx;
	zsp->inuse++;
	cls->inuse++;
	if (zsp->inuse == cls->objs) {
		list_del(&cls->partial, zsp);
		list_add(&cls->full, zsp);
		zsp->full = true;
	}
	return i;
}

/*
 * Put object @i of @zsp back on its free chain.  Return true when the
 * zspage is now empty (the caller releases it).  Context: cls->lock.
 */
static bool zspage_put(struct zs_class *cls, struct zspage *zsp, unsigned int i)
{
	assert_held(&cls->lock);
	zsp->owner[i] = ZS_FREE | zsp->free_head;
	zsp->free_head = i;
	zsp->inuse--;
	cls->inuse--;
	if (zsp->full) {
		list_del(&cls->full, zsp);
		list_add(&cls->partial, zsp);
		zsp->full = false;
	}
	return zsp->inuse == 0;
}

/* A free handle table entry; 0 when out of memory.  Context: cls->lock. */
static uint32_t hent_alloc(struct zspool *pool, struct zs_class *cls)
{
	uint32_t h;

	assert_held(&cls->lock);
	if (cls->ht_free) {
		h = cls->ht_free;
		cls->ht_free = cls->ht[h].idx;
		return h;
	}
	if (cls->ht_len == cls->ht_cap) {
		uint32_t ncap = cls->ht_cap ? cls->ht_cap * 2 : ZS_HT_INITIAL;
		struct zs_hent *nt;

		if (ncap <= cls->ht_cap) /* 2^31 entries: give up */
			return 0;
		nt = priv_realloc(cls->ht, (size_t)ncap * sizeof(*nt));
		if (!nt)
			return 0;
		add_meta(pool, (long)(ncap - cls->ht_cap) * (long)sizeof(*nt));
		cls->ht = nt;
		cls->ht_cap = ncap;
		if (cls->ht_len == 0)
			cls->ht_len = 1; /* entry 0 is never a handle */
	}
	return cls->ht_len++;
}

static void hent_free(struct zs_class *cls, uint32_t h)
{
	assert_held(&cls->lock);
	cls->ht[h].zsp = NULL;
	cls->ht[h].idx = cls->ht_free;
	cls->ht_free = h;
}

static inline char *obj_ptr(const struct zs_class *cls,
			    const struct zspage *zsp, unsigned int i)
{
	return zsp->base + (size_t)i * cls->size;
}

int zspool_store(struct zspool *pool, const void *src, size_t size,
		 uint64_t *handle)
{
	struct zs_class *cls;
	struct zspage *zsp;
	uint32_t h;
	unsigned int i;
	int ret;

	if (size == 0 || size > PAGE_SIZE)
		return -EINVAL;
	cls = pool->class_of[size_index(size)];
	pthread_mutex_lock(&cls->lock);
	h = hent_alloc(pool, cls);
	if (!h) {
		ret = -ENOMEM;
		goto out;
	}
	/*
	 * No room: make a zspage with the lock dropped.  Another store may
	 * make one meanwhile; then the class has two partial zspages, which
	 * is harmless.  Nothing is visible to others until zspage_add().
	 */
	while (!cls->partial) {
		pthread_mutex_unlock(&cls->lock);
		ret = zspage_make(pool, cls, &zsp);
		pthread_mutex_lock(&cls->lock);
		if (!ret)
			zspage_add(cls, zsp);
		else if (!cls->partial) { /* else: use another's zspage */
			hent_free(cls, h);
			goto out;
		}
	}
	zsp = cls->partial;
	i = zspage_take(cls, zsp, h);
	cls->ht[h].zsp = zsp;
	cls->ht[h].idx = i;
	memcpy(obj_ptr(cls, zsp, i), src, size);
	*handle = (uint64_t)cls->id << 32 | h;
	ret = 0;
out:
	pthread_mutex_unlock(&cls->lock);
	return ret;
}

/*
 * handle_class - the class of @handle, and its table index in *@h.  A
 * handle that names no class is a caller's bug: say so and abort rather
 * than write through a wild pointer (the entry itself is checked under the
 * class lock by handle_entry).
 */
static struct zs_class *handle_class(struct zspool *pool, uint64_t handle,
				     uint32_t *h)
{
	if ((handle >> 32) >= ZS_NCLASSES) {
		fprintf(stderr, "zspool: bad handle %#llx\n",
			(unsigned long long)handle);
		abort();
	}
	*h = (uint32_t)handle;
	return &pool->classes[handle >> 32];
}

/* The live entry of handle index @h.  Context: cls->lock held. */
static struct zs_hent *handle_entry(struct zs_class *cls, uint32_t h)
{
	assert_held(&cls->lock);
	if (h == 0 || h >= cls->ht_len || !cls->ht[h].zsp) {
		fprintf(stderr, "zspool: class %u: bad or freed handle %u\n",
			cls->id, h);
		abort();
	}
	return &cls->ht[h];
}

void zspool_free(struct zspool *pool, uint64_t handle)
{
	uint32_t h;
	struct zs_class *cls = handle_class(pool, handle, &h);
	struct zspage *zsp;
	struct zs_hent *e;

	pthread_mutex_lock(&cls->lock);
	e = handle_entry(cls, h);
	zsp = e->zsp;
	if (zspage_put(cls, zsp, e->idx))
		zspage_release(pool, cls, zsp);
	hent_free(cls, h);
	pthread_mutex_unlock(&cls->lock);
}

/*
 * zspool_map - see zspool.h.  The pin is what lets the caller read without
 * the class lock while compaction runs:
 *
 *	reader				compaction (compact_class)
 *	lock class
 *	read entry: (zsp, i)
 *	zsp->pins++
 *	unlock class
 *					lock class
 *					zsp->pins != 0: not a source, skip
 *	read object i of zsp ...	move objects of other zspages
 *	zsp->pins-- (release)		unlock class
 *
 * A pin is taken under the class lock, and compaction checks pins under the
 * same lock (acquire), so either it sees the pin and leaves the zspage
 * alone, or the reader has not read the entry yet and will see the moved
 * object's new place, or the reader is done (its reads happen before the
 * release that compaction's acquire saw).  Stores and frees of other
 * objects may write into the pinned zspage meanwhile: they touch other
 * objects' bytes only, and the zspage cannot empty while the mapped object
 * lives (the caller does not free a mapped handle).
 */
void zspool_map(struct zspool *pool, uint64_t handle, struct zspool_pin *pin)
{
	uint32_t h;
	struct zs_class *cls = handle_class(pool, handle, &h);
	struct zspage *zsp;
	struct zs_hent *e;

	pthread_mutex_lock(&cls->lock);
	e = handle_entry(cls, h);
	zsp = e->zsp;
	atomic_fetch_add_explicit(&zsp->pins, 1, memory_order_relaxed);
	pin->ptr = obj_ptr(cls, zsp, e->idx);
	pin->zspage = zsp;
	pthread_mutex_unlock(&cls->lock);
}

void zspool_unmap(struct zspool *pool, struct zspool_pin *pin)
{
	struct zspage *zsp = pin->zspage;

	atomic_fetch_sub_explicit(&zsp->pins, 1, memory_order_release);
	pin->ptr = NULL;
	pin->zspage = NULL;
}

/* The emptiest unpinned partial zspage, or NULL.  Context: cls->lock. */
static struct zspage *pick_source(struct zs_class *cls)
{
	struct zspage *zsp, *best = NULL;

	assert_held(&cls->lock);
	for (zsp = cls->partial; zsp; zsp = zsp->next) {
		if (atomic_load_explicit(&zsp->pins, memory_order_acquire))
			continue;
		if (!best || zsp->inuse < best->inuse)
			best = zsp;
	}
	return best;
}

/*
 * compact_class - empty zspages of @cls into others while the class holds at
 * least one zspage's worth of free objects.  Each round moves the objects
 * of the emptiest unpinned zspage into the partial zspages at the head of
 * the list (the most recently used), then releases the emptied zspage; the
 * class lock is dropped between rounds so that stores and loads go on.
 * Return: pages given back.  Context: takes cls->lock; may block.
 */
static long compact_class(struct zspool *pool, struct zs_class *cls)
{
	long freed = 0;

	for (;;) {
		struct zspage *src, *dst;
		uint64_t free_objs;
		unsigned int i, j;
		bool stuck;

		pthread_mutex_lock(&cls->lock);
		free_objs = cls->nzspages * cls->objs - cls->inuse;
		src = free_objs >= cls->objs ? pick_source(cls) : NULL;
		if (!src) {
			pthread_mutex_unlock(&cls->lock);
			break;
		}
		/* Off the list, so that it is not its own destination. */
		list_del(&cls->partial, src);
		for (i = 0; i < cls->objs && src->inuse; i++) {
			uint32_t h = src->owner[i];

			if (h & ZS_FREE)
				continue;
			dst = cls->partial;
			if (!dst)
				break; /* cannot happen: free_objs >= objs */
			j = zspage_take(cls, dst, h);
			memcpy(obj_ptr(cls, dst, j), obj_ptr(cls, src, i),
			       cls->size);
			cls->ht[h].zsp = dst;
			cls->ht[h].idx = j;
			src->owner[i] = ZS_FREE | src->free_head;
			src->free_head = i;
			src->inuse--;
			cls->inuse--;
		}
		list_add(&cls->partial, src);
		stuck = src->inuse != 0; /* only if dst ran out */
		if (!stuck) {
			zspage_release(pool, cls, src);
			freed += cls->pages;
		}
		pthread_mutex_unlock(&cls->lock);
		if (stuck)
			break;
	}
	return freed;
}

long zspool_compact(struct zspool *pool)
{
	long freed = 0;
	unsigned int i;

	for (i = 0; i < ZS_NCLASSES; i++)
		if (pool->class_of[i] == &pool->classes[i])
			freed += compact_class(pool, &pool->classes[i]);
	freed += run_cache_flush(pool);
	atomic_fetch_add_explicit(&pool->pages_compacted, (uint64_t)freed,
				  memory_order_relaxed);
	return freed;
}

void zspool_get_usage(struct zspool *pool, struct zspool_usage *u)
{
	unsigned int i;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < ZS_NCLASSES; i++) {
		struct zs_class *cls = &pool->classes[i];

		if (pool->class_of[i] != cls)
			continue;
		pthread_mutex_lock(&cls->lock);
		u->obj_bytes += cls->inuse * cls->size;
		u->free_bytes +=
			(cls->nzspages * cls->objs - cls->inuse) * cls->size;
		u->tail_bytes += cls->nzspages * (cls->pages * PAGE_SIZE -
						  cls->objs * cls->size);
		u->zspages += cls->nzspages;
		pthread_mutex_unlock(&cls->lock);
	}
}

void zspool_get_stats(struct zspool *pool, struct zspool_stats *st)
{
	st->pages = atomic_load_explicit(&pool->pages, memory_order_relaxed);
	st->pages_max =
		atomic_load_explicit(&pool->pages_max, memory_order_relaxed);
	/* reserve_pages raises pages before pages_max: keep max >= pages */
	if (st->pages_max < st->pages)
		st->pages_max = st->pages;
	st->pages_compacted = atomic_load_explicit(&pool->pages_compacted,
						   memory_order_relaxed);
	st->meta_bytes =
		atomic_load_explicit(&pool->meta_bytes, memory_order_relaxed);
}

struct zspool *zspool_create(uint64_t limit_pages)
{
	struct zspool *pool;
	int i;

	pool = priv_aligned_alloc(64, sizeof(*pool));
	if (!pool)
		return NULL;
	memset(pool, 0, sizeof(*pool));
	pool->limit_pages = limit_pages;
	pthread_mutex_init(&pool->run_lock, NULL);
	atomic_init(&pool->meta_bytes, sizeof(*pool));
	/* From the largest class down, merging classes of equal shape. */
	for (i = ZS_NCLASSES - 1; i >= 0; i--) {
		struct zs_class *cls = &pool->classes[i];
		struct zs_class *up =
			i + 1 < (int)ZS_NCLASSES ? pool->class_of[i + 1] : NULL;

		cls->size = ZS_MIN_SIZE + (uint32_t)i * ZS_DELTA;
		cls->pages = pages_per_zspage(cls->size);
		cls->objs = cls->pages * PAGE_SIZE / cls->size;
		cls->id = i;
		pthread_mutex_init(&cls->lock, NULL);
		if (up && up->pages == cls->pages && up->objs == cls->objs)
			pool->class_of[i] = up;
		else
			pool->class_of[i] = cls;
	}
	return pool;
}

void zspool_destroy(struct zspool *pool)
{
	unsigned int i;

	if (!pool)
		return;
	for (i = 0; i < ZS_NCLASSES; i++) {
		struct zs_class *cls = &pool->classes[i];
		struct zspage *zsp, *next;
		struct zspage *lists[2] = {cls->partial, cls->full};
		int l;

		for (l = 0; l < 2; l++)
			for (zsp = lists[l]; zsp; zsp = next) {
				next = zsp->next;
				priv_free(zsp);
			}
		priv_free(cls->ht);
		pthread_mutex_destroy(&cls->lock);
	}
	for (i = 0; i < pool->nchunks; i++)
		munmap(pool->chunks[i], ZS_CHUNK);
	priv_free(pool->chunks);
	for (i = 0; i <= ZS_MAX_PAGES; i++) {
		priv_free(pool->runs[i]);
		priv_free(pool->hot[i]);
	}
	pthread_mutex_destroy(&pool->run_lock);
	priv_free(pool);
}
