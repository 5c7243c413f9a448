/*
 * Scenario: uswap_disown (mm_disown) takes pages out of the pager, with
 * handler threads and in the in-thread mode: a swapped-out page comes back
 * with its data, a present one stays; both become plain (PTE_PLAIN): no
 * eviction takes them again, the budget no longer counts them, reading
 * them faults no more; a discard makes one none (zeros); a page a window
 * left write-protected is un-protected first.  A bad range is
 * EINVAL; memory outside every region is skipped.  Then a race: a thread
 * churns the region through a budget of 32 pages (the reclaimer and forced
 * evictions take pages all the time) while the main thread disowns pages
 * one by one, each keeping its data.  Finally the swap map validates.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmtest.h"

#define NPAGES 512
#define BUDGET 32

static uint64_t stamp(size_t i, size_t w)
{
	return (i << 32) ^ (w * 0x9e3779b97f4a7c15ULL >> 24);
}

static void fill(char *a, size_t i)
{
	uint64_t *p = (uint64_t *)(a + i * PAGE_SIZE);

	for (size_t w = 0; w < PAGE_SIZE / 8; w++)
		p[w] = stamp(i, w);
}

static void verify(const char *a, size_t i, const char *when)
{
	const uint64_t *p = (const uint64_t *)(a + i * PAGE_SIZE);

	for (size_t w = 0; w < PAGE_SIZE / 8; w++)
		CHECK(p[w] == stamp(i, w), "%s: page %zu word %zu: %#llx", when,
		      i, w, (unsigned long long)p[w]);
}

struct churn {
	char *a;
	struct uswap *u;
	atomic_bool stop;
};

/*
 * churn_main - read pages 256.. again and again through the 32-page
 * budget (the reclaimer evicts all the time), and evict them by force.
 * Not the pages being disowned: a forced eviction of every page, again
 * and again, could take a page back out before each of mm_disown's 100
 * tries (CI saw -EBUSY so once).
 */
static void *churn_main(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		for (size_t i = NPAGES / 2; i < NPAGES; i++)
			verify(c->a, i, "churn");
		mm_evict_range(uswap_mm(c->u), c->a + NPAGES / 2 * PAGE_SIZE,
			       NPAGES / 2 * PAGE_SIZE, false);
	}
	return NULL;
}

