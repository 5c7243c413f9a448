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
#include <time.h>
#include <unistd.h>

#include "mmtest.h"

#define NPAGES 512
#define LOCKED 128 /* 2x the budget */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return (a > b) - (a < b);
}

/*
 * Read every page twice (each keeps its stamp); then the resident bytes:
 * the median of 51 looks 2 ms apart.  The reclaimer goes on meanwhile,
 * and a look can fall in one of its moments: a page it moves between the
 * lists counted twice, or a window whose drop the lock refused counted
 * cached until it is put back.
 */
static uint64_t touch_all(struct uswap *u, char *a, const char *when)
{
	const struct timespec nap = {0, 2 * 1000 * 1000};
	uint64_t looks[51];

	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NPAGES; i++)
			CHECK(((uint64_t *)(a + i * PAGE_SIZE))[1] == i,
			      "page %zu", i);
	mm_quiesce(uswap_mm(u));
	for (int look = 0; look < 51; look++) {
		struct uswap_stats st;

		uswap_stats(u, &st);
		looks[look] = st.resident;
		nanosleep(&nap, NULL);
	}
	qsort(looks, 51, sizeof(looks[0]), cmp_u64);
	printf("%s: resident %llu KiB (budget 256 KiB; looks %llu..%llu)\n",
	       when, (unsigned long long)looks[25] >> 10,
	       (unsigned long long)looks[0] >> 10,
	       (unsigned long long)looks[50] >> 10);
	return looks[25];
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
