/*
 * Stress test (suite stress, also run under TSan): NTHREADS threads on a
 * small device (2 clusters, so slots are freed and reused all the time)
 * doing a fixed number of random operations each, checked against a
 * shadow model.
 *
 * The model: each thread owns the slots it allocated, so it knows exactly
 * what their count, pin, cached folio and shadow must be, and checks them
 * after every operation.  It stores a stamped page on the device at
 * allocation (the store fails if the slot's previous discard was missed)
 * and loads and checks the stamp before the last reference goes (wrong if
 * the slot was freed and reused behind its owner).  Meanwhile every thread
 * also looks up random slots it does not own: a folio the lookup returns
 * must, once locked, either have left the cache or be cached at exactly
 * that entry with that entry's stamp; and it does racy reads of counts,
 * pins and shadows.  A test hook yields inside the lookup now and then, to
 * widen the window between reading the table and taking the reference.
 *
 * At the end every thread releases what it owns; swap_validate must find
 * nothing, every slot must be free, the device must have seen exactly one
 * discard per freed slot, and every folio must be back in the pool.
 *
 * usage: stress_swap [SEED [OPS_PER_THREAD]]   (the seed is printed)
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "swap/swap_internal.h"
#include "check.h"
#include "testdev.h"

#define NTHREADS 4
#define NSLOTS	 (2 * SWAP_CLUSTER_SLOTS)
#define MAXOWN	 160
#define NPAGES	 (NTHREADS * MAXOWN + 64)

struct own {
	swp_entry_t e;
	unsigned long count;
	bool pinned;
	struct folio *folio; /* cached, with our own reference */
	uint64_t shadow;     /* shadow_value in the table, 0 for none */
	uint64_t stamp;	     /* written on the device and into the folio */
};

struct worker {
	pthread_t tid;
	unsigned id;
	uint64_t rng;
	unsigned long ops;
	struct own own[MAXOWN];
	unsigned nown;
	uint64_t nstamp;
	uint64_t frees, allocs, lookups, hits, enospc;
	unsigned char page[PAGE_SIZE];
};

static struct swap_info *si;
static struct testdev *td;
static struct folio_pool *pool;
static _Atomic unsigned long failures;
static unsigned long ops_per_thread = 100000;

static uint64_t rnd(struct worker *w)
{
	uint64_t x = w->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return x * UINT64_C(2685821657736338717);
}

#define FAIL(w, fmt, ...)                                              \
	do {                                                           \
		if (atomic_fetch_add(&failures, 1) < 20)               \
			fprintf(stderr, "thread %u op %lu: " fmt "\n", \
				(w)->id, (w)->ops, __VA_ARGS__);       \
	} while (0)

#ifdef USWAP_TEST_HOOKS
static __thread uint64_t hook_rng = 88172645463325252ull;
static void lookup_hook(void)
{
	hook_rng ^= hook_rng << 13;
	hook_rng ^= hook_rng >> 7;
	hook_rng ^= hook_rng << 17;
	if ((hook_rng & 63) == 0)
		sched_yield();
}
#endif

static void stamp_page(void *page, swp_entry_t e, uint64_t stamp)
{
	uint64_t *p = page;

	memset(page, 0, 64);
	p[0] = e.val;
	p[1] = stamp;
}

static void check_entry(struct worker *w, struct own *o, const char *op)
{
	unsigned long c = swap_count(o->e);
	bool p = swap_pinned(o->e);
	struct folio *f;
	void *sh;

	if (c != o->count || p != o->pinned)
		FAIL(w,
		     "%s: entry %#" PRIx64 " count %lu pinned %d, model %lu %d",
		     op, o->e.val, c, p, o->count, o->pinned);
	f = swap_cache_get_folio(o->e);
	if (f != o->folio)
		FAIL(w, "%s: entry %#" PRIx64 " lookup %p, model %p", op,
		     o->e.val, (void *)f, (void *)o->folio);
	if (f)
		folio_put(f);
	if (!o->folio) {
		sh = swap_cache_get_shadow(o->e);
		if ((sh ? shadow_value(sh) : 0) != o->shadow)
			FAIL(w,
			     "%s: entry %#" PRIx64 " shadow %" PRIu64
			     ", model %" PRIu64,
			     op, o->e.val, sh ? shadow_value(sh) : 0,
			     o->shadow);
	}
}

