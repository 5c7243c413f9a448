/*
 * Unit test: the swap cache (swap table).  Insert, lookup and delete with
 * the cache's reference and PG_swapcache; shadows left by a delete and
 * returned by the next insert; every error of swap_cache_add_folio; every
 * return of swap_cache_prepare_and_add (the unified swap-in's step 2);
 * folio_free_swap and free_swap_and_cache with a cached folio (and with a
 * folio that is locked elsewhere, which must not be freed); a slot with a
 * cached folio is never freed, and is discarded exactly once when it is.
 */
#include <errno.h>
#include <sys/mman.h>

#include "swap/swap.h"
#include "check.h"
#include "testdev.h"

#define NPAGES 8

static struct swap_info *si;
static struct testdev *td;
static struct folio_pool *pool;

static struct folio *new_locked(void)
{
	struct folio *folio = folio_alloc(pool);

	CHECK(folio != NULL);
	if (folio)
		folio_lock(folio);
	return folio;
}

/* swap-out: alloc, insert, the pte's reference; returns the entry */
static swp_entry_t swap_out(struct folio *folio)
{
	swp_entry_t e;
	void *shadow = (void *)1;

	CHECK_EQ(swap_alloc(si, 0, &e), 0);
	CHECK_EQ(swap_cache_add_folio(e, folio, &shadow), 0);
	CHECK(shadow == NULL);
	CHECK_EQ(swap_duplicate(e), 0);
	return e;
}

static void test_insert_lookup_delete(void)
{
	struct folio *f = new_locked(), *g = new_locked(), *r;
	swp_entry_t e = swap_out(f);
	uint64_t off = swp_offset(e);
	uint32_t d0 = testdev_discards(td, off);
	void *shadow;

	CHECK(folio_test(f, PG_swapcache));
	CHECK_EQ(f->swap.val, e.val);
	CHECK_EQ(atomic_load(&f->refcount), 2); /* ours + the cache's */
	r = swap_cache_get_folio(e);
	CHECK(r == f);
	CHECK_EQ(atomic_load(&f->refcount), 3);
	folio_put(r);
	CHECK(swap_cache_get_shadow(e) == NULL);
	/* a second folio at the same entry */
	CHECK_EQ(swap_cache_add_folio(e, g, NULL), -EEXIST);
	CHECK(!folio_test(g, PG_swapcache));

	/* delete with a shadow: count 1 keeps the slot, the shadow stays */
	swap_cache_del_folio(f, make_shadow(12345));
	CHECK(!folio_test(f, PG_swapcache));
	CHECK_EQ(f->swap.val, 0);
	CHECK_EQ(atomic_load(&f->refcount), 1);
	CHECK(swap_cache_get_folio(e) == NULL);
	CHECK_EQ(shadow_value(swap_cache_get_shadow(e)), 12345);
	CHECK(!swap_pinned(e));
	CHECK_EQ(swap_count(e), 1);
	CHECK_EQ(testdev_discards(td, off), d0);
	CHECK_VALID(si);

	/* insert needs the pin */
	CHECK_EQ(swap_cache_add_folio(e, g, NULL), -EINVAL);
	CHECK_EQ(swapcache_prepare(e), 0);
	shadow = NULL;
	CHECK_EQ(swap_cache_add_folio(e, g, &shadow), 0);
	CHECK_EQ(shadow_value(shadow), 12345); /* handed back, consumed */
	CHECK(swap_cache_get_shadow(e) == NULL);
	r = swap_cache_get_folio(e);
	CHECK(r == g);
	folio_put(r);

	/* with a folio cached the slot stays in use at count 0 */
	swap_free(e);
	CHECK_EQ(swap_count(e), 0);
	CHECK(swap_pinned(e));
	CHECK_EQ(testdev_discards(td, off), d0);
	swapcache_clear(e); /* refused: the folio holds the pin */
	CHECK(swap_pinned(e));
	CHECK(swap_cache_get_folio(e) == g);
	folio_put(g);
	CHECK_VALID(si);
	/* delete frees it, the shadow is not kept on a free slot */
	swap_cache_del_folio(g, make_shadow(7));
	CHECK_EQ(testdev_discards(td, off), d0 + 1);
	CHECK(swap_cache_get_shadow(e) == NULL);
	CHECK_EQ(swap_cache_add_folio(e, g, NULL), -ENOENT);
	CHECK_EQ(swap_cache_add_folio(swp_entry(swap_type_of(si), 0), g, NULL),
		 -EINVAL);
	CHECK_EQ(swap_cache_add_folio(swp_entry(MAX_SWAPFILES - 1, 1), g, NULL),
		 -EINVAL);
	folio_unlock(f);
	folio_unlock(g);
	folio_put(f);
	folio_put(g);
	CHECK_VALID(si);
}

