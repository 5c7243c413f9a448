/*
 * The swap core: device table, swap map, cluster allocator and swap cache
 * (the kernel's mm/swapfile.c and mm/swap_state.c with the 6.18 swap table).
 * It sits under the pager (src/mm/) and over the devices (src/store/), and
 * knows nothing of userfaultfd.  The contract is swap.h; the map encoding and
 * the structs are in swap_internal.h; the debug walk is validate.c.
 *
 * Lock order (outermost first; docs/locking.md has the whole tree):
 *
 *   swap_lock                 swapon, swapoff (device table writes)
 *     ci->lock                swapoff (one cluster at a time)
 *   folio lock (PG_locked)    the pager; free_swap_and_cache (trylock only)
 *     ci->lock                every swap-map and swap-cache operation
 *       si->lock              relocate_cluster (list moves), stats
 *         ci->lock (trylock)  isolate_cluster, under si->lock: a trylock
 *                             never waits, so it cannot close a cycle
 *   pool->lock                folio_alloc, folio_put: a leaf, taken with
 *                             no swap lock held
 *
 * The device's discard runs under ci->lock, so a freed slot cannot be
 * allocated again before its data is gone.  Lookups (swap_cache_get_folio,
 * swap_count, swap_pinned, swap_cache_get_shadow) take no lock.
 *
 * Lifetime: a struct swap_info lives from swapon to swapoff; callers keep it
 * alive by holding a reference on one of its slots (swapoff refuses with
 * -EBUSY while any slot is in use), like the kernel's get_swap_device().
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "swap/swap_internal.h"

static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;
/* written under swap_lock, read locklessly (acquire) */
static _Atomic(struct swap_info *) swap_info[MAX_SWAPFILES];
static uint64_t swap_gen; /* swap_lock */

#ifdef USWAP_TEST_HOOKS
void (*swap_test_lookup_hook)(void);
bool swap_test_fail_cont_alloc;
#endif

/*
 * The calling thread's current cluster per device and order: only a hint
 * (any cluster index may be tried under its lock), invalidated by comparing
 * the device's generation, so a stale cursor after swapoff/swapon is harmless.
 */
struct swap_cursor {
	uint64_t gen;
	uint32_t cluster;
};
/* its address names the calling thread (ci->cursor_tag) */
static __thread char swap_thread_tag;
static __thread struct swap_cursor swap_cursor[MAX_SWAPFILES]
					      [SWAP_MAX_ORDER + 1];

/* ---- lists ---- */

static void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static void list_add_tail(struct list_node *node, struct list_node *head)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static void list_del(struct list_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = node;
}

static struct swap_cluster *cluster_of_node(struct list_node *node)
{
	return (struct swap_cluster *)((char *)node -
				       offsetof(struct swap_cluster, list));
}

/* ---- cluster locks ---- */

#ifdef USWAP_DEBUG
static __thread char lock_owner_tag; /* its address names this thread */
#endif

static void lock_cluster(struct swap_cluster *ci)
{
	pthread_mutex_lock(&ci->lock);
#ifdef USWAP_DEBUG
	ci->owner = &lock_owner_tag;
#endif
}

static bool trylock_cluster(struct swap_cluster *ci)
{
	if (pthread_mutex_trylock(&ci->lock))
		return false;
#ifdef USWAP_DEBUG
	ci->owner = &lock_owner_tag;
#endif
	return true;
}

static void unlock_cluster(struct swap_cluster *ci)
{
#ifdef USWAP_DEBUG
	ci->owner = NULL;
#endif
	pthread_mutex_unlock(&ci->lock);
}

static void assert_cluster_locked(struct swap_cluster *ci, const char *fn)
{
#ifdef USWAP_DEBUG
	if (ci->owner != &lock_owner_tag) {
		fprintf(stderr, "%s: cluster lock not held\n", fn);
		abort();
	}
#else
	(void)ci;
	(void)fn;
#endif
}

/* ---- the swap map ---- */

static unsigned long map_count(struct swap_cluster *ci, unsigned i)
{
	uint8_t m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	_Atomic uint32_t *ext;

	if (m == SWAP_MAP_BAD)
		return 0;
	if (!(m & COUNT_CONTINUED))
		return m & SWAP_COUNT_MASK;
	ext = atomic_load_explicit(&ci->ext, memory_order_acquire);
	return atomic_load_explicit(&ext[i], memory_order_relaxed);
}

static bool map_pinned(uint8_t m)
{
	return m != SWAP_MAP_BAD && (m & SWAP_HAS_CACHE);
}

/*
 * set_count_locked - store @count and @pin for slot @i, moving the count
 * to the continuation table above SWAP_MAP_MAX and back inline at or below
 * it.  Return: 0; -ENOMEM when the continuation table cannot be allocated
 * (nothing changed).  Context: ci->lock held.
 */
static int set_count_locked(struct swap_cluster *ci, unsigned i,
			    unsigned long count, bool pin)
{
	uint8_t old = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	uint8_t m = pin ? SWAP_HAS_CACHE : 0;
	_Atomic uint32_t *ext;

	assert_cluster_locked(ci, __func__);
	if (count > SWAP_MAP_MAX) {
		ext = atomic_load_explicit(&ci->ext, memory_order_relaxed);
		if (!ext) {
#ifdef USWAP_TEST_HOOKS
			if (swap_test_fail_cont_alloc)
				return -ENOMEM;
#endif
			ext = priv_calloc(SWAP_CLUSTER_SLOTS, sizeof(*ext));
			if (!ext)
				return -ENOMEM;
			atomic_store_explicit(&ci->ext, ext,
					      memory_order_release);
		}
		atomic_store_explicit(&ext[i], (uint32_t)count,
				      memory_order_relaxed);
		m |= COUNT_CONTINUED | SWAP_MAP_MAX;
		if (!(old & COUNT_CONTINUED))
			ci->ncont++;
	} else {
		m |= (uint8_t)count;
		if (old & COUNT_CONTINUED)
			ci->ncont--;
	}
	atomic_store_explicit(&ci->map[i], m, memory_order_relaxed);
	return 0;
}

