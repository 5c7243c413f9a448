/*
 * Scenario: what the budget counts covers every page the region really
 * has, also while a window eviction (src/mm/zap.c) is under way.  A window
 * takes its victims off the LRU, write-protects and copies them, and only
 * then publishes them to the swap cache and drops them; until 2026-11-26
 * those pages were in neither count (resident: the LRU; cached: the swap
 * cache) while still mapped, so faults went on past the budget during
 * every window and the next one had to reclaim the whole window directly.
 * Now they are counted isolated (part of `resident` in the statistics).
 *
 * How: a hook runs in the reclaimer when a window publishes its first
 * page, while the program thread sleeps (no fault in flight): then every
 * page the region has present (/proc/self/pagemap) must be counted
 * resident (none of the window's is cached yet), but for at most one
 * install per handler thread still finishing.  The old count missed the
 * whole window: 35-46 pages here.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES 1024

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (a reclaim hook)\n");
	return 77;
}
#else
static struct uswap *u;
static char *region;
static int pagemap_fd;
/* odd while the program thread sleeps (no fault in flight), even else */
static atomic_long pause_no;
static atomic_long samples, worst = -NPAGES;
static uint64_t last_window; /* the hook's (the reclaimer thread's) */

static long region_present(void)
{
	static uint64_t ent[NPAGES];
	long n = 0;

	if (pread(pagemap_fd, ent, sizeof(ent),
		  (off_t)((uintptr_t)region / PAGE_SIZE * sizeof(ent[0]))) !=
	    (ssize_t)sizeof(ent))
		return -1;
	for (size_t i = 0; i < NPAGES; i++)
		n += (ent[i] >> 63) & 1;
	return n;
}

static void hook(enum mm_hook_point point, swp_entry_t entry)
{
	struct uswap_stats st;
	long present, over, p0;

	(void)entry;
	/* a window's first page published (zap_windows counts it after) */
	if (point != MM_HOOK_RECLAIM_AFTER_UNMAP ||
	    !atomic_load(&uswap_mm(u)->zap_inflight) ||
	    atomic_load(&uswap_mm(u)->stats.zap_windows) == last_window)
		return;
	last_window = atomic_load(&uswap_mm(u)->stats.zap_windows);
	p0 = atomic_load(&pause_no);
	if (!(p0 & 1))
		return;
	uswap_stats(u, &st);
	present = region_present();
	/* the whole sample inside one pause (a loaded machine may not) */
	if (present < 0 || atomic_load(&pause_no) != p0)
		return;
	over = present - (long)(st.resident / PAGE_SIZE);
	if (over > atomic_load(&worst))
		atomic_store(&worst, over);
	atomic_fetch_add(&samples, 1);
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 256,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 32,
			    .zap_min = 2};
	const struct timespec nap = {0, 3 * 1000 * 1000};
	struct mm *mm;
	unsigned seed = 11;

	u = mt_open(&c);
	mm = uswap_mm(u);
	region = uswap_map(u, NPAGES * PAGE_SIZE);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	CHECK(region, "uswap_map: %s", strerror(errno));
	CHECK(pagemap_fd >= 0, "/proc/self/pagemap: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(region + i * PAGE_SIZE))[1] = i;
	mm_set_hook(hook);
	for (int round = 0; round < 1500 && atomic_load(&samples) < 30;
	     round++) {
		for (int k = 0; k < 64; k++) {
			size_t i = (size_t)rand_r(&seed) % NPAGES;
			uint64_t *p = (uint64_t *)(region + i * PAGE_SIZE);

			CHECK(p[1] == i, "page %zu: stamp %llu", i,
			      (unsigned long long)p[1]);
			p[0]++;
		}
		/* the reclaimer works the budget down meanwhile */
		atomic_fetch_add(&pause_no, 1);
		nanosleep(&nap, NULL);
		atomic_fetch_add(&pause_no, 1);
	}
	mm_set_hook(NULL);
	mm_quiesce(mm);
	printf("windows %llu, samples %ld, region pages present beyond "
	       "resident: at most %ld\n",
	       (unsigned long long)atomic_load(&mm->stats.zap_windows),
	       (long)atomic_load(&samples), (long)atomic_load(&worst));
	if (!mm->p.wp_evict) {
		printf("SKIP: no window eviction here (Linux < 6.11?)\n");
		return 77;
	}
	CHECK(atomic_load(&samples) > 0, "no window published while paused");
	/*
	 * A handler counts its install after the UFFDIO_COPY has woken the
	 * faulter (swapin_install_locked): one page per handler may be
	 * present and not yet counted when the program pauses.
	 */
	CHECK(atomic_load(&worst) <= (long)c.threads,
	      "%ld pages present but counted nowhere: past the budget",
	      (long)atomic_load(&worst));
	CHECK(uswap_unmap(u, region, NPAGES * PAGE_SIZE) == 0, "unmap");
	mt_validate(u);
	uswap_close(u);
	close(pagemap_fd);
	return 0;
}
#endif