static void scenario(bool sigbus)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = BUDGET,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 8,
			    .sigbus = sigbus};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	const char *mode = sigbus ? "sigbus" : "handlers";
	struct uswap_stats st0, st1;
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);
	static char plain[2 * PAGE_SIZE] __attribute__((aligned(4096)));
	struct churn ch = {.u = u};
	pthread_t th;
	long n;

	CHECK(a, "%s: uswap_map: %s", mode, strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		fill(a, i);
	CHECK(mm_evict_range(mm, a, NPAGES * PAGE_SIZE, true) >= 0,
	      "%s: mm_evict_range", mode);
	CHECK(pte_is_swap(mt_pte(u, a + 10 * PAGE_SIZE)),
	      "%s: page 10 not swapped out: pte %#llx", mode,
	      (unsigned long long)mt_pte(u, a + 10 * PAGE_SIZE));

	/* swapped-out pages 10..12, and page 20 brought in first */
	n = uswap_disown(u, a + 10 * PAGE_SIZE, 3 * PAGE_SIZE);
	CHECK(n == 3, "%s: disown of 3 swapped-out pages: %ld", mode, n);
	verify(a, 20, "read before its disown");
	n = uswap_disown(u, a + 20 * PAGE_SIZE, PAGE_SIZE);
	CHECK(n == 1, "%s: disown of a present page: %ld", mode, n);
	for (size_t i = 10; i <= 20; i += i == 12 ? 8 : 1)
		CHECK(mt_pte(u, a + i * PAGE_SIZE) == PTE_PLAIN,
		      "%s: page %zu: pte %#llx, want plain", mode, i,
		      (unsigned long long)mt_pte(u, a + i * PAGE_SIZE));

	/* everything else through the budget twice, then evicted by force */
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NPAGES; i++)
			verify(a, i, "a sweep after the disowns");
	/* a forced eviction may leave a page busy a moment: up to 10 tries */
	for (int tries = 0;; tries++) {
		CHECK(mm_evict_range(mm, a, NPAGES * PAGE_SIZE, true) >= 0,
		      "%s: mm_evict_range", mode);
		mm_quiesce(mm);
		uswap_stats(u, &st0);
		if (st0.resident == 0 || tries == 10)
			break;
	}
	CHECK(st0.resident == 0,
	      "%s: %llu bytes resident after evicting all 10 times: plain "
	      "pages counted?",
	      mode, (unsigned long long)st0.resident);
	for (size_t i = 10; i <= 20; i += i == 12 ? 8 : 1) {
		CHECK(mt_pte(u, a + i * PAGE_SIZE) == PTE_PLAIN,
		      "%s: page %zu left plain: pte %#llx", mode, i,
		      (unsigned long long)mt_pte(u, a + i * PAGE_SIZE));
		verify(a, i, "plain, after evicting all");
	}
	uswap_stats(u, &st1);
	CHECK(st1.faults == st0.faults,
	      "%s: reading plain pages faulted %llu times", mode,
	      (unsigned long long)(st1.faults - st0.faults));

	/* a discard makes a plain page none: zeros, served again */
	CHECK(madvise(a + 11 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED) == 0,
	      "madvise: %s", strerror(errno));
	for (size_t w = 0; w < PAGE_SIZE / 8; w++)
		CHECK(((uint64_t *)(a + 11 * PAGE_SIZE))[w] == 0,
		      "%s: a discarded plain page reads %#llx", mode,
		      (unsigned long long)((uint64_t *)(a +
							11 * PAGE_SIZE))[w]);
	/* the pager's again: none, present or evicted since, not plain */
	CHECK(mt_pte(u, a + 11 * PAGE_SIZE) != PTE_PLAIN,
	      "%s: page 11 still plain after its discard", mode);

	n = uswap_disown(u, a + 1, PAGE_SIZE);
	CHECK(n == -EINVAL, "%s: unaligned disown: %ld", mode, n);
	n = uswap_disown(u, plain, sizeof(plain));
	CHECK(n == 0, "%s: disown outside every region: %ld", mode, n);

	/*
	 * A write-protect a window left (its un-protect refused): the
	 * disown clears it, or the program's next write to the now plain
	 * page would fault to nobody (alarm: a hang fails the test).
	 */
	{
		char *w = mt_map_wp_left(u, 4, 1);

		n = uswap_disown(u, w + PAGE_SIZE, PAGE_SIZE);
		CHECK(n == 1, "%s: disown of a write-protected page: %ld", mode,
		      n);
		alarm(20);
		((volatile uint64_t *)(w + PAGE_SIZE))[1] = 77;
		alarm(0);
		CHECK(((uint64_t *)(w + PAGE_SIZE))[1] == 77 &&
			      mt_pte(u, w + PAGE_SIZE) == PTE_PLAIN,
		      "%s: write to a disowned write-protected page", mode);
	}

	/* the race: each disowned page keeps its data while pages churn */
	ch.a = a;
	CHECK(pthread_create(&th, NULL, churn_main, &ch) == 0,
	      "pthread_create");
	for (size_t i = 40; i < NPAGES / 2; i += 3) {
		n = uswap_disown(u, a + i * PAGE_SIZE, PAGE_SIZE);
		CHECK(n == 1, "%s: disown of page %zu under churn: %ld", mode,
		      i, n);
		CHECK(mt_pte(u, a + i * PAGE_SIZE) == PTE_PLAIN,
		      "%s: page %zu under churn: pte %#llx", mode, i,
		      (unsigned long long)mt_pte(u, a + i * PAGE_SIZE));
		verify(a, i, "disowned under churn");
		/* and pages around it keep leaving */
		mm_evict_range(mm, a + (i - 30) * PAGE_SIZE, 30 * PAGE_SIZE,
			       false);
	}
	atomic_store(&ch.stop, true);
	pthread_join(th, NULL);
	for (size_t i = 40; i < NPAGES / 2; i += 3)
		verify(a, i, "disowned, at the end");
	mt_validate(u);
	printf("%s: ok\n", mode);
	uswap_close(u);
}

int main(void)
{
	scenario(false);
	scenario(true);
	return 0;
}
