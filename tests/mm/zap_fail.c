/*
 * Scenario: window evictions (src/mm/zap.c) whose drop fails, as on a
 * range the program mlocked (madvise(MADV_DONTNEED) refuses it): here
 * every drop fails (mm_params.zap_drop_fails).  The pages were already
 * copied into folios, marked PTE_ZAP|entry and write-protected; they must
 * stay as they were (zap_unzap_locked): present, writable, their data
 * theirs.  A thread increments counters in random pages and checks each
 * page it touches against its own record, while the budget forces
 * evictions; windows pause after a failure (the rest go one MOVE each).
 */
#include "mmtest.h"

#define NPAGES 1024

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 8,
			    .zap_min = 2,
			    .zap_drop_fails = true};
	struct uswap *u = mt_open(&c);
	uint64_t *cnt = calloc(NPAGES, sizeof(*cnt));
	unsigned seed = 7;
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);
	struct mm *mm = uswap_mm(u);

	CHECK(a && cnt, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i;
	for (long op = 0; op < 60000; op++) {
		size_t i = (size_t)rand_r(&seed) % NPAGES;
		uint64_t *p = (uint64_t *)(a + i * PAGE_SIZE);

		CHECK(p[1] == i && p[0] == cnt[i],
		      "page %zu: stamp %llu count %llu, want %zu %llu", i,
		      (unsigned long long)p[1], (unsigned long long)p[0], i,
		      (unsigned long long)cnt[i]);
		p[0]++;
		cnt[i]++;
	}
	mm_quiesce(mm);
	printf("windows %llu (pages kept out %llu), drops failed %llu\n",
	       (unsigned long long)atomic_load(&mm->stats.zap_windows),
	       (unsigned long long)atomic_load(&mm->stats.window_evictions),
	       (unsigned long long)atomic_load(&mm->stats.zap_failed));
	CHECK(atomic_load(&mm->stats.zap_failed) > 0, "no window was tried");
	CHECK(atomic_load(&mm->stats.window_evictions) == 0,
	      "%llu pages counted out of failed drops",
	      (unsigned long long)atomic_load(&mm->stats.window_evictions));
	for (size_t i = 0; i < NPAGES; i++) {
		uint64_t *p = (uint64_t *)(a + i * PAGE_SIZE);

		CHECK(p[1] == i && p[0] == cnt[i], "final: page %zu", i);
	}
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots in use after unmap: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	free(cnt);
	return 0;
}