static void test_prepare_and_add(void)
{
	struct folio *f = new_locked(), *g = new_locked(), *other;
	swp_entry_t e = swap_out(f), free_e;
	uint32_t d0;

	/* swap-out done: the folio leaves the cache, the pte keeps e */
	swap_cache_del_folio(f, make_shadow(3));
	folio_unlock(f);

	/* fault A: wins */
	CHECK_EQ(swap_cache_prepare_and_add(e, g, &other), 0);
	CHECK(other == NULL);
	CHECK(swap_pinned(e));
	CHECK(swap_cache_get_shadow(e) == NULL);
	CHECK(swap_cache_get_folio(e) == g);
	folio_put(g);
	/* fault B: finds A's folio, with a reference */
	folio_lock(f);
	CHECK_EQ(swap_cache_prepare_and_add(e, f, &other), -EEXIST);
	CHECK(other == g);
	CHECK_EQ(atomic_load(&g->refcount), 3);
	folio_put(other);
	CHECK(!folio_test(f, PG_swapcache));

	/* A maps the page: the pte's reference goes, then the cache */
	swap_free(e);
	CHECK(swap_pinned(e));
	d0 = testdev_discards(td, swp_offset(e));
	CHECK(folio_free_swap(g));
	CHECK_EQ(testdev_discards(td, swp_offset(e)), d0 + 1);
	CHECK(!folio_free_swap(g)); /* no longer cached */
	/* B again: the slot is free, the pte changed under it */
	CHECK_EQ(swap_cache_prepare_and_add(e, f, &other), -ENOENT);
	CHECK(other == NULL);

	/* pinned with no folio (a bypassing swap-in): -EEXIST, NULL */
	CHECK_EQ(swap_alloc(si, 0, &free_e), 0);
	CHECK_EQ(swap_duplicate(free_e), 0);
	CHECK_EQ(swap_cache_prepare_and_add(free_e, f, &other), -EEXIST);
	CHECK(other == NULL);
	/* pinned, count 0: not in use by any pte */
	swap_free(free_e);
	CHECK_EQ(swap_cache_prepare_and_add(free_e, f, &other), -ENOENT);
	swapcache_clear(free_e);
	CHECK_EQ(swap_cache_prepare_and_add(free_e, f, &other), -ENOENT);
	CHECK_EQ(swap_cache_prepare_and_add(swp_entry(swap_type_of(si), 0), f,
					    &other),
		 -EINVAL);

	/* folio_free_swap refuses while a pte holds the slot */
	e = swap_out(g);
	CHECK(!folio_free_swap(g));
	CHECK(folio_test(g, PG_swapcache));
	swap_free(e);
	CHECK(folio_free_swap(g));
	folio_unlock(f);
	folio_unlock(g);
	folio_put(f);
	folio_put(g);
	CHECK_VALID(si);
}

static void test_free_swap_and_cache(void)
{
	struct folio *f = new_locked();
	swp_entry_t e = swap_out(f), e2;
	uint32_t d0 = testdev_discards(td, swp_offset(e));

	CHECK_EQ(swap_duplicate(e), 0); /* two ptes */
	/* one pte goes: count 1 left, nothing freed */
	CHECK(!free_swap_and_cache(e));
	CHECK_EQ(swap_count(e), 1);
	/* the last pte goes while the folio is locked (being written):
	 * the trylock fails, the folio stays cached, the slot stays */
	CHECK(!free_swap_and_cache(e));
	CHECK_EQ(swap_count(e), 0);
	CHECK(swap_cache_get_folio(e) == f);
	folio_put(f);
	CHECK_EQ(testdev_discards(td, swp_offset(e)), d0);
	CHECK_VALID(si);
	/* the writer finishes: folio_free_swap frees it */
	CHECK(folio_free_swap(f));
	CHECK_EQ(testdev_discards(td, swp_offset(e)), d0 + 1);
	folio_unlock(f);

	/* unlocked folio: free_swap_and_cache drops it and the slot */
	folio_lock(f);
	e2 = swap_out(f);
	d0 = testdev_discards(td, swp_offset(e2));
	folio_unlock(f);
	CHECK(free_swap_and_cache(e2));
	CHECK(!folio_test(f, PG_swapcache));
	CHECK_EQ(atomic_load(&f->refcount), 1);
	CHECK_EQ(testdev_discards(td, swp_offset(e2)), d0 + 1);
	CHECK(swap_cache_get_folio(e2) == NULL);
	folio_put(f);
	CHECK_VALID(si);
}

int main(void)
{
	void *area = mmap(NULL, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct swap_usage u;

	td = testdev_create(1024, false);
	if (area == MAP_FAILED || !td || swapon(&td->base, 1024, &si) ||
	    folio_pool_create(area, NPAGES, &pool)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	test_insert_lookup_delete();
	test_prepare_and_add();
	test_free_swap_and_cache();
	swap_get_usage(si, &u);
	CHECK_EQ(u.inuse, 0);
	CHECK_EQ(u.cached, 0);
	CHECK_EQ(u.freed, atomic_load(&td->ndiscards));
	CHECK_EQ(folio_pool_free_count(pool), NPAGES);
	CHECK_EQ(atomic_load(&td->violations), 0);
	CHECK_EQ(swapoff(si), 0);
	folio_pool_destroy(pool);
	store_close(&td->base);
	return check_exit("test_swap_cache");
}