/* ---- cluster lists ---- */

static uint8_t cluster_wanted_list(struct swap_cluster *ci)
{
	if (ci->count >= ci->nusable)
		return CLUSTER_FULL;
	if (ci->count == 0)
		return CLUSTER_FREE;
	return ci->frag ? CLUSTER_FRAG : CLUSTER_NONFULL;
}

static struct list_node *cluster_list_head(struct swap_info *si, uint8_t f,
					   unsigned order, uint32_t **counter)
{
	switch (f) {
	case CLUSTER_FREE:
		*counter = &si->nr_free;
		return &si->free_list;
	case CLUSTER_FRAG:
		*counter = &si->nr_frag;
		return &si->frag_list;
	case CLUSTER_FULL:
		*counter = &si->nr_full;
		return &si->full_list;
	default:
		*counter = &si->nr_nonfull;
		return &si->nonfull[order];
	}
}

/*
 * relocate_cluster - put @ci on the list its counters call for, after an
 * allocation or a free changed them.  Takes si->lock only when the list
 * must change, so the common allocation and free stay on ci->lock alone.
 * A cluster that becomes free forgets its order and fragmentation.
 * Context: ci->lock held; takes si->lock inside it.
 */
static void relocate_cluster(struct swap_info *si, struct swap_cluster *ci)
{
	uint8_t want;
	uint32_t *counter;

	assert_cluster_locked(ci, __func__);
	if (ci->count == 0) {
		ci->frag = false;
	}
	want = cluster_wanted_list(ci);
	if (want == CLUSTER_FREE || want == CLUSTER_FULL)
		ci->cursor_tag = NULL; /* nobody's current cluster any more */
	/*
	 * Same list: done.  For NONFULL that is also the same order: the
	 * order changes only while the cluster is free or isolated.
	 */
	if (want == ci->flags)
		return;
	pthread_mutex_lock(&si->lock);
	if (ci->flags != CLUSTER_NONE) {
		cluster_list_head(si, ci->flags, ci->order, &counter);
		list_del(&ci->list);
		(*counter)--;
	}
	if (want == CLUSTER_FREE)
		ci->order = 0;
	list_add_tail(&ci->list,
		      cluster_list_head(si, want, ci->order, &counter));
	(*counter)++;
	ci->flags = want;
	pthread_mutex_unlock(&si->lock);
}

/*
 * isolate_cluster - take the first cluster of @head whose lock can be had
 * without waiting off its list, locked.  *busy is set when a cluster was
 * skipped because its lock was taken.  With @skip_others, clusters that are
 * another thread's current cluster are skipped too, so that threads spread
 * over clusters instead of all contending for the first nonfull one.
 * Context: si->lock held; trylocks ci->lock (never waits: see the order).
 */
static struct swap_cluster *isolate_cluster(struct swap_info *si,
					    struct list_node *head,
					    uint32_t *counter, bool *busy,
					    bool skip_others)
{
	struct list_node *node;

	for (node = head->next; node != head; node = node->next) {
		struct swap_cluster *ci = cluster_of_node(node);

		if (!trylock_cluster(ci)) {
			*busy = true;
			continue;
		}
		if (skip_others && ci->cursor_tag &&
		    ci->cursor_tag != &swap_thread_tag) {
			unlock_cluster(ci);
			continue;
		}
		list_del(&ci->list);
		(*counter)--;
		ci->flags = CLUSTER_NONE;
		return ci;
	}
	return NULL;
}

/*
 * relocate_isolated_locked - put the isolated, locked @ci back on its list
 * and unlock it.  Context: si->lock and ci->lock held (ci was trylocked
 * under si->lock); releases ci->lock.
 */
static void relocate_isolated_locked(struct swap_info *si,
				     struct swap_cluster *ci)
{
	uint8_t want = cluster_wanted_list(ci);
	uint32_t *counter;

	if (want == CLUSTER_FREE) {
		ci->order = 0;
		ci->frag = false;
	}
	list_add_tail(&ci->list,
		      cluster_list_head(si, want, ci->order, &counter));
	(*counter)++;
	ci->flags = want;
	unlock_cluster(ci);
}

/* ---- slot allocation inside one cluster ---- */

/* bits at the positions that are multiples of 1 << order, order < 6 */
static const uint64_t align_mask[6] = {
	~UINT64_C(0),
	UINT64_C(0x5555555555555555),
	UINT64_C(0x1111111111111111),
	UINT64_C(0x0101010101010101),
	UINT64_C(0x0001000100010001),
	UINT64_C(0x0000000100000001),
};

/*
 * cluster_find_locked - the first index of 1 << @order free, usable slots
 * aligned to their size in @ci, or -1.  The free bitmap makes this a few
 * word operations: for order < 6 the run must sit in one word, and
 * y &= y >> s for s = 1, 2, .. leaves bit p set iff bits p .. p + n - 1
 * are; for order >= 6 whole aligned words must be all ones.
 * Context: ci->lock held.
 */
static int cluster_find_locked(struct swap_cluster *ci, unsigned order)
{
	unsigned n = 1u << order, w, s, k;

	if ((unsigned)(ci->nusable - ci->count) < n)
		return -1;
	if (order < 6) {
		for (w = 0; w < SWAP_FREEMAP_WORDS; w++) {
			uint64_t y = ci->freemap[w];

			if (!y)
				continue;
			for (s = 1; s < n; s <<= 1)
				y &= y >> s;
			y &= align_mask[order];
			if (y)
				return (int)(w * 64 + __builtin_ctzll(y));
		}
		return -1;
	}
	for (w = 0; w < SWAP_FREEMAP_WORDS; w += n / 64) {
		for (k = 0; k < n / 64; k++)
			if (ci->freemap[w + k] != ~UINT64_C(0))
				break;
		if (k == n / 64)
			return (int)(w * 64);
	}
	return -1;
}

