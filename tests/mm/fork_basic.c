/*
 * Scenario: fork(2) with a uswap region holding pages present, swap-cached,
 * compressed on the device and never touched.  The child verifies every
 * byte of the snapshot, tries to evict the pages it shares with the parent
 * (UFFDIO_MOVE refuses COW-shared pages: they stay, nothing is lost),
 * writes its own pattern, forces eviction (to the cache and to the device)
 * and verifies again; the parent does the same with another pattern at the
 * same time.  Each sees only its own writes, slots in use match the
 * swapped-out pages and swap_validate is clean in both; the child exits 0.
 * Usage: mm_fork_basic [--sigbus] (faults served in the faulting thread).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "mmtest.h"

#define NPAGES 512

static char *a;

static unsigned char snap_byte(size_t i, size_t b)
{
	return i % 4 == 3 ? 0 : (unsigned char)(i * 5 + b / 64 + 1);
}

static unsigned char own_byte(int who, size_t i, size_t b)
{
	return (unsigned char)(who * 77 + i * 3 + b / 128);
}

static void verify(int who, bool own, const char *what)
{
	for (size_t i = 0; i < NPAGES; i++)
		for (size_t b = 0; b < PAGE_SIZE; b++) {
			unsigned char want =
				own ? own_byte(who, i, b) : snap_byte(i, b);

			CHECK((unsigned char)a[i * PAGE_SIZE + b] == want,
			      "%s (%s): page %zu byte %zu: %d, want %d",
			      who ? "child" : "parent", what, i, b,
			      (unsigned char)a[i * PAGE_SIZE + b], want);
		}
}

static uint64_t swapped(struct uswap *u)
{
	uint64_t n = 0;

	mm_quiesce(uswap_mm(u));
	for (size_t i = 0; i < NPAGES; i++)
		if (pte_is_swap(mt_pte(u, a + i * PAGE_SIZE)))
			n++;
	return n;
}

/* Both sides: the snapshot, then their own pattern through eviction. */
static void side(struct uswap *u, int who)
{
	struct mm *mm = uswap_mm(u);
	long ev;

	verify(who, false, "snapshot");
	/* the pages present at the fork are shared with the other process */
	ev = 0;
	for (size_t i = 0; i < NPAGES; i += 4)
		ev += mm_evict_range(mm, a + i * PAGE_SIZE, PAGE_SIZE, true);
	CHECK(ev == 0, "%d shared pages evicted", (int)ev);
	verify(who, false, "snapshot after a refused eviction");
	for (size_t i = 0; i < NPAGES; i++)
		for (size_t b = 0; b < PAGE_SIZE; b++)
			a[i * PAGE_SIZE + b] = (char)own_byte(who, i, b);
	ev = mm_evict_range(mm, a, NPAGES / 2 * PAGE_SIZE, true);
	CHECK(ev == NPAGES / 2, "evicted %ld of our own pages", ev);
	mm_evict_range(mm, a + NPAGES / 2 * PAGE_SIZE, NPAGES / 4 * PAGE_SIZE,
		       false);
	CHECK(mt_slots_inuse(u) == swapped(u), "slots %llu, swapped %llu",
	      (unsigned long long)mt_slots_inuse(u),
	      (unsigned long long)swapped(u));
	mt_validate(u);
	verify(who, true, "own pattern");
	CHECK(mt_slots_inuse(u) == 0, "slots after reading back: %llu",
	      (unsigned long long)mt_slots_inuse(u));
}

int main(int argc, char **argv)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 2 * NPAGES,
			    .nslots = 4 * NPAGES,
			    .cache_pages = NPAGES,
			    .sigbus = argc > 1 && !strcmp(argv[1], "--sigbus")};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	int status;
	pid_t pid;

	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map");
	for (size_t i = 0; i < NPAGES; i++)
		if (i % 4 != 3)
			for (size_t b = 0; b < PAGE_SIZE; b++)
				a[i * PAGE_SIZE + b] = (char)snap_byte(i, b);
	for (size_t i = 2; i < NPAGES; i += 4)
		mm_evict_range(mm, a + i * PAGE_SIZE, PAGE_SIZE, true);
	for (size_t i = 1; i < NPAGES; i += 4)
		mm_evict_range(mm, a + i * PAGE_SIZE, PAGE_SIZE, false);
	CHECK(swapped(u) == NPAGES / 2, "swapped %llu",
	      (unsigned long long)swapped(u));

	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		side(u, 1);
		uswap_close(u);
		_exit(0);
	}
	side(u, 2);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child: status %#x", status);
	verify(2, true, "after the child's exit");
	uswap_close(u);
	munmap(a, NPAGES * PAGE_SIZE);
	return 0;
}
