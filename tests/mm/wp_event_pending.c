/*
 * Scenario: a write to a write-protected page is served while a remove
 * event is pending, and the kernel refuses the un-protect (EAGAIN,
 * mmap_changing).  The writer must be woken once the event is applied and
 * get its write through (src/mm/fault.c, do_wp_page, has the race).
 *
 * Page P is present and write-protected, as a window eviction that backed
 * off leaves it when its own un-protect was refused (zap.c): the test
 * write-protects it itself.  One handler thread, no reclaimer.  Thread W
 * writes P.  When the handler serves W's write fault (hook
 * MM_HOOK_WP_FAULT, once), thread D discards page Q (MADV_DONTNEED),
 * and the hook waits until D sleeps in madvise: its remove event is
 * queued, and only this handler can read it, so it is still pending when
 * the handler un-protects P.  Then:
 *   - W's write must land within 5 s (ignoring the EAGAIN left W asleep
 *     for good: python3 under `uswap run` hung so in CI);
 *   - the refusal really happened (stats.wp_again);
 *   - Q reads zero, P holds W's value, the other pages their stamps.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES 8
#define P      1
#define Q      5

static char *a;
static _Atomic int hooked, discard_go, written;
static _Atomic pid_t discarder_tid;

#ifdef USWAP_TEST_HOOKS
/*
 * Whether thread @tid sleeps in madvise(2): D's madvise queues its event
 * and then sleeps until it is read (state D: the kernel waits killable).
 */
static bool sleeps_in_madvise(pid_t tid)
{
	char path[64], buf[256];
	long nr = -1;
	char state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
			state = strrchr(buf, ')')[2];
		fclose(f);
	}
	return nr == SYS_madvise && (state == 'S' || state == 'D');
}

/*
 * On the handler, before do_wp_page's pte lock: let D's event in first,
 * and wait until D sleeps on it (5 s at most: the checks say what failed).
 */
static void wp_hook(enum mm_hook_point point, swp_entry_t entry)
{
	(void)entry;
	if (point != MM_HOOK_WP_FAULT || atomic_exchange(&hooked, 1))
		return;
	atomic_store(&discard_go, 1);
	for (int ms = 0; ms < 5000; ms++) {
		pid_t tid = atomic_load(&discarder_tid);

		if (tid && sleeps_in_madvise(tid))
			break;
		mt_sleep_ms(1);
	}
}
#endif

static void *discarder(void *arg)
{
	(void)arg;
	atomic_store(&discarder_tid, (pid_t)syscall(SYS_gettid));
	while (!atomic_load(&discard_go))
		mt_sleep_ms(1);
	CHECK(madvise(a + Q * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED) == 0,
	      "madvise: %s", strerror(errno));
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	*(volatile uint64_t *)(a + P * PAGE_SIZE) = 42;
	atomic_store(&written, 1);
	return NULL;
}

int main(void)
{
#ifndef USWAP_TEST_HOOKS
	fprintf(stderr, "SKIP: needs a build with test hooks\n");
	return 77;
#else
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 64,
			    .threads = 1,
			    .cache_pages = 8,
			    .no_reclaimer = true};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	pthread_t w, d;
	int ms;

	a = mt_map_wp_left(u, NPAGES, P);
	mm_set_hook(wp_hook);
	CHECK(pthread_create(&d, NULL, discarder, NULL) == 0, "thread");
	CHECK(pthread_create(&w, NULL, writer, NULL) == 0, "thread");
	for (ms = 0; ms < 5000 && !atomic_load(&written); ms += 10)
		mt_sleep_ms(10);
	CHECK(atomic_load(&hooked), "the write raised no write-protect fault");
	CHECK(atomic_load(&written),
	      "the writer of P still sleeps after 5 s (%llu un-protects "
	      "refused)",
	      (unsigned long long)atomic_load(&mm->stats.wp_again));
	pthread_join(w, NULL);
	pthread_join(d, NULL);
	mm_set_hook(NULL);
	printf("the write landed after %d ms; un-protects refused while the "
	       "event was pending: %llu\n",
	       ms, (unsigned long long)atomic_load(&mm->stats.wp_again));
	CHECK(atomic_load(&mm->stats.wp_again) > 0,
	      "the un-protect was never refused: the race was not met");
	for (size_t i = 0; i < NPAGES; i++) {
		uint64_t *p = (uint64_t *)(a + i * PAGE_SIZE);

		if (i == Q)
			CHECK(p[0] == 0 && p[1] == 0,
			      "Q after its discard: %llu %llu",
			      (unsigned long long)p[0],
			      (unsigned long long)p[1]);
		else
			CHECK(p[0] == (i == P ? 42u : 0u) && p[1] == i + 1,
			      "page %zu: %llu %llu", i,
			      (unsigned long long)p[0],
			      (unsigned long long)p[1]);
	}
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	return 0;
#endif
}
