/*
 * Scenario: a window eviction copies a page that the program's own
 * MADV_DONTNEED took away after the plan (src/mm/zap.c, zap_copy).  The
 * kernel zaps a discarded range after a handler has read its remove
 * event, and the handler applies the event under the pte lock, which the
 * evictor holds while it copies: so the page can be gone from the process
 * with its pte still present in ours.  A plain read of it would fault to
 * our own handlers, who would wait for that lock: the copy must see the
 * page gone and back off instead.  With handler threads the copy is a
 * pread(/proc/self/mem), which reads EIO; in the in-thread mode
 * (--sigbus) a memcpy whose SIGBUS jumps back (mm_copy_page).
 *
 * A hook before the copy (the reclaimer, pte lock held) starts a thread
 * that discards the window's first page and waits until the kernel has
 * zapped it.  Then: no hang (alarm), the discarded page reads zero, every
 * other page keeps its data, no slot leaks.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mmtest.h"

#define NPAGES 512

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (a window hook)\n");
	return 77;
}
#else
static char *region;
static _Atomic int fired;
static _Atomic uint64_t gone_addr;

static void *discarder(void *arg)
{
	CHECK(madvise(arg, PAGE_SIZE, MADV_DONTNEED) == 0, "madvise: %s",
	      strerror(errno));
	return NULL;
}

/* the kernel has zapped the page (mincore: not resident) */
static bool zapped(void *addr)
{
	unsigned char vec = 1;

	return mincore(addr, PAGE_SIZE, &vec) == 0 && !(vec & 1);
}

static void hook(enum mm_hook_point point, swp_entry_t first)
{
	void *addr = (void *)(uintptr_t)first.val;
	struct timespec nap = {.tv_nsec = 1000000};
	pthread_t t;

	if (point != MM_HOOK_ZAP_BEFORE_COPY || atomic_exchange(&fired, 1))
		return;
	atomic_store(&gone_addr, first.val);
	CHECK(pthread_create(&t, NULL, discarder, addr) == 0, "thread");
	CHECK(pthread_detach(t) == 0, "detach");
	for (int i = 0; i < 2000 && !zapped(addr); i++)
		nanosleep(&nap, NULL);
	CHECK(zapped(addr), "the discarded page %p is still mapped", addr);
}

int main(int argc, char **argv)
{
	bool sigbus = argc > 1 && !strcmp(argv[1], "--sigbus");
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 8,
			    .zap_min = 2,
			    .sigbus = sigbus};
	struct uswap *u;
	size_t gone;

	alarm(30); /* a copy that faults to our own handlers hangs */
	mm_set_hook(hook);
	u = mt_open(&c);
	region = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(region, "uswap_map: %s", strerror(errno));
	/*
	 * Every page once (a page the window takes was written before it),
	 * then round and round until a window is tried; not after it: the
	 * discarded page must stay discarded.
	 */
	for (size_t k = 0; k < NPAGES; k++)
		((uint64_t *)(region + k * PAGE_SIZE))[0] = k + 1;
	for (size_t k = 0; !atomic_load(&fired); k = (k + 1) % NPAGES)
		((uint64_t *)(region + k * PAGE_SIZE))[0] = k + 1;
	CHECK(atomic_load(&fired), "no window eviction was tried");
	mm_quiesce(uswap_mm(u));
	mm_set_hook(NULL);
	gone = (atomic_load(&gone_addr) - (uint64_t)(uintptr_t)region) /
	       PAGE_SIZE;
	CHECK(gone < NPAGES, "the hook's page is not in the region");
	/* the discard's event, applied after the back-off, says zero */
	for (int i = 0; i < 5000; i++) {
		if (((volatile uint64_t *)(region + gone * PAGE_SIZE))[0] == 0)
			break;
		usleep(1000);
	}
	for (size_t k = 0; k < NPAGES; k++) {
		uint64_t v = ((uint64_t *)(region + k * PAGE_SIZE))[0];

		CHECK(v == (k == gone ? 0 : k + 1),
		      "page %zu reads %llu, want %llu", k,
		      (unsigned long long)v,
		      (unsigned long long)(k == gone ? 0 : k + 1));
	}
	printf("page %zu discarded during its window's copy: reads 0; "
	       "%d others intact\n",
	       gone, NPAGES - 1);
	CHECK(uswap_unmap(u, region, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots in use after unmap: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	return 0;
}
#endif