/*
 * cluster_alloc_locked - allocate 1 << @order slots in @ci, each pinned with
 * count 0.  Return: the index of the first in the cluster, or -1.
 * Context: ci->lock held.
 */
static int cluster_alloc_locked(struct swap_cluster *ci, unsigned order)
{
	int i = cluster_find_locked(ci, order);
	unsigned j, n = 1u << order;

	assert_cluster_locked(ci, __func__);
	if (i < 0)
		return -1;
	for (j = (unsigned)i; j < (unsigned)i + n; j++) {
		ci->freemap[j / 64] &= ~(UINT64_C(1) << (j % 64));
		atomic_store_explicit(&ci->map[j], SWAP_HAS_CACHE,
				      memory_order_relaxed);
	}
	ci->count += n;
	return i;
}

/*
 * swap_slot_free_locked - the slot's count and pin are both gone: clear its
 * table word (a shadow means nothing for a free slot), give it back to the
 * cluster and tell the device to discard it.  Discarding under ci->lock
 * means the slot cannot be allocated, and stored to, before its old data is
 * gone.  The caller relocates the cluster afterwards.
 * Context: ci->lock held; calls the device's discard (must not sleep long).
 */
static void swap_slot_free_locked(struct swap_info *si, struct swap_cluster *ci,
				  uint64_t offset)
{
	unsigned i = offset % SWAP_CLUSTER_SLOTS;

	assert_cluster_locked(ci, __func__);
	atomic_store_explicit(&si->table[offset], 0, memory_order_release);
	atomic_store_explicit(&ci->map[i], 0, memory_order_relaxed);
	ci->freemap[i / 64] |= UINT64_C(1) << (i % 64);
	ci->count--;
	ci->nr_freed++;
	discard_slot(si->dev, (uint32_t)offset);
}

/*
 * swap_alloc - see swap.h.  The allocator, after the kernel's 6.14+ design:
 *
 *  1. Fast path: the calling thread's cursor for (device, order) names the
 *     cluster it allocated from last.  Lock it, take the first aligned free
 *     run.  No device lock unless the cluster changes list (becomes full).
 *  2. Slow path: under si->lock take a cluster off nonfull[order] that is
 *     no other thread's current cluster, else the free list (order 0 then
 *     tries the frag list), else any cluster of nonfull[order] (order 0 also
 *     the other orders' nonfull lists), with a trylock, so it is ours and
 *     locked.  Allocate,
 *     put it back on the list its counters call for, point the cursor at it.
 *     A partly used cluster that cannot satisfy its own order goes to the
 *     frag list, where only order-0 allocations look; a free one (it can
 *     fail only because of bad slots) goes to the tail of the free list.
 *     After more failures than there are clusters, the loop gives up.
 *  3. Nothing: -ENOSPC.  For order 0 that means every usable slot is in
 *     use (or, under concurrency, that the clusters with room were being
 *     allocated from by other threads for a long time: we retry up to
 *     1000 times first).  For order > 0 it means no free cluster and no
 *     cluster serving that order has an aligned run: the caller falls back
 *     to order 0, as the kernel does.
 *
 * Example: two threads on a fresh device.  A's first order-0 call misses
 * its cursor, isolates cluster 0 from the free list, takes slot 1 (slot 0
 * is the reserved header), relocates 0 to nonfull[0], cursor = 0.  B does
 * the same and also gets cluster 0 (first on nonfull[0]): its slot 2.  Both
 * then allocate from cluster 0 under its lock until it is full, when the
 * one that fills it moves it to the full list and the next call of each
 * isolates cluster 1 from the free list.
 */
int swap_alloc(struct swap_info *si, unsigned order, swp_entry_t *entry)
{
	struct swap_cursor *cur;
	struct swap_cluster *ci;
	unsigned attempt, fails, j;
	int i;

	if (order > SWAP_MAX_ORDER) {
		fprintf(stderr, "swap_alloc: order %u above %u\n", order,
			SWAP_MAX_ORDER);
		return -EINVAL;
	}
	cur = &swap_cursor[si->type][order];
	if (cur->gen == si->gen && cur->cluster < si->nclusters) {
		ci = &si->clusters[cur->cluster];
		lock_cluster(ci);
		if (ci->count == 0) {
			ci->order = (uint8_t)order;
			ci->frag = false;
		} else if (ci->order != order) {
			ci->frag = true; /* now mixes orders */
		}
		i = cluster_alloc_locked(ci, order);
		if (i >= 0) {
			ci->nr_alloc_fast++;
			relocate_cluster(si, ci);
			unlock_cluster(ci);
			*entry = swp_entry(si->type,
					   (uint64_t)cur->cluster *
							   SWAP_CLUSTER_SLOTS +
						   (unsigned)i);
			return 0;
		}
		unlock_cluster(ci);
	}

	for (attempt = 0, fails = 0;; attempt++) {
		bool busy = false;

		ci = NULL;
		pthread_mutex_lock(&si->lock);
		ci = isolate_cluster(si, &si->nonfull[order], &si->nr_nonfull,
				     &busy, true);
		if (!ci)
			ci = isolate_cluster(si, &si->free_list, &si->nr_free,
					     &busy, false);
		if (!ci && order == 0)
			ci = isolate_cluster(si, &si->frag_list, &si->nr_frag,
					     &busy, false);
		if (!ci)
			ci = isolate_cluster(si, &si->nonfull[order],
					     &si->nr_nonfull, &busy, false);
		for (j = 1; !ci && order == 0 && j <= SWAP_MAX_ORDER; j++)
			ci = isolate_cluster(si, &si->nonfull[j],
					     &si->nr_nonfull, &busy, false);
		if (ci && fails > si->nclusters) {
			/* tried them all: put it back untouched */
			relocate_isolated_locked(si, ci);
			ci = NULL;
			busy = false;
		}
		if (!ci && !(busy && attempt < 1000))
			si->nr_alloc_fail++;
		else if (ci)
			si->nr_alloc_slow++;
		pthread_mutex_unlock(&si->lock);
		if (!ci) {
			if (busy && attempt < 1000) {
				sched_yield();
				continue;
			}
			return -ENOSPC;
		}
		/* ci is locked and on no list (CLUSTER_NONE) */
		if (ci->count == 0) {
			ci->order = (uint8_t)order;
			ci->frag = false;
		} else if (ci->order != order) {
			ci->frag = true;
		}
		i = cluster_alloc_locked(ci, order);
		if (i < 0) {
			fails++;
			ci->frag = true; /* forgotten if the cluster is free */
		}
		relocate_cluster(si, ci);
		if (i >= 0) {
			uint32_t idx = (uint32_t)(ci - si->clusters);

			cur->gen = si->gen;
			cur->cluster = idx;
			if (ci->flags != CLUSTER_FULL)
				ci->cursor_tag = &swap_thread_tag;
			unlock_cluster(ci);
			*entry = swp_entry(si->type,
					   (uint64_t)idx * SWAP_CLUSTER_SLOTS +
						   (unsigned)i);
			return 0;
		}
		unlock_cluster(ci);
	}
}

