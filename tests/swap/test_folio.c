/*
 * Unit test: the folio pool and the folio lock.  Pool creation errors,
 * allocation until empty, references (try_get refuses a free folio), and
 * the futex lock: a second thread sleeping in folio_lock and in
 * folio_wait_locked is woken by folio_unlock.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "swap/folio.h"
#include "store/device.h"
#include "check.h"

static _Atomic int stage;

static void *locker(void *arg)
{
	struct folio *folio = arg;

	atomic_store(&stage, 1);
	folio_lock(folio); /* sleeps until main unlocks */
	atomic_store(&stage, 2);
	folio_unlock(folio);
	return NULL;
}

static void *waiter(void *arg)
{
	struct folio *folio = arg;

	atomic_store(&stage, 1);
	folio_wait_locked(folio);
	CHECK(!folio_test(folio, PG_locked) || atomic_load(&stage) >= 1);
	atomic_store(&stage, 2);
	return NULL;
}

static void test_lock(struct folio *folio, void *(*fn)(void *))
{
	pthread_t t;

	atomic_store(&stage, 0);
	folio_lock(folio);
	CHECK(folio_test(folio, PG_locked));
	CHECK(!folio_trylock(folio));
	pthread_create(&t, NULL, fn, folio);
	while (atomic_load(&stage) == 0)
		usleep(100);
	usleep(20000); /* let it go to sleep (not needed for correctness) */
	CHECK_EQ(atomic_load(&stage), 1);
	folio_unlock(folio);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&stage), 2);
	CHECK(!folio_test(folio, PG_locked));
	CHECK(!folio_test(folio, PG_waiters));
}

int main(void)
{
	size_t n = 8, i;
	void *area = mmap(NULL, n * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct folio_pool *pool;
	struct folio *f[8], *g;

	CHECK(area != MAP_FAILED);
	CHECK_EQ(folio_pool_create((char *)area + 1, n, &pool), -EINVAL);
	CHECK_EQ(folio_pool_create(NULL, n, &pool), -EINVAL);
	CHECK_EQ(folio_pool_create(area, 0, &pool), -EINVAL);
	CHECK_EQ(folio_pool_create(area, n, &pool), 0);
	CHECK_EQ(folio_pool_free_count(pool), n);

	for (i = 0; i < n; i++) {
		f[i] = folio_alloc(pool);
		CHECK(f[i] != NULL);
		CHECK_EQ(atomic_load(&f[i]->refcount), 1);
		CHECK_EQ(atomic_load(&f[i]->flags), 0);
		CHECK(f[i]->data == (char *)area + i * PAGE_SIZE);
		memset(f[i]->data, (int)i, PAGE_SIZE); /* the page is usable */
	}
	CHECK(folio_alloc(pool) == NULL);
	CHECK_EQ(folio_pool_free_count(pool), 0);

	/* references */
	folio_get(f[0]);
	CHECK(folio_try_get(f[0]));
	CHECK_EQ(atomic_load(&f[0]->refcount), 3);
	folio_put(f[0]);
	folio_put(f[0]);
	folio_put(f[0]); /* last: back to the pool */
	CHECK_EQ(folio_pool_free_count(pool), 1);
	CHECK(!folio_try_get(f[0])); /* free: refused */
	g = folio_alloc(pool);
	CHECK(g == f[0]); /* LIFO reuse of type-stable memory */
	CHECK(folio_try_get(g));
	folio_put(g);

	/* flags */
	folio_set_flag(g, PG_uptodate | PG_dirty);
	CHECK(folio_test(g, PG_uptodate) && folio_test(g, PG_dirty));
	folio_clear_flag(g, PG_dirty);
	CHECK(!folio_test(g, PG_dirty) && folio_test(g, PG_uptodate));

	/* the lock */
	CHECK(folio_trylock(g));
	CHECK(!folio_trylock(g));
	folio_unlock(g);
	folio_wait_locked(g); /* unlocked: returns at once */
	test_lock(g, locker);
	test_lock(g, waiter);

	for (i = 0; i < n; i++)
		folio_put(f[i]);
	CHECK_EQ(folio_pool_free_count(pool), n);
	folio_pool_destroy(pool);
	munmap(area, n * PAGE_SIZE);
	return check_exit("test_folio");
}
