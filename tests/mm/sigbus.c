/*
 * Scenario: a device read error.  A swapped-out page whose slot fails to
 * load (the store's injected error) raises SIGBUS on access, as the kernel
 * does (UFFDIO_POISON); the slot is freed; every other page keeps its data;
 * the access raises SIGBUS again (no hang, no stale data); after the
 * application discards the page (MADV_DONTNEED) it reads zero.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "mmtest.h"

#define NPAGES 16

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (injected errors)\n");
	return 77;
}
#else
static sigjmp_buf jb;
static volatile sig_atomic_t nsigbus;

static void on_sigbus(int sig)
{
	(void)sig;
	nsigbus++;
	siglongjmp(jb, 1);
}

/* Read a byte of @p; return -1 on SIGBUS. */
static int touch(volatile char *p)
{
	if (sigsetjmp(jb, 1))
		return -1;
	return *p;
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 256,
			    .nslots = 4 * NPAGES,
			    .cache_pages = 4};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);
	struct sigaction sa;
	struct uswap_stats st;
	swp_entry_t entry;
	uint64_t pte;
	int ret;

	CHECK(a, "uswap_map: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	for (size_t i = 0; i < NPAGES; i++)
		memset(a + i * PAGE_SIZE, 'A' + (int)i, PAGE_SIZE);
	CHECK(mm_evict_range(uswap_mm(u), a, NPAGES * PAGE_SIZE, true) ==
		      NPAGES,
	      "evict");
	CHECK(mm_page_pte(uswap_mm(u), a + 5 * PAGE_SIZE, &pte, &entry) == 0 &&
		      pte_is_swap(pte),
	      "page 5 not swapped out");
	ret = store_inject_load_error(uswap_store(u),
				      (uint32_t)swp_offset(entry), true);
	if (ret == -EOPNOTSUPP) {
		fprintf(stderr, "SKIP: the store cannot inject errors\n");
		return 77;
	}
	CHECK(ret == 0, "store_inject_load_error: %d", ret);

	CHECK(touch(a + 5 * PAGE_SIZE) == -1, "no SIGBUS on the bad page");
	CHECK(touch(a + 5 * PAGE_SIZE + 100) == -1, "no second SIGBUS");
	CHECK(nsigbus == 2, "%d SIGBUS", (int)nsigbus);
	for (size_t i = 0; i < NPAGES; i++) {
		if (i == 5)
			continue;
		for (size_t b = 0; b < PAGE_SIZE; b += 511)
			CHECK(touch(a + i * PAGE_SIZE + b) == 'A' + (int)i,
			      "page %zu byte %zu lost", i, b);
	}
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	CHECK(st.sigbus == 1, "stats: sigbus %llu",
	      (unsigned long long)st.sigbus);
	CHECK(mt_slots_inuse(u) == 0, "slots in use: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	/* the application discards the poisoned page: it reads zero again */
	CHECK(madvise(a + 5 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED) == 0,
	      "madvise");
	ret = touch(a + 5 * PAGE_SIZE);
	CHECK(ret == 0, "after MADV_DONTNEED the poisoned page reads %d", ret);
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	return 0;
}
#endif