/* ---- devices ---- */

static void swap_info_free(struct swap_info *si)
{
	uint32_t c;

	if (si->clusters) {
		for (c = 0; c < si->nclusters; c++) {
			pthread_mutex_destroy(&si->clusters[c].lock);
			priv_free((void *)atomic_load(&si->clusters[c].ext));
		}
	}
	pthread_mutex_destroy(&si->lock);
	priv_free(si->clusters);
	priv_free((void *)si->table);
	priv_free(si);
}

/*
 * swapon - see swap.h.  Every cluster starts on the free list (or the full
 * list if it has no usable slot); slot 0 and the slots past @nslots in the
 * last cluster are marked bad.
 * Context: any thread; takes swap_lock; may block in malloc.
 */
int swapon(struct store_dev *dev, uint32_t nslots, struct swap_info **out)
{
	struct swap_info *si;
	uint32_t c, i;
	unsigned type;

	if (!dev) {
		fprintf(stderr, "swapon: no device\n");
		return -EINVAL;
	}
	if (nslots < 2 || nslots > dev->nslots) {
		fprintf(stderr,
			"swapon: nslots %" PRIu32 " not in 2..%" PRIu32
			" (the device's size)\n",
			nslots, dev->nslots);
		return -EINVAL;
	}
	si = priv_calloc(1, sizeof(*si));
	if (!si)
		return -ENOMEM;
	pthread_mutex_init(&si->lock, NULL);
	si->dev = dev;
	si->max = nslots;
	si->nclusters = (nslots + SWAP_CLUSTER_SLOTS - 1) / SWAP_CLUSTER_SLOTS;
	si->clusters = priv_aligned_alloc(64, (size_t)si->nclusters *
						      sizeof(*si->clusters));
	/* calloc: large tables come from mmap, untouched pages cost nothing */
	si->table = priv_calloc((size_t)si->nclusters * SWAP_CLUSTER_SLOTS,
				sizeof(*si->table));
	if (!si->clusters || !si->table) {
		si->nclusters = 0;
		swap_info_free(si);
		return -ENOMEM;
	}
	memset(si->clusters, 0, (size_t)si->nclusters * sizeof(*si->clusters));
	list_init(&si->free_list);
	list_init(&si->frag_list);
	list_init(&si->full_list);
	for (i = 0; i <= SWAP_MAX_ORDER; i++)
		list_init(&si->nonfull[i]);
	for (c = 0; c < si->nclusters; c++) {
		struct swap_cluster *ci = &si->clusters[c];

		pthread_mutex_init(&ci->lock, NULL);
		list_init(&ci->list);
		for (i = 0; i < SWAP_CLUSTER_SLOTS; i++) {
			uint64_t off = (uint64_t)c * SWAP_CLUSTER_SLOTS + i;

			if (off == 0 || off >= nslots) {
				atomic_init(&ci->map[i], SWAP_MAP_BAD);
				continue;
			}
			ci->freemap[i / 64] |= UINT64_C(1) << (i % 64);
			ci->nusable++;
		}
		if (ci->nusable) {
			ci->flags = CLUSTER_FREE;
			list_add_tail(&ci->list, &si->free_list);
			si->nr_free++;
		} else {
			ci->flags = CLUSTER_FULL;
			list_add_tail(&ci->list, &si->full_list);
			si->nr_full++;
		}
	}
	si->nbad = 1;

	pthread_mutex_lock(&swap_lock);
	for (type = 0; type < MAX_SWAPFILES; type++)
		if (!atomic_load_explicit(&swap_info[type],
					  memory_order_relaxed))
			break;
	if (type == MAX_SWAPFILES) {
		pthread_mutex_unlock(&swap_lock);
		fprintf(stderr, "swapon: all %d device slots in use\n",
			MAX_SWAPFILES);
		swap_info_free(si);
		return -EBUSY;
	}
	si->type = type;
	si->gen = ++swap_gen;
	atomic_store_explicit(&swap_info[type], si, memory_order_release);
	pthread_mutex_unlock(&swap_lock);
	*out = si;
	return 0;
}