/* The slot's last user is about to go: its device data must be ours. */
static void verify_device(struct worker *w, struct own *o)
{
	uint64_t *p = (uint64_t *)w->page;
	int r = load_page(&td->base, (uint32_t)swp_offset(o->e), w->page);

	if (r || p[0] != o->e.val || p[1] != o->stamp)
		FAIL(w,
		     "entry %#" PRIx64 ": device load %d stamp %#" PRIx64
		     "/%#" PRIx64 ", want %#" PRIx64 "/%#" PRIx64,
		     o->e.val, r, p[0], p[1], o->e.val, o->stamp);
}

static void forget(struct worker *w, unsigned k)
{
	w->frees++;
	w->own[k] = w->own[--w->nown];
}

static struct folio *new_folio(struct worker *w, struct own *o)
{
	struct folio *f = folio_alloc(pool);

	if (!f)
		return NULL;
	folio_lock(f);
	stamp_page(f->data, o->e, o->stamp);
	(void)w;
	return f;
}

static void op_alloc(struct worker *w)
{
	unsigned order = (rnd(w) % 10 == 0) ? 1 + rnd(w) % 2 : 0;
	unsigned n = 1u << order, j;
	swp_entry_t e;
	int r;

	if (w->nown + n > MAXOWN)
		return;
	r = swap_alloc(si, order, &e);
	if (r == -ENOSPC) {
		w->enospc++;
		return;
	}
	if (r) {
		FAIL(w, "swap_alloc(order %u) = %d", order, r);
		return;
	}
	if (swp_offset(e) % n)
		FAIL(w, "swap_alloc(order %u): offset %" PRIu64 " unaligned",
		     order, swp_offset(e));
	w->allocs++;
	for (j = 0; j < n; j++) {
		struct own *o = &w->own[w->nown++];

		memset(o, 0, sizeof(*o));
		o->e = swp_entry(swp_type(e), swp_offset(e) + j);
		o->pinned = true;
		o->stamp = ((uint64_t)w->id << 48) | ++w->nstamp;
		stamp_page(w->page, o->e, o->stamp);
		r = store_page(&td->base, (uint32_t)swp_offset(o->e), w->page);
		if (r)
			FAIL(w,
			     "store to new slot %" PRIu64 " = %d (not "
			     "discarded?)",
			     swp_offset(o->e), r);
		check_entry(w, o, "alloc");
		/* swap-out: insert the folio, then the pte's reference */
		if (rnd(w) % 2) {
			struct folio *f = new_folio(w, o);
			void *sh = (void *)1;

			if (f) {
				r = swap_cache_add_folio(o->e, f, &sh);
				if (r || sh)
					FAIL(w, "add to new slot: %d %p", r,
					     sh);
				else
					o->folio = f;
				folio_unlock(f);
				if (r)
					folio_put(f);
			}
			if (swap_duplicate(o->e) == 0)
				o->count++;
			check_entry(w, o, "swap-out");
		}
	}
}

static void op_dup(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	unsigned n = rnd(w) % 32 == 0 ? 70 : 1, j;

	for (j = 0; j < n; j++) {
		int r = swap_duplicate(o->e);

		if (r) {
			FAIL(w, "swap_duplicate(%#" PRIx64 ") = %d", o->e.val,
			     r);
			break;
		}
		o->count++;
	}
	check_entry(w, o, "dup");
}

static void op_put(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];

	if (!o->count)
		return;
	/* a quarter of the time, drop all but the last reference */
	while (o->count > 1 && rnd(w) % 4 == 0 && o->count--)
		swap_free(o->e);
	if (o->count == 1 && !o->pinned) {
		verify_device(w, o);
		swap_free(o->e);
		forget(w, k);
		return;
	}
	swap_free(o->e);
	o->count--;
	check_entry(w, o, "put");
}

static void op_pin(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	int r = swapcache_prepare(o->e), want;

	want = o->pinned ? -EEXIST : 0;
	if (r != want)
		FAIL(w, "swapcache_prepare(%#" PRIx64 ") = %d, want %d",
		     o->e.val, r, want);
	o->pinned = true;
	check_entry(w, o, "pin");
}

static void op_unpin(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];

	if (!o->pinned || o->folio)
		return;
	if (!o->count) {
		verify_device(w, o);
		swapcache_clear(o->e);
		forget(w, k);
		return;
	}
	swapcache_clear(o->e);
	o->pinned = false;
	check_entry(w, o, "unpin");
}

