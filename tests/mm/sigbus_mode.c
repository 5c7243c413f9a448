/*
 * Scenario: the in-thread mode (USWAP_F_SIGBUS).  Faults are served in the
 * faulting thread's SIGBUS handler: two threads write and verify a region
 * 8 times the budget, through eviction and swap-in, and every byte comes
 * back.  Its documented price: read(2) into a swapped-out page, or into
 * one never touched, fails with EFAULT instead of waiting (checked, so
 * that the caveat stays true), and the byte stays in the pipe.
 */
#include <pthread.h>

#include "mmtest.h"

#define NPAGES 1024

static char *a;
static int
	cur_round; /* written by main between rounds, with no worker running */

static void *worker(void *arg)
{
	long id = (long)arg;

	for (size_t i = (size_t)id; i < NPAGES; i += 2) {
		uint64_t *p = (uint64_t *)(a + i * PAGE_SIZE);

		if (cur_round > 0)
			CHECK(p[0] == i * 3 + (uint64_t)cur_round - 1 &&
				      p[511] == i,
			      "page %zu: %llu %llu (round %d)", i,
			      (unsigned long long)p[0],
			      (unsigned long long)p[511], cur_round);
		p[0] = i * 3 + (uint64_t)cur_round;
		p[511] = i;
	}
	return NULL;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 128,
			    .nslots = 2 * NPAGES,
			    .threads = 1,
			    .cache_pages = 16,
			    .sigbus = true};
	struct uswap *u = mt_open(&c);
	struct uswap_stats st;
	pthread_t t[2];
	int fds[2];
	char *fresh;

	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map: %s", strerror(errno));
	/*
	 * The in-thread mode never reclaims in the signal handler; the
	 * reclaimer thread does, at its own pace, so a fast run could finish
	 * before it evicts anything.  Force an eviction of everything between
	 * rounds so that every round after the first swaps every page in.
	 */
	for (cur_round = 0; cur_round < 3; cur_round++) {
		for (long i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, worker, (void *)i);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		mm_quiesce(uswap_mm(u));
		if (cur_round < 2)
			CHECK(mm_evict_range(uswap_mm(u), a, NPAGES * PAGE_SIZE,
					     true) >= 0,
			      "forced eviction");
	}
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	printf("faults %llu major %llu minor %llu swapouts %llu\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.faults_major,
	       (unsigned long long)st.faults_minor,
	       (unsigned long long)st.swapouts);
	CHECK(st.faults_major > 0 && st.swapouts > 0, "no swapping happened");
	/* the caveat: a system call into a swapped-out page gets EFAULT */
	CHECK(((volatile uint64_t *)a)[0] == 2, "page 0: %llu",
	      (unsigned long long)((uint64_t *)a)[0]);
	CHECK(mm_evict_range(uswap_mm(u), a, PAGE_SIZE, true) == 1, "evict");
	CHECK(pipe(fds) == 0, "pipe");
	CHECK(write(fds[1], "x", 1) == 1, "write");
	CHECK(read(fds[0], a, 1) == -1 && errno == EFAULT,
	      "read(2) into a swapped-out page did not fail with EFAULT");
	CHECK(((uint64_t *)a)[0] == 2 && ((uint64_t *)a)[511] == 0,
	      "page 0 after the failed read: %llu",
	      (unsigned long long)((uint64_t *)a)[0]);
	/* ...and so does one into a page never touched */
	fresh = uswap_map(u, PAGE_SIZE);
	CHECK(fresh, "uswap_map: %s", strerror(errno));
	CHECK(read(fds[0], fresh, 1) == -1 && errno == EFAULT,
	      "read(2) into a never-touched page did not fail with EFAULT");
	CHECK(fresh[0] == 0, "the never-touched page reads %d", fresh[0]);
	CHECK(read(fds[0], fresh, 1) == 1 && fresh[0] == 'x',
	      "read(2) into the page once touched: not the byte written");
	CHECK(uswap_unmap(u, fresh, PAGE_SIZE) == 0, "unmap");
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots left");
	uswap_close(u);
	return 0;
}