/*
 * swapoff - see swap.h.  Refuses with -EBUSY while any slot is in use
 * (count or pin); it never drains, because only the pager knows which ptes
 * hold the entries.  Shadows live only on slots in use, so a device with
 * no slot in use has none left.
 * Context: takes swap_lock, then each ci->lock in turn.  No other thread may
 * use @si or its entries during or after the call (it frees @si).
 */
int swapoff(struct swap_info *si)
{
	uint64_t inuse = 0;
	uint32_t c;

	if (!si)
		return -EINVAL;
	pthread_mutex_lock(&swap_lock);
	for (c = 0; c < si->nclusters; c++) {
		struct swap_cluster *ci = &si->clusters[c];

		lock_cluster(ci);
		inuse += ci->count;
		unlock_cluster(ci);
	}
	if (inuse) {
		pthread_mutex_unlock(&swap_lock);
		fprintf(stderr,
			"swapoff: type %u has %" PRIu64 " slots in use\n",
			si->type, inuse);
		return -EBUSY;
	}
	atomic_store_explicit(&swap_info[si->type], NULL, memory_order_release);
	pthread_mutex_unlock(&swap_lock);
	swap_info_free(si);
	return 0;
}

/* swap_info_get - see swap.h.  Context: lockless, any thread. */
struct swap_info *swap_info_get(swp_entry_t entry)
{
	unsigned type = swp_type(entry);

	if (type >= MAX_SWAPFILES)
		return NULL;
	return atomic_load_explicit(&swap_info[type], memory_order_acquire);
}

/* swap_store - the device behind @si.  Context: any; setup-only field. */
struct store_dev *swap_store(struct swap_info *si)
{
	return si->dev;
}

/* swap_type_of - @si's index in the device table.  Context: any. */
unsigned swap_type_of(struct swap_info *si)
{
	return si->type;
}

/*
 * lock_entry - find and lock @entry's cluster.  Return: 0 with *sip, *cip
 * (locked) and *offp; -EINVAL for an entry of no device or past its end.
 * Context: takes ci->lock.
 */
static int lock_entry(swp_entry_t entry, struct swap_info **sip,
		      struct swap_cluster **cip, uint64_t *offp)
{
	struct swap_info *si = swap_info_get(entry);
	uint64_t off = swp_offset(entry);

	if (!si || off >= si->max)
		return -EINVAL;
	*sip = si;
	*offp = off;
	*cip = swap_cluster_of(si, off);
	lock_cluster(*cip);
	return 0;
}

/*
 * swap_mark_bad - see swap.h.  Return: 0 (also when already bad); -EBUSY
 * when the slot is in use; -EINVAL for an offset past the end.
 * Context: takes ci->lock, then si->lock.
 */
int swap_mark_bad(struct swap_info *si, uint64_t offset)
{
	struct swap_cluster *ci;
	unsigned i = offset % SWAP_CLUSTER_SLOTS;
	uint8_t m;

	if (offset >= si->max) {
		fprintf(stderr,
			"swap_mark_bad: offset %" PRIu64
			" past the end (%" PRIu64 ")\n",
			offset, si->max);
		return -EINVAL;
	}
	ci = swap_cluster_of(si, offset);
	lock_cluster(ci);
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	if (m == SWAP_MAP_BAD) {
		unlock_cluster(ci);
		return 0;
	}
	if (m) {
		unlock_cluster(ci);
		return -EBUSY;
	}
	atomic_store_explicit(&ci->map[i], SWAP_MAP_BAD, memory_order_relaxed);
	ci->freemap[i / 64] &= ~(UINT64_C(1) << (i % 64));
	ci->nusable--;
	pthread_mutex_lock(&si->lock);
	si->nbad++;
	pthread_mutex_unlock(&si->lock);
	relocate_cluster(si, ci);
	unlock_cluster(ci);
	return 0;
}

/*
 * swap_get_usage - see swap.h.  A snapshot: each cluster is read under its
 * own lock, so under concurrency the sums mix moments.
 * Context: takes each ci->lock, then si->lock.
 */
void swap_get_usage(struct swap_info *si, struct swap_usage *usage)
{
	uint32_t c;

	memset(usage, 0, sizeof(*usage));
	for (c = 0; c < si->nclusters; c++) {
		struct swap_cluster *ci = &si->clusters[c];

		lock_cluster(ci);
		usage->nslots += ci->nusable;
		usage->inuse += ci->count;
		usage->cached += ci->ncached;
		usage->continued += ci->ncont;
		usage->alloc_fast += ci->nr_alloc_fast;
		usage->freed += ci->nr_freed;
		unlock_cluster(ci);
	}
	pthread_mutex_lock(&si->lock);
	usage->bad = si->nbad;
	usage->free_clusters = si->nr_free;
	usage->partial_clusters = si->nr_nonfull + si->nr_frag;
	usage->frag_clusters = si->nr_frag;
	usage->full_clusters = si->nr_full;
	usage->alloc_slow = si->nr_alloc_slow;
	usage->alloc_fail = si->nr_alloc_fail;
	pthread_mutex_unlock(&si->lock);
}

/* ---- the swap map operations ---- */

/*
 * swap_duplicate - see swap.h.  Also returns -EOVERFLOW at 2^32 - 1
 * references.  Context: takes ci->lock; never sleeps.
 */
int swap_duplicate(swp_entry_t entry)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;
	unsigned i;
	unsigned long count;
	uint8_t m;
	int ret;

	if (lock_entry(entry, &si, &ci, &off))
		return -EINVAL;
	i = off % SWAP_CLUSTER_SLOTS;
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	if (m == SWAP_MAP_BAD) {
		ret = -EINVAL;
	} else if (!m) {
		ret = -ENOENT;
	} else {
		count = map_count(ci, i);
		if (count >= SWAP_CONT_MAX)
			ret = -EOVERFLOW;
		else
			ret = set_count_locked(ci, i, count + 1,
					       m & SWAP_HAS_CACHE);
	}
	unlock_cluster(ci);
	return ret;
}