static void op_insert(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	struct folio *f;
	void *sh = NULL;
	int r;

	if (!o->pinned || o->folio)
		return;
	f = new_folio(w, o);
	if (!f)
		return;
	r = swap_cache_add_folio(o->e, f, &sh);
	if (r || (sh ? shadow_value(sh) : 0) != o->shadow)
		FAIL(w, "swap_cache_add_folio(%#" PRIx64 ") = %d shadow %p",
		     o->e.val, r, sh);
	folio_unlock(f);
	if (r) {
		folio_put(f);
		return;
	}
	o->folio = f;
	o->shadow = 0;
	check_entry(w, o, "insert");
}

static void op_delete(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	struct folio *f = o->folio;
	uint64_t sv = rnd(w) % 2 ? (rnd(w) >> 20) + 1 : 0;

	if (!f)
		return;
	if (!o->count)
		verify_device(w, o);
	folio_lock(f);
	swap_cache_del_folio(f, sv ? make_shadow(sv) : NULL);
	if (folio_test(f, PG_swapcache))
		FAIL(w, "deleted folio %p still PG_swapcache", (void *)f);
	folio_unlock(f);
	folio_put(f);
	o->folio = NULL;
	o->pinned = false;
	if (!o->count) {
		forget(w, k);
		return;
	}
	o->shadow = sv;
	check_entry(w, o, "delete");
}

static void op_prepare_and_add(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	struct folio *f = new_folio(w, o), *other = NULL;
	int r, want;

	if (!f)
		return;
	r = swap_cache_prepare_and_add(o->e, f, &other);
	if (!o->count)
		want = -ENOENT;
	else if (o->folio || o->pinned)
		want = -EEXIST;
	else
		want = 0;
	if (r != want || other != (want == -EEXIST ? o->folio : NULL))
		FAIL(w,
		     "prepare_and_add(%#" PRIx64 ") = %d other %p, "
		     "want %d %p",
		     o->e.val, r, (void *)other, want,
		     (void *)(want == -EEXIST ? o->folio : NULL));
	if (other)
		folio_put(other);
	folio_unlock(f);
	if (r) {
		folio_put(f);
		return;
	}
	o->folio = f;
	o->pinned = true;
	o->shadow = 0;
	check_entry(w, o, "prepare_and_add");
}

static void op_free_swap_and_cache(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	bool freed, last = o->count == 1;

	if (!o->count)
		return;
	if (last && (!o->pinned || o->folio))
		verify_device(w, o);
	freed = free_swap_and_cache(o->e);
	o->count--;
	if (freed) {
		if (!last || (o->pinned && !o->folio))
			FAIL(w, "free_swap_and_cache(%#" PRIx64 ") freed it",
			     o->e.val);
		if (o->folio) {
			if (folio_test(o->folio, PG_swapcache))
				FAIL(w, "freed, folio %p still cached",
				     (void *)o->folio);
			folio_put(o->folio);
		}
		forget(w, k);
		return;
	}
	/* not freed: legal only if a folio was left (its lock was busy) */
	if (last && !o->pinned)
		FAIL(w, "free_swap_and_cache(%#" PRIx64 ") kept it", o->e.val);
	check_entry(w, o, "free_swap_and_cache");
}

static void op_folio_free_swap(struct worker *w, unsigned k)
{
	struct own *o = &w->own[k];
	struct folio *f = o->folio;
	bool r;

	if (!f)
		return;
	if (!o->count)
		verify_device(w, o);
	folio_lock(f);
	r = folio_free_swap(f);
	folio_unlock(f);
	if (r != (o->count == 0))
		FAIL(w, "folio_free_swap(%#" PRIx64 ") = %d with count %lu",
		     o->e.val, r, o->count);
	if (!r) {
		check_entry(w, o, "folio_free_swap");
		return;
	}
	folio_put(f);
	forget(w, k);
}

