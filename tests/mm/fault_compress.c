/*
 * Scenario: in the in-thread mode (USWAP_F_SIGBUS) a fault that would pass
 * the budget compresses the oldest pages of the swap cache itself
 * (reclaim.c, throttle_in_signal) instead of only waiting for the
 * reclaimer thread.  The reclaimer is parked (as a fork parks it), so
 * that only the faulting thread can make room, and a thread with a small
 * stack (STACK bytes) writes NEW pages past the budget.  Each fault must
 * make its room by compressing a cached page: counted (throttle_shrinks),
 * no naps while cached pages are left, and resident + cached within the
 * budget after every page.  Then the reclaimer is let go and every page
 * is read back.
 *
 * The small stack: compression now runs on the stack of whatever program
 * thread faulted, inside its SIGBUS handler.  lz4's default call keeps a
 * 16 KiB state on the stack; the store's work contexts
 * (store/zram.c, ctx_claim) keep it off.  With the default call this
 * thread overflows its stack (SIGSEGV).
 *
 * --sleeps: the old way (mm_params.throttle_sleeps): each fault naps
 * until it gives up (about 100 ms) and goes over the budget.  The test
 * must catch that: with --sleeps it exits 0 only if a check failed.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "mmtest.h"

#define BUDGET 64
#define NPAGES (4 * BUDGET)
#define NEW    12 /* pages written past the budget */
#define CACHE  24
#define STACK  (24 * 1024)

static char *area;
static struct uswap *u;
static bool sleeps;
static int failures;
static uint64_t worst;
static size_t nwrite; /* the room left under the budget, then NEW */

/* a failure that --sleeps expects: counted, not fatal */
#define EXPECT(cond, ...)                                              \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "check failed: " __VA_ARGS__); \
			fprintf(stderr, "\n");                         \
			failures++;                                    \
		}                                                      \
	} while (0)

static void *writer(void *arg)
{
	struct uswap_stats st;

	(void)arg;
	for (size_t i = NPAGES; i < NPAGES + nwrite; i++) {
		((uint64_t *)(area + i * PAGE_SIZE))[1] = i + 1;
		uswap_stats(u, &st);
		if (st.resident + st.cached > worst)
			worst = st.resident + st.cached;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = BUDGET,
			    .nslots = 2 * (NPAGES + BUDGET + NEW),
			    .threads = 1,
			    .cache_pages = CACHE,
			    .sigbus = true};
	uint64_t shrinks0, naps0, shrinks, naps;
	struct uswap_stats st;
	pthread_attr_t attr;
	pthread_t t;
	struct mm *mm;

	sleeps = argc > 1 && !strcmp(argv[1], "--sleeps");
	c.throttle_sleeps = sleeps;
	u = mt_open(&c);
	mm = uswap_mm(u);
	area = uswap_map(u, (NPAGES + BUDGET + NEW) * PAGE_SIZE);
	CHECK(area, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(area + i * PAGE_SIZE))[1] = i + 1;
	mm_quiesce(mm);
	mm_reclaimer_park(mm);
	uswap_stats(u, &st);
	printf("reclaimer parked: resident %llu, cached %llu pages, budget "
	       "%d\n",
	       (unsigned long long)st.resident / PAGE_SIZE,
	       (unsigned long long)st.cached / PAGE_SIZE, BUDGET);
	CHECK(st.cached / PAGE_SIZE >= NEW,
	      "only %llu pages cached: the test needs %d",
	      (unsigned long long)st.cached / PAGE_SIZE, NEW);
	CHECK(st.resident + st.cached <= BUDGET * PAGE_SIZE,
	      "%llu pages over the budget before the test",
	      (unsigned long long)(st.resident + st.cached) / PAGE_SIZE -
		      BUDGET);
	nwrite = BUDGET - (st.resident + st.cached) / PAGE_SIZE + NEW;
	shrinks0 = atomic_load(&mm->stats.throttle_shrinks);
	naps0 = atomic_load(&mm->stats.throttle_naps);

	CHECK(pthread_attr_init(&attr) == 0, "pthread_attr_init");
	CHECK(pthread_attr_setstacksize(&attr, STACK) == 0,
	      "pthread_attr_setstacksize(%d)", STACK);
	CHECK(pthread_create(&t, &attr, writer, NULL) == 0, "pthread_create");
	CHECK(pthread_join(t, NULL) == 0, "pthread_join");
	shrinks = atomic_load(&mm->stats.throttle_shrinks) - shrinks0;
	naps = atomic_load(&mm->stats.throttle_naps) - naps0;
	printf("%zu pages written, %d of them past the budget: %llu pages "
	       "compressed in the faults, %llu naps; resident + cached at "
	       "most %llu pages\n",
	       nwrite, NEW, (unsigned long long)shrinks,
	       (unsigned long long)naps, (unsigned long long)worst / PAGE_SIZE);
	EXPECT(shrinks >= NEW,
	       "%llu pages compressed for %d faults past the budget",
	       (unsigned long long)shrinks, NEW);
	EXPECT(naps == 0, "%llu naps while cached pages were left",
	       (unsigned long long)naps);
	EXPECT(worst <= BUDGET * PAGE_SIZE,
	       "resident + cached reached %llu pages, budget %d",
	       (unsigned long long)worst / PAGE_SIZE, BUDGET);

	mm_reclaimer_unpark(mm);
	for (size_t i = 0; i < NPAGES + nwrite; i++)
		CHECK(((uint64_t *)(area + i * PAGE_SIZE))[1] == i + 1,
		      "page %zu came back wrong", i);
	mt_validate(u);
	CHECK(uswap_unmap(u, area, (NPAGES + BUDGET + NEW) * PAGE_SIZE) == 0,
	      "unmap");
	uswap_close(u);
	if (sleeps) {
		CHECK(failures > 0, "--sleeps: the old way passed the checks");
		printf("PASS (the old way caught: %d checks failed)\n",
		       failures);
		return 0;
	}
	CHECK(failures == 0, "%d checks failed", failures);
	printf("PASS\n");
	return 0;
}
