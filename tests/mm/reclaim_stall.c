/*
 * Scenario: nothing can leave.  The swap fills (256 slots under a 64-page
 * budget, 2048 pages written), so most pages stay resident over the
 * budget; then a fork shares every resident page with the child (a MOVE
 * refuses a shared page: EBUSY), and the parent discards the pages it had
 * swapped out (slots free again) and writes 200 pages it never touched.
 * Each of those faults used to reclaim directly through a lap of the
 * whole LRU (every shared page tried and refused) and kick the reclaimer
 * into another: 8,358 pages looked at per fault, measured.  Now a
 * reclaim that gives up sets reclaim_stalled (internal.h): faults go on
 * over the budget and the reclaimer retries at its timer.  Checked by the
 * reclaim scans counted while the 200 pages are written (no timing), and
 * every page keeps its data in both processes.
 *
 * With --sigbus (the in-thread mode) a fault over the budget does not
 * reclaim but waits for the reclaimer (throttle_in_signal), up to 100 ms;
 * it used to wait so while the reclaimer could not progress, so the 2048
 * pages took minutes to write.  Checked by the naps counted over the whole
 * run (no timing): a few per page at most now.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "mmtest.h"

#define NPAGES	2048
#define NEW	200
#define DROPPED 256 /* discarded by the parent after the fork */

int main(int argc, char **argv)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 256,
			    .threads = 2,
			    .cache_pages = 8,
			    .sigbus = argc > 1 && !strcmp(argv[1], "--sigbus")};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, (NPAGES + NEW) * PAGE_SIZE);
	struct uswap_stats before, after;
	uint64_t scans;
	int go[2], status;
	pid_t pid;

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i + 1;
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &before);
	printf("written: resident %llu pages, stored %llu (swap full)\n",
	       (unsigned long long)before.resident / PAGE_SIZE,
	       (unsigned long long)before.stored / PAGE_SIZE);
	CHECK(before.resident / PAGE_SIZE > NPAGES / 2,
	      "only %llu pages resident: the swap did not fill",
	      (unsigned long long)before.resident / PAGE_SIZE);
	CHECK(pipe(go) == 0, "pipe");
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		char b;

		/* hold every page shared until the parent is done */
		close(go[1]);
		(void)!read(go[0], &b, 1);
		for (size_t i = 0; i < NPAGES; i++)
			if (((uint64_t *)(a + i * PAGE_SIZE))[1] != i + 1)
				_exit(1);
		_exit(0);
	}
	close(go[0]);
	/* free slots: the first pages written are the ones swapped out */
	CHECK(madvise(a, DROPPED * PAGE_SIZE, MADV_DONTNEED) == 0, "madvise");
	/* two reclaimer passes: the stall of the full swap is re-judged */
	usleep(120 * 1000);
	uswap_stats(u, &before);
	for (size_t i = NPAGES; i < NPAGES + NEW; i++)
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i + 1;
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &after);
	scans = after.reclaim_scans - before.reclaim_scans;
	printf("%d new pages written: %llu reclaim scans (%.1f per page), "
	       "resident %llu pages\n",
	       NEW, (unsigned long long)scans, (double)scans / NEW,
	       (unsigned long long)after.resident / PAGE_SIZE);
	/*
	 * Measured: 0-66 per page (a bounded direct reclaim, then the
	 * reclaimer's laps at its timer); 8,358 with a lap per fault.
	 */
	CHECK(scans < 500 * NEW, "%llu pages looked at for %d faults",
	      (unsigned long long)scans, NEW);
	CHECK(write(go[1], "g", 1) == 1, "write");
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "the child read its pages wrong");
	for (size_t i = 0; i < NPAGES + NEW; i++)
		CHECK(((uint64_t *)(a + i * PAGE_SIZE))[1] ==
			      (i < DROPPED ? 0 : i + 1),
		      "page %zu", i);
	if (c.sigbus) {
		uint64_t naps = atomic_load(&uswap_mm(u)->stats.throttle_naps);

		/*
		 * Measured: a few hundred in all (until the reclaimer's pass
		 * first gives up); 2000 per fault over the budget before.
		 */
		printf("in-thread mode: %llu throttle naps\n",
		       (unsigned long long)naps);
		CHECK(naps < 20 * (NPAGES + NEW),
		      "%llu throttle naps for %d pages written",
		      (unsigned long long)naps, NPAGES + NEW);
	}
	CHECK(uswap_unmap(u, a, (NPAGES + NEW) * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	printf("PASS\n");
	return 0;
}