/* Someone else's slot: look, lock, check, never corrupt. */
static void op_foreign(struct worker *w)
{
	swp_entry_t e = swp_entry(swap_type_of(si), 1 + rnd(w) % (NSLOTS - 1));
	struct folio *f;

	w->lookups++;
	(void)swap_count(e);
	(void)swap_pinned(e);
	(void)swap_cache_get_shadow(e);
	f = swap_cache_get_folio(e);
	if (!f)
		return;
	w->hits++;
	if (rnd(w) % 4 == 0)
		folio_wait_locked(f);
	folio_lock(f);
	if (folio_test(f, PG_swapcache)) {
		uint64_t *p = f->data;

		if (f->swap.val != e.val)
			FAIL(w,
			     "lookup(%#" PRIx64 ") gave folio %p cached at "
			     "%#" PRIx64,
			     e.val, (void *)f, f->swap.val);
		else if (p[0] != e.val)
			FAIL(w,
			     "lookup(%#" PRIx64 "): folio data for %#" PRIx64,
			     e.val, p[0]);
	}
	folio_unlock(f);
	folio_put(f);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (w->ops = 0; w->ops < ops_per_thread; w->ops++) {
		unsigned r = rnd(w) % 100, k;

		if (r < 30 || !w->nown) {
			if (r < 15 || !w->nown)
				op_alloc(w);
			else
				op_foreign(w);
			continue;
		}
		k = rnd(w) % w->nown;
		if (r < 40)
			op_dup(w, k);
		else if (r < 55)
			op_put(w, k);
		else if (r < 60)
			op_pin(w, k);
		else if (r < 65)
			op_unpin(w, k);
		else if (r < 72)
			op_insert(w, k);
		else if (r < 78)
			op_delete(w, k);
		else if (r < 84)
			op_prepare_and_add(w, k);
		else if (r < 92)
			op_free_swap_and_cache(w, k);
		else
			op_folio_free_swap(w, k);
	}
	/* release everything */
	while (w->nown) {
		struct own *o = &w->own[0];

		while (o->count > 1) {
			swap_free(o->e);
			o->count--;
		}
		if (o->folio) {
			if (o->count)
				op_put(w, 0);
			op_delete(w, 0);
		} else if (o->count) {
			if (o->pinned)
				op_unpin(w, 0); /* count 1: stays */
			op_put(w, 0);
		} else {
			op_unpin(w, 0);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker workers[NTHREADS];
	uint64_t seed, frees = 0, allocs = 0, lookups = 0, hits = 0, nospc = 0;
	struct swap_usage u;
	void *area;
	unsigned i;

	seed = argc > 1 ? strtoull(argv[1], NULL, 0)
			: (uint64_t)time(NULL) ^ (uint64_t)clock();
	if (argc > 2)
		ops_per_thread = strtoul(argv[2], NULL, 0);
	printf("stress_swap: seed %" PRIu64 " (replay: stress_swap %" PRIu64
	       " %lu), %d threads x %lu ops\n",
	       seed, seed, ops_per_thread, NTHREADS, ops_per_thread);
	fflush(stdout);

	area = mmap(NULL, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	td = testdev_create(NSLOTS, true);
	if (area == MAP_FAILED || !td || swapon(&td->base, NSLOTS, &si) ||
	    folio_pool_create(area, NPAGES, &pool)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
#ifdef USWAP_TEST_HOOKS
	swap_test_lookup_hook = lookup_hook;
#endif
	for (i = 0; i < NTHREADS; i++) {
		workers[i].id = i;
		workers[i].rng = seed * 0x9E3779B97F4A7C15ull + i + 1;
		pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].tid, NULL);
		frees += workers[i].frees;
		allocs += workers[i].allocs;
		lookups += workers[i].lookups;
		hits += workers[i].hits;
		nospc += workers[i].enospc;
	}
#ifdef USWAP_TEST_HOOKS
	swap_test_lookup_hook = NULL;
#endif
	CHECK_VALID(si);
	swap_get_usage(si, &u);
	printf("allocs %" PRIu64 " (fast %" PRIu64 " slow %" PRIu64
	       " enospc %" PRIu64 "), slots freed %" PRIu64
	       ", foreign lookups %" PRIu64 " (hits %" PRIu64 ")\n",
	       allocs, u.alloc_fast, u.alloc_slow, nospc, frees, lookups, hits);
	CHECK_EQ(u.inuse, 0);
	CHECK_EQ(u.cached, 0);
	CHECK_EQ(u.free_clusters, 2);
	CHECK_EQ(frees, atomic_load(&td->ndiscards));
	CHECK_EQ(u.freed, atomic_load(&td->ndiscards));
	for (i = 1; i < NSLOTS; i++)
		CHECK_EQ(atomic_load(&td->stored[i]), 0);
	CHECK_EQ(atomic_load(&td->violations), 0);
	CHECK_EQ(folio_pool_free_count(pool), NPAGES);
	CHECK_EQ(atomic_load(&failures), 0);
	if (check_failures)
		fprintf(stderr, "replay with: stress_swap %" PRIu64 " %lu\n",
			seed, ops_per_thread);
	CHECK_EQ(swapoff(si), 0);
	folio_pool_destroy(pool);
	store_close(&td->base);
	munmap(area, NPAGES * PAGE_SIZE);
	return check_exit("stress_swap");
}