/* Cheap always-on check (CONVENTIONS.md): say what broke, go on. */
static void bad_entry(const char *fn, swp_entry_t entry, const char *what)
{
	fprintf(stderr,
		"%s: entry %#" PRIx64 " (type %u offset %" PRIu64 "): %s\n", fn,
		entry.val, swp_type(entry), swp_offset(entry), what);
}

/*
 * swap_free - see swap.h.  Dropping a reference that does not exist (free
 * or bad slot, count 0) is reported on stderr and ignored, as the kernel's
 * "swap_free: Unused swap offset entry".
 * Context: takes ci->lock (and si->lock if the cluster changes list); calls
 * the device's discard when the slot is freed.
 */
void swap_free(swp_entry_t entry)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;
	unsigned i;
	unsigned long count;
	uint8_t m;

	if (lock_entry(entry, &si, &ci, &off)) {
		bad_entry(__func__, entry, "no such slot");
		return;
	}
	i = off % SWAP_CLUSTER_SLOTS;
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	count = map_count(ci, i);
	if (m == SWAP_MAP_BAD || count == 0) {
		unlock_cluster(ci);
		bad_entry(__func__, entry, "no reference to drop");
		return;
	}
	if (count == 1 && !(m & SWAP_HAS_CACHE))
		swap_slot_free_locked(si, ci, off);
	else
		set_count_locked(ci, i, count - 1, m & SWAP_HAS_CACHE);
	relocate_cluster(si, ci);
	unlock_cluster(ci);
}

/*
 * swapcache_prepare - see swap.h.  Also -EINVAL for a bad slot or an entry
 * of no device.  Context: takes ci->lock; never sleeps.
 */
int swapcache_prepare(swp_entry_t entry)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;
	unsigned i;
	uint8_t m;
	int ret = 0;

	if (lock_entry(entry, &si, &ci, &off))
		return -EINVAL;
	i = off % SWAP_CLUSTER_SLOTS;
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	if (m == SWAP_MAP_BAD)
		ret = -EINVAL;
	else if (m & SWAP_HAS_CACHE)
		ret = -EEXIST;
	else if (!m)
		ret = -ENOENT;
	else
		atomic_store_explicit(&ci->map[i], m | SWAP_HAS_CACHE,
				      memory_order_relaxed);
	unlock_cluster(ci);
	return ret;
}

/*
 * swapcache_clear - see swap.h.  Clearing a pin that is not set, or that a
 * cached folio holds (swap_cache_del_folio drops that one), is reported
 * on stderr and ignored.
 * Context: takes ci->lock (si->lock if the cluster changes list); calls
 * the device's discard when the slot is freed.
 */
void swapcache_clear(swp_entry_t entry)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;
	unsigned i;
	uint8_t m;

	if (lock_entry(entry, &si, &ci, &off)) {
		bad_entry(__func__, entry, "no such slot");
		return;
	}
	i = off % SWAP_CLUSTER_SLOTS;
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	if (!map_pinned(m)) {
		unlock_cluster(ci);
		bad_entry(__func__, entry, "not pinned");
		return;
	}
	if (swap_table_is_folio(atomic_load_explicit(&si->table[off],
						     memory_order_relaxed))) {
		unlock_cluster(ci);
		bad_entry(__func__, entry, "pin held by a cached folio");
		return;
	}
	if (m == SWAP_HAS_CACHE)
		swap_slot_free_locked(si, ci, off);
	else
		atomic_store_explicit(&ci->map[i], m & ~SWAP_HAS_CACHE,
				      memory_order_relaxed);
	relocate_cluster(si, ci);
	unlock_cluster(ci);
}

/* swap_count - see swap.h.  Context: lockless (a racy read). */
unsigned long swap_count(swp_entry_t entry)
{
	struct swap_info *si = swap_info_get(entry);
	uint64_t off = swp_offset(entry);

	if (!si || off >= si->max)
		return 0;
	return map_count(swap_cluster_of(si, off), off % SWAP_CLUSTER_SLOTS);
}

/* swap_pinned - see swap.h.  Context: lockless (a racy read). */
bool swap_pinned(swp_entry_t entry)
{
	struct swap_info *si = swap_info_get(entry);
	uint64_t off = swp_offset(entry);

	if (!si || off >= si->max)
		return false;
	return map_pinned(atomic_load_explicit(
		&swap_cluster_of(si, off)->map[off % SWAP_CLUSTER_SLOTS],
		memory_order_relaxed));
}

/* ---- the swap cache ---- */

/*
 * swap_cache_get_folio - see swap.h.
 *
 * Race: the lookup against a delete and reuse of the folio.
 *
 *   lookup (A)                     owner (B)
 *   v = table[E] (= F)
 *                                  lock ci; table[E] = 0; unlock
 *                                  folio_put(F): count 0, back to the pool
 *                                  F = folio_alloc(): count 1
 *                                  insert F at E2: table[E2] = F
 *   folio_try_get(F) succeeds
 *   table[E] != F: put, retry -> finds 0 (or the new folio) at E
 *
 * Type-stable folios make touching F safe; try_get refuses F while it is
 * free; the re-check catches a reused F.  Once A holds its reference, F
 * cannot be freed again, so if table[E] still names F after the get, F was
 * the cached folio for E at that moment; folio->swap is checked as well
 * (both are set before the table word is published, under ci->lock).  A
 * folio returned may be deleted from the cache right after: callers lock
 * it and re-check PG_swapcache and folio->swap.
 * Context: lockless; never sleeps; any thread.
 */
struct folio *swap_cache_get_folio(swp_entry_t entry)
{
	struct swap_info *si = swap_info_get(entry);
	uint64_t off = swp_offset(entry);
	_Atomic uintptr_t *slot;
	struct folio *folio;
	uintptr_t v;

