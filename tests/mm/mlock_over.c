/*
 * Scenario: the program mlocks more of a region than the budget (a library
 * user may; the shim turns mlock of uswap memory into a no-op).  The kernel
 * refuses to MOVE a locked page out (EINVAL), so those pages stay resident
 * over the budget, as COW-shared pages do after fork; reclaim must give up
 * on them after a lap instead of spinning (before 2026-11-26 it spun and
 * mlock's population never completed).  Every page keeps its data; after
 * munlock the budget holds again.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mmtest.h"

#define NPAGES 512
#define LOCKED 128 /* 2x the budget */

/* Read every page twice (each keeps its stamp); then the resident bytes. */
static uint64_t touch_all(struct uswap *u, char *a, const char *when)
{
	struct uswap_stats st;

	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NPAGES; i++)
			CHECK(((uint64_t *)(a + i * PAGE_SIZE))[1] == i,
			      "page %zu", i);
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	printf("%s: resident %llu KiB (budget 256 KiB)\n", when,
	       (unsigned long long)st.resident >> 10);
	return st.resident;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 8};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i;
	/* the system call: ASan's mlock interceptor locks nothing */
	if (syscall(SYS_mlock, a, LOCKED * PAGE_SIZE) != 0) {
		printf("SKIP: mlock: %s\n", strerror(errno));
		return 77;
	}
	CHECK(touch_all(u, a, "locked") >= LOCKED * PAGE_SIZE,
	      "locked pages left");
	CHECK(syscall(SYS_munlock, a, LOCKED * PAGE_SIZE) == 0, "munlock");
	CHECK(touch_all(u, a, "unlocked") <= 64 * PAGE_SIZE,
	      "over budget after munlock");
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots in use after unmap");
	mt_validate(u);
	uswap_close(u);
	return 0;
}
