/*
 * Scenario: two instances, and a fork whose child restarts them.  A new
 * handler thread of the one restarted first reads, at its birth, a
 * swapped-out page of the other, as glibc's start_thread reads the
 * locale data wherever malloc put it (src/mm/fault.c,
 * mm_serve_until_handlers_up).  The child must find that page's data,
 * there and afterwards, and every other page of both instances.
 *
 * Hook MM_HOOK_HANDLER_START, in the child only, on the first handler of
 * the instance restarted first (fork.c restarts the last opened first):
 * it reads page P of the other instance.
 *   - With every instance registered before any handler starts, and this
 *     thread serving them all (fork.c, fork_child), P's fault is served.
 *   - Restarted one after the other, P was not registered yet: the read
 *     found the kernel's zero page, and P stayed zero ("the handler read
 *     0", then the child's check of P fails).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "mmtest.h"

#define NPAGES 32

static pid_t parent;
static struct mm *first; /* restarted first in the child */
static volatile uint64_t *P;
static _Atomic int hooked;
static _Atomic uint64_t seen;

static void birth_hook(enum mm_hook_point point, swp_entry_t entry)
{
	if (point != MM_HOOK_HANDLER_START || getpid() == parent ||
	    (struct mm *)(uintptr_t)entry.val != first ||
	    atomic_exchange(&hooked, 1))
		return;
	atomic_store(&seen, *P);
}

static uint64_t stamp(int who, size_t i, size_t w)
{
	return ((uint64_t)who << 48) ^ (i << 16) ^ w ^ 0x5a5a;
}

static char *fill(struct uswap *u, int who)
{
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		for (size_t w = 0; w < PAGE_SIZE / 8; w++)
			((uint64_t *)(a + i * PAGE_SIZE))[w] = stamp(who, i, w);
	CHECK(mm_evict_range(uswap_mm(u), a, NPAGES * PAGE_SIZE, true) ==
		      NPAGES,
	      "not every page of instance %d was swapped out", who);
	return a;
}

static long verify(const char *a, int who)
{
	long bad = 0;

	for (size_t i = 0; i < NPAGES; i++)
		for (size_t w = 0; w < PAGE_SIZE / 8; w++)
			bad += ((const uint64_t *)(a + i * PAGE_SIZE))[w] !=
			       stamp(who, i, w);
	return bad;
}

int main(void)
{
#ifndef USWAP_TEST_HOOKS
	fprintf(stderr, "SKIP: needs a build with test hooks\n");
	return 77;
#else
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 128,
			    .nslots = 128,
			    .threads = 1,
			    .cache_pages = 8,
			    .no_reclaimer = true};
	struct uswap *ua, *ub;
	char *a, *b;
	pid_t pid;
	int st;

	alarm(30);
	parent = getpid();
	ua = mt_open(&c);
	ub = mt_open(&c);
	a = fill(ua, 1);
	b = fill(ub, 2);
	/* the last opened is restarted first: its handler reads a's P */
	first = uswap_mm(ub);
	P = (volatile uint64_t *)(a + 5 * PAGE_SIZE);
	CHECK(pte_is_swap(mt_pte(ua, (void *)P)), "P is not swapped out");
	mm_set_hook(birth_hook);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		long bad;

		CHECK(atomic_load(&hooked), "no handler of the instance "
					    "restarted first was born");
		CHECK(atomic_load(&seen) == stamp(1, 5, 0),
		      "the handler read %#llx at its birth, want %#llx",
		      (unsigned long long)atomic_load(&seen),
		      (unsigned long long)stamp(1, 5, 0));
		bad = verify(a, 1) + verify(b, 2);
		CHECK(bad == 0, "child: %ld words wrong", bad);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the child failed (status %#x)", st);
	mm_set_hook(NULL);
	CHECK(verify(a, 1) + verify(b, 2) == 0, "parent: words wrong");
	printf("the child's new handler read the other instance's page "
	       "at its birth: %#llx, as written\n",
	       (unsigned long long)stamp(1, 5, 0));
	uswap_close(ub);
	uswap_close(ua);
	return 0;
#endif
}