	if (!si || off >= si->max)
		return NULL;
	slot = &si->table[off];
	for (;;) {
		v = atomic_load_explicit(slot, memory_order_acquire);
		if (!swap_table_is_folio(v))
			return NULL;
		folio = (struct folio *)v;
#ifdef USWAP_TEST_HOOKS
		if (swap_test_lookup_hook)
			swap_test_lookup_hook();
#endif
		if (!folio_try_get(folio))
			continue;
		if (atomic_load_explicit(slot, memory_order_acquire) != v ||
		    __atomic_load_n(&folio->swap.val, __ATOMIC_ACQUIRE) !=
			    entry.val) {
			folio_put(folio);
			continue;
		}
		return folio;
	}
}

/* swap_cache_get_shadow - see swap.h.  Context: lockless (racy read). */
void *swap_cache_get_shadow(swp_entry_t entry)
{
	struct swap_info *si = swap_info_get(entry);
	uint64_t off = swp_offset(entry);
	uintptr_t v;

	if (!si || off >= si->max)
		return NULL;
	v = atomic_load_explicit(&si->table[off], memory_order_acquire);
	return swap_table_is_shadow(v) ? (void *)v : NULL;
}

static void check_folio_locked(struct folio *folio, const char *fn)
{
	if (!folio_test(folio, PG_locked)) {
		fprintf(stderr, "%s: folio %p not locked\n", fn, (void *)folio);
		abort();
	}
}

/*
 * cache_insert_locked - publish @folio at @off: the cache's reference,
 * folio->swap and PG_swapcache first, then the table word (release), so
 * that a lookup that sees the word sees them.
 * Context: ci->lock held, @folio locked, the slot pinned with no folio.
 */
static void cache_insert_locked(struct swap_info *si, struct swap_cluster *ci,
				uint64_t off, swp_entry_t entry,
				struct folio *folio)
{
	assert_cluster_locked(ci, __func__);
	folio_get(folio);
	__atomic_store_n(&folio->swap.val, entry.val, __ATOMIC_RELEASE);
	folio_set_flag(folio, PG_swapcache);
	atomic_store_explicit(&si->table[off], (uintptr_t)folio,
			      memory_order_release);
	ci->ncached++;
}

/*
 * swap_cache_add_folio - see swap.h.  Also -EINVAL for a bad slot, an
 * entry of no device, or a slot in use that the caller did not pin (a
 * folio in the cache must hold the pin).
 * Context: takes ci->lock; @folio locked by the caller; never sleeps.
 */
int swap_cache_add_folio(swp_entry_t entry, struct folio *folio, void **shadowp)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;
	uintptr_t old;
	uint8_t m;
	int ret = 0;

	if (shadowp)
		*shadowp = NULL;
	check_folio_locked(folio, __func__);
	if (lock_entry(entry, &si, &ci, &off))
		return -EINVAL;
	m = atomic_load_explicit(&ci->map[off % SWAP_CLUSTER_SLOTS],
				 memory_order_relaxed);
	old = atomic_load_explicit(&si->table[off], memory_order_relaxed);
	if (m == SWAP_MAP_BAD) {
		ret = -EINVAL;
	} else if (!m) {
		ret = -ENOENT;
	} else if (swap_table_is_folio(old)) {
		ret = -EEXIST;
	} else if (!(m & SWAP_HAS_CACHE)) {
		ret = -EINVAL;
	} else {
		cache_insert_locked(si, ci, off, entry, folio);
		if (shadowp && swap_table_is_shadow(old))
			*shadowp = (void *)old;
	}
	unlock_cluster(ci);
	if (ret == -EINVAL && m != SWAP_MAP_BAD)
		bad_entry(__func__, entry, "slot not pinned by the caller");
	return ret;
}

/*
 * swap_cache_prepare_and_add - see swap.h.  Also -EINVAL for a bad slot or
 * an entry of no device.  A shadow in the slot is dropped (the pager reads
 * it first with swap_cache_get_shadow if it wants it).
 *
 * Race: two faults on the same entry E (count 1), the unified protocol.
 *
 *   fault A                         fault B
 *   lookup E: miss                  lookup E: miss
 *   lock ci; count 1, no folio:
 *   pin, insert locked FA; unlock
 *                                   lock ci; FA cached: get FA; unlock
 *                                   -> -EEXIST, *other = FA
 *   read E into FA; unlock FA       folio_lock(FA) sleeps ... wakes
 *   map FA; swap_free(E): count 0   FA->swap != E or !PG_swapcache, or
 *   folio_free_swap(FA): E freed    its pte no longer holds E: drop out
 *
 * E cannot be freed while FA is cached (the pin), so B can never see E
 * reused with new data under the same value: the seed's ABA is gone.
 * Context: takes ci->lock; @folio locked by the caller; never sleeps.
 */
int swap_cache_prepare_and_add(swp_entry_t entry, struct folio *folio,
			       struct folio **other)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;
	uintptr_t old;
	unsigned i;
	uint8_t m;
	int ret = 0;

	*other = NULL;
	check_folio_locked(folio, __func__);
	if (lock_entry(entry, &si, &ci, &off))
		return -EINVAL;
	i = off % SWAP_CLUSTER_SLOTS;
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	old = atomic_load_explicit(&si->table[off], memory_order_relaxed);
	if (m == SWAP_MAP_BAD) {
		ret = -EINVAL;
	} else if (map_count(ci, i) == 0) {
		ret = -ENOENT;
	} else if (swap_table_is_folio(old)) {
		folio_get((struct folio *)old); /* the cache holds one */
		*other = (struct folio *)old;
		ret = -EEXIST;
	} else if (m & SWAP_HAS_CACHE) {
		ret = -EEXIST;
	} else {
		atomic_store_explicit(&ci->map[i], m | SWAP_HAS_CACHE,
				      memory_order_relaxed);
		cache_insert_locked(si, ci, off, entry, folio);
	}
	unlock_cluster(ci);
	return ret;
}

/*
 * cache_delete_locked - take @folio out of the table at @off, leave @shadow,
 * drop the pin and free the slot if its count is 0.  The caller relocates,
 * unlocks and drops the cache's reference.
 * Context: ci->lock held, @folio locked and cached at @off.
 */
static void cache_delete_locked(struct swap_info *si, struct swap_cluster *ci,
				uint64_t off, struct folio *folio, void *shadow)
{
	unsigned i = off % SWAP_CLUSTER_SLOTS;
	uint8_t m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);

	assert_cluster_locked(ci, __func__);
	atomic_store_explicit(&si->table[off], (uintptr_t)shadow,
			      memory_order_release);
	ci->ncached--;
	folio_clear_flag(folio, PG_swapcache);
	__atomic_store_n(&folio->swap.val, 0, __ATOMIC_RELEASE);
	if (m == SWAP_HAS_CACHE)
		swap_slot_free_locked(si, ci, off);
	else
		atomic_store_explicit(&ci->map[i], m & ~SWAP_HAS_CACHE,
				      memory_order_relaxed);
}

/*
 * lock_folio_entry - lock the cluster of the locked @folio's cache entry and
 * check that the table names it.  Return: 0 with *sip, *cip (locked),
 * *offp; -ENOENT if the folio is not in the swap cache.
 */
static int lock_folio_entry(struct folio *folio, struct swap_info **sip,
			    struct swap_cluster **cip, uint64_t *offp,
			    const char *fn)
{
	swp_entry_t entry;

	check_folio_locked(folio, fn);
	if (!folio_test(folio, PG_swapcache))
		return -ENOENT;
	entry.val = __atomic_load_n(&folio->swap.val, __ATOMIC_RELAXED);
	if (lock_entry(entry, sip, cip, offp)) {
		bad_entry(fn, entry, "cached folio names no slot");
		abort();
	}
	if (atomic_load_explicit(&(*sip)->table[*offp], memory_order_relaxed) !=
	    (uintptr_t)folio) {
		unlock_cluster(*cip);
		bad_entry(fn, entry, "folio not in the table");
		abort();
	}
	return 0;
}

/*
 * swap_cache_del_folio - see swap.h.  @shadow must be NULL or odd
 * (make_shadow); an even value is reported and dropped.
 * Context: takes ci->lock (si->lock if the cluster changes list); @folio
 * locked by the caller; calls the device's discard when the slot is freed.
 */
void swap_cache_del_folio(struct folio *folio, void *shadow)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;

	if (shadow && !swap_table_is_shadow((uintptr_t)shadow)) {
		fprintf(stderr, "swap_cache_del_folio: shadow %p not odd\n",
			shadow);
		shadow = NULL;
	}
	if (lock_folio_entry(folio, &si, &ci, &off, __func__)) {
		fprintf(stderr, "swap_cache_del_folio: folio %p not cached\n",
			(void *)folio);
		return;
	}
	cache_delete_locked(si, ci, off, folio, shadow);
	relocate_cluster(si, ci);
	unlock_cluster(ci);
	folio_put(folio);
}

/*
 * folio_free_swap - see swap.h.
 * Context: takes ci->lock; @folio locked by the caller; may call discard.
 */
bool folio_free_swap(struct folio *folio)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	uint64_t off;

	if (lock_folio_entry(folio, &si, &ci, &off, __func__))
		return false;
	if (map_count(ci, off % SWAP_CLUSTER_SLOTS)) {
		unlock_cluster(ci);
		return false;
	}
	cache_delete_locked(si, ci, off, folio, NULL);
	relocate_cluster(si, ci);
	unlock_cluster(ci);
	folio_put(folio);
	return true;
}

/*
 * free_swap_and_cache - see swap.h.  When the count reaches 0 with a folio
 * cached, the folio is taken with a reference under ci->lock, the lock is
 * dropped, and the folio is trylocked (the folio lock is outside the
 * cluster lock: we must not wait for it here); folio_free_swap re-checks
 * everything under the cluster lock again.
 * Context: takes ci->lock, trylocks the folio; never sleeps; may discard.
 */
bool free_swap_and_cache(swp_entry_t entry)
{
	struct swap_info *si;
	struct swap_cluster *ci;
	struct folio *folio = NULL;
	uint64_t off;
	uintptr_t v;
	unsigned i;
	unsigned long count;
	uint8_t m;
	bool freed = false;

	if (lock_entry(entry, &si, &ci, &off)) {
		bad_entry(__func__, entry, "no such slot");
		return false;
	}
	i = off % SWAP_CLUSTER_SLOTS;
	m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	count = map_count(ci, i);
	if (m == SWAP_MAP_BAD || count == 0) {
		unlock_cluster(ci);
		bad_entry(__func__, entry, "no reference to drop");
		return false;
	}
	if (count == 1 && !(m & SWAP_HAS_CACHE)) {
		swap_slot_free_locked(si, ci, off);
		freed = true;
	} else {
		set_count_locked(ci, i, count - 1, m & SWAP_HAS_CACHE);
		v = atomic_load_explicit(&si->table[off], memory_order_relaxed);
		if (count == 1 && swap_table_is_folio(v)) {
			folio = (struct folio *)v;
			folio_get(folio);
		}
	}
	relocate_cluster(si, ci);
	unlock_cluster(ci);
	if (!folio)
		return freed;
	if (folio_trylock(folio)) {
		if (folio_test(folio, PG_swapcache) &&
		    __atomic_load_n(&folio->swap.val, __ATOMIC_RELAXED) ==
			    entry.val)
			freed = folio_free_swap(folio);
		folio_unlock(folio);
	}
	folio_put(folio);
	return freed;
}
