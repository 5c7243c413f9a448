/*
 * Scenario: uswap_adopt, memory the program mapped without uswap made
 * uswap memory with its contents (the `uswap run` shim adopts what was
 * mapped before it started).
 *
 *  1. take: USWAP_ADOPT_PRESENT on 768 written pages, 64 read-only
 *     touched (the zero page) and 192 untouched, under a 64-page budget:
 *     the call reclaims down to the budget; every page keeps its data
 *     through swap-outs, writes and forced eviction; unmap frees every
 *     slot.  Without the take, nothing would be swapped out.
 *  2. plain: without the flag, the pages present stay the program's
 *     (PTE_PLAIN, never evicted, outside the budget) while the untouched
 *     ones interleaved with them become uswap's at their first touch and
 *     are swapped out in windows: a window's drop must cut at every
 *     plain page between its victims (zap.c, pte_droppable), or the
 *     plain page is dropped and reads zero.  A plain page the program
 *     discards reads zero and is uswap's from its next touch.
 *  3. race, 40 rounds: two threads increment per-page counters (half
 *     the pages touched before, half not yet) while the main thread
 *     adopts with the take, then forces evictions; every counter equals
 *     its shadow, every page the kernel maps is the pager's (with the
 *     classification before the registration some would not be), and
 *     after the unmap nothing stays counted.
 *  4. bad ranges: a clear error, nothing changed.
 *
 * Usage: mm_adopt [--sigbus] (faults served in the faulting thread).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "mmtest.h"

/* --sigbus: faults served in the faulting thread (USWAP_F_SIGBUS) */
static bool sigbus_mode;

static char *plain_map(size_t npages)
{
	char *p = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

static uint64_t *word(char *a, size_t page, size_t w)
{
	return (uint64_t *)(a + page * PAGE_SIZE) + w;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return (a > b) - (a < b);
}

/*
 * held_pages - resident + cached pages: the median of 21 looks 2 ms
 * apart (as in mlock_over.c: a look can fall in one of the reclaimer's
 * moments, a page counted twice in passing).
 */
static uint64_t held_pages(struct uswap *u)
{
	const struct timespec nap = {0, 2 * 1000 * 1000};
	uint64_t looks[21];

	mm_quiesce(uswap_mm(u));
	for (int i = 0; i < 21; i++) {
		struct uswap_stats st;

		uswap_stats(u, &st);
		looks[i] = (st.resident + st.cached) / PAGE_SIZE;
		nanosleep(&nap, NULL);
	}
	qsort(looks, 21, sizeof(looks[0]), cmp_u64);
	return looks[10];
}

/* ---- 1. take ---- */

#define T_PAGES	  1024
#define T_WRITTEN 768
#define T_READ	  832 /* [768, 832) read once: the zero page */
#define BUDGET	  64

static void check_take(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .sigbus = sigbus_mode,
			    .budget_pages = BUDGET,
			    .nslots = 2 * T_PAGES,
			    .threads = 2,
			    .cache_pages = 8};
	struct uswap *u = mt_open(&c);
	char *a = plain_map(T_PAGES);
	volatile uint64_t sink = 0;
	struct uswap_stats st;
	uint64_t held;
	int ret;

	for (size_t i = 0; i < T_WRITTEN; i++)
		*word(a, i, 1) = i + 1;
	for (size_t i = T_WRITTEN; i < T_READ; i++)
		sink += *word(a, i, 1);
	(void)sink;
	ret = uswap_adopt(u, a, T_PAGES * PAGE_SIZE, USWAP_ADOPT_PRESENT);
	CHECK(ret == 0, "uswap_adopt: %s", strerror(-ret));
	CHECK(uswap_owns(u, a, T_PAGES * PAGE_SIZE) == 1, "not owned");
	/* the call reclaims; the reclaimer finishes what it could not */
	for (int i = 0; i < 100 && (held = held_pages(u)) > BUDGET; i++)
		;
	uswap_stats(u, &st);
	printf("take: after adopt: %llu pages resident or cached, swapouts "
	       "%llu\n",
	       (unsigned long long)held, (unsigned long long)st.swapouts);
	CHECK(held <= BUDGET,
	      "adopt left %llu pages resident or cached, "
	      "budget %d",
	      (unsigned long long)held, BUDGET);
	CHECK(st.swapouts >= T_READ - 2 * BUDGET,
	      "only %llu swap-outs of %d pages taken",
	      (unsigned long long)st.swapouts, T_READ);
	for (size_t i = 0; i < T_PAGES; i++) {
		uint64_t want = i < T_WRITTEN ? i + 1 : 0;

		CHECK(*word(a, i, 1) == want, "page %zu: %llu, want %llu", i,
		      (unsigned long long)*word(a, i, 1),
		      (unsigned long long)want);
		*word(a, i, 2) = ~i;
	}
	CHECK(mm_evict_range(uswap_mm(u), a, T_PAGES * PAGE_SIZE, true) >= 0,
	      "mm_evict_range");
	for (size_t i = 0; i < T_PAGES; i++)
		CHECK(*word(a, i, 1) == (i < T_WRITTEN ? i + 1 : 0) &&
			      *word(a, i, 2) == ~i,
		      "page %zu after eviction", i);
	mt_validate(u);
	CHECK(uswap_unmap(u, a, T_PAGES * PAGE_SIZE) == 0, "uswap_unmap");
	CHECK(mt_slots_inuse(u) == 0, "%llu slots left after unmap",
	      (unsigned long long)mt_slots_inuse(u));
	uswap_close(u);
	printf("take: ok\n");
}

/* ---- 2. plain ---- */

#define P_PAGES 512

static void check_plain(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .sigbus = sigbus_mode,
			    .budget_pages = BUDGET,
			    .nslots = 2 * P_PAGES,
			    .threads = 2,
			    .cache_pages = 8,
			    .zap_min = 2};
	struct uswap *u = mt_open(&c);
	char *a = plain_map(P_PAGES);
	struct uswap_stats st;
	long ev;
	int ret;

	/* even pages: the program's before the adoption */
	for (size_t i = 0; i < P_PAGES; i += 2)
		*word(a, i, 1) = i + 1;
	ret = uswap_adopt(u, a, P_PAGES * PAGE_SIZE, 0);
	CHECK(ret == 0, "uswap_adopt: %s", strerror(-ret));
	CHECK(mt_pte(u, a) == PTE_PLAIN, "page 0: pte %#llx, want plain",
	      (unsigned long long)mt_pte(u, a));
	CHECK(mt_pte(u, a + PAGE_SIZE) == PTE_NONE, "page 1: pte %#llx",
	      (unsigned long long)mt_pte(u, a + PAGE_SIZE));
	ev = mm_evict_range(uswap_mm(u), a, P_PAGES * PAGE_SIZE, true);
	CHECK(ev == 0, "%ld plain pages evicted", ev);
	/* odd pages: uswap's from their first touch; 4x the budget */
	for (int round = 0; round < 4; round++)
		for (size_t i = 1; i < P_PAGES; i += 2)
			*word(a, i, 1) += i + 1;
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	printf("plain: swapouts %llu, resident %llu pages\n",
	       (unsigned long long)st.swapouts,
	       (unsigned long long)st.resident / PAGE_SIZE);
	CHECK(st.swapouts >= P_PAGES / 2, "only %llu swap-outs",
	      (unsigned long long)st.swapouts);
	for (size_t i = 0; i < P_PAGES; i++) {
		uint64_t want = i % 2 ? 4 * (i + 1) : i + 1;

		CHECK(*word(a, i, 1) == want, "page %zu (%s): %llu, want %llu",
		      i, i % 2 ? "uswap's" : "plain",
		      (unsigned long long)*word(a, i, 1),
		      (unsigned long long)want);
	}
	/* a plain page discarded: zero, then uswap's */
	CHECK(madvise(a, PAGE_SIZE, MADV_DONTNEED) == 0, "madvise");
	CHECK(*word(a, 0, 1) == 0, "discarded plain page reads %llu",
	      (unsigned long long)*word(a, 0, 1));
	*word(a, 0, 1) = 7;
	mm_quiesce(uswap_mm(u));
	CHECK(mt_pte(u, a) == PTE_PRESENT || pte_is_swap(mt_pte(u, a)),
	      "discarded plain page: pte %#llx after its touch",
	      (unsigned long long)mt_pte(u, a));
	/* uswap's: we evict it, or the reclaimer already did (the pte
	 * check above allows it).  Failing with "0 evicted, pte 0": the
	 * page was forgotten (fault.c, signal_fence) */
	ev = mm_evict_range(uswap_mm(u), a, PAGE_SIZE, true);
	CHECK(ev == 1 || (ev == 0 && pte_is_swap(mt_pte(u, a))),
	      "the page is not uswap's: %ld evicted, pte %#llx", ev,
	      (unsigned long long)mt_pte(u, a));
	CHECK(*word(a, 0, 1) == 7, "page 0 after eviction");
	/*
	 * again and again, now that it is uswap's: in the SIGBUS mode the
	 * touch can come between the remove event's read and its
	 * application.  Without the fence (fault.c, signal_fence) 5 runs in
	 * 6 forgot the page, at rounds 42 to 578.
	 */
	for (int k = 0; k < 1000; k++) {
		CHECK(madvise(a, PAGE_SIZE, MADV_DONTNEED) == 0, "madvise");
		*word(a, 0, 1) = 8 + k;
		mm_quiesce(uswap_mm(u));
		ev = mm_evict_range(uswap_mm(u), a, PAGE_SIZE, true);
		CHECK(ev == 1 || (ev == 0 && pte_is_swap(mt_pte(u, a))),
		      "round %d: the page is not uswap's: %ld evicted, pte "
		      "%#llx",
		      k, ev, (unsigned long long)mt_pte(u, a));
		CHECK(*word(a, 0, 1) == 8 + (uint64_t)k, "round %d: reads %llu",
		      k, (unsigned long long)*word(a, 0, 1));
	}
	mt_validate(u);
	CHECK(uswap_unmap(u, a, P_PAGES * PAGE_SIZE) == 0, "uswap_unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots left");
	uswap_close(u);
	printf("plain: ok\n");
}

/* ---- 3. race ---- */

#define R_PAGES	  256
#define R_THREADS 2

struct racer {
	char *a;
	unsigned id;
	atomic_int *phase; /* 0: even pages only; 1: all; 2: stop */
	uint64_t shadow[R_PAGES];
};

static void racer_add(struct racer *r, size_t p)
{
	/*
	 * The other thread's word is on the same page.  Relaxed: TSan holds
	 * its thread's slot across an atomic read-modify-write of any
	 * stronger order (tsan_interface_atomic.cpp, AtomicRMW), so one that
	 * faults to a handler holds it while it waits; when TSan's periodic
	 * slot reset comes, the handler waits for that slot, and all hang
	 * (stress-adopt under TSan in CI, stop 15: 1 run in 4 under CPU load
	 * by hand; relaxed, 0 in 60).
	 */
	atomic_fetch_add_explicit((_Atomic uint64_t *)word(r->a, p, r->id), 1,
				  memory_order_relaxed);
	r->shadow[p]++;
}

/*
 * Until the main thread is about to adopt, touch the even pages only;
 * then sweep the odd ones (thread 0 up, thread 1 down: their first
 * touches, kernel faults before the registration and uffd faults after,
 * meet the adoption), then go random over all.
 */
static void *racer_main(void *arg)
{
	struct racer *r = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (r->id + 1);
	int phase;

	while ((phase = atomic_load(r->phase)) != 2) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (phase == 0) {
			racer_add(r, (x % (R_PAGES / 2)) * 2);
			continue;
		}
		for (size_t i = 0; i < R_PAGES / 2; i++)
			racer_add(r, r->id ? R_PAGES - 1 - 2 * i : 2 * i + 1);
		while (atomic_load(r->phase) != 2) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			racer_add(r, x % R_PAGES);
		}
	}
	return NULL;
}

/*
 * Once the racers are stopped and the handlers done (while they run, a
 * page is installed a moment before its pte says so): every page the
 * kernel maps in the range is the pager's: present,
 * swapped (a window in flight) or poisoned, never none or plain (a page
 * first touched between the classification and the registration would
 * be, had they come in the other order: present, uncounted, never
 * evicted).
 */
static void check_all_known(struct uswap *u, char *a, unsigned round)
{
	uint64_t ents[R_PAGES];
	int fd = open("/proc/self/pagemap", O_RDONLY);

	CHECK(fd >= 0, "open pagemap");
	CHECK(pread(fd, ents, sizeof(ents),
		    (off_t)((uintptr_t)a / PAGE_SIZE * 8)) == sizeof(ents),
	      "pread pagemap");
	close(fd);
	for (size_t p = 0; p < R_PAGES; p++) {
		uint64_t pte = mt_pte(u, a + p * PAGE_SIZE);

		CHECK(!(ents[p] >> 63) || (pte != PTE_NONE && pte != PTE_PLAIN),
		      "round %u: page %zu present, pte %#llx: not the "
		      "pager's",
		      round, p, (unsigned long long)pte);
	}
}

/*
 * One round: the racers start on a fresh plain mapping (its even pages
 * present), the adoption meets their first touches of the odd ones, then
 * forced evictions; every counter must equal its shadow, and once the
 * range is unmapped nothing may stay counted.
 */
static void race_round(struct uswap *u, unsigned round)
{
	const struct timespec tick = {0, 2 * 1000 * 1000};
	static struct racer rs[R_THREADS];
	char *a = plain_map(R_PAGES);
	pthread_t th[R_THREADS];
	atomic_int phase = 0;
	struct uswap_stats st;
	int ret;

	for (size_t i = 0; i < R_PAGES; i += 2)
		*word(a, i, 7) = i; /* present before; word 7 untouched after */
	for (unsigned t = 0; t < R_THREADS; t++) {
		rs[t] = (struct racer){.a = a, .id = t, .phase = &phase};
		CHECK(pthread_create(&th[t], NULL, racer_main, &rs[t]) == 0,
		      "pthread_create");
	}
	nanosleep(&tick, NULL);
	atomic_store(&phase, 1);
	ret = uswap_adopt(u, a, R_PAGES * PAGE_SIZE, USWAP_ADOPT_PRESENT);
	CHECK(ret == 0, "uswap_adopt: %s", strerror(-ret));
	for (int i = 0; i < 8; i++) {
		nanosleep(&tick, NULL);
		CHECK(mm_evict_range(uswap_mm(u), a + (i % 4) * 64 * PAGE_SIZE,
				     64 * PAGE_SIZE, i % 2) >= 0,
		      "mm_evict_range");
	}
	atomic_store(&phase, 2);
	for (unsigned t = 0; t < R_THREADS; t++)
		pthread_join(th[t], NULL);
	for (size_t p = 0; p < R_PAGES; p++) {
		for (unsigned t = 0; t < R_THREADS; t++)
			CHECK(*word(a, p, t) == rs[t].shadow[p],
			      "round %u page %zu thread %u: %llu increments, "
			      "shadow %llu",
			      round, p, t, (unsigned long long)*word(a, p, t),
			      (unsigned long long)rs[t].shadow[p]);
		CHECK(*word(a, p, 7) == (p % 2 ? 0 : p), "page %zu word 7", p);
	}
	mm_quiesce(uswap_mm(u));
	check_all_known(u, a, round);
	mt_validate(u);
	CHECK(uswap_unmap(u, a, R_PAGES * PAGE_SIZE) == 0, "uswap_unmap");
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	CHECK(st.resident == 0 && st.cached == 0 && mt_slots_inuse(u) == 0,
	      "round %u: after unmap, resident %llu cached %llu bytes, "
	      "%llu slots",
	      round, (unsigned long long)st.resident,
	      (unsigned long long)st.cached,
	      (unsigned long long)mt_slots_inuse(u));
}

static void check_race(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .sigbus = sigbus_mode,
			    .budget_pages = 32,
			    .nslots = 2 * R_PAGES,
			    .threads = 2,
			    .cache_pages = 4,
			    .zap_min = 2};
	struct uswap *u = mt_open(&c);
	struct uswap_stats st;

	for (unsigned round = 0; round < 40; round++)
		race_round(u, round);
	uswap_stats(u, &st);
	printf("race: 40 rounds, swapouts %llu, swapins %llu: ok\n",
	       (unsigned long long)st.swapouts, (unsigned long long)st.swapins);
	uswap_close(u);
}

/* ---- 4. bad ranges ---- */

static void expect(struct uswap *u, void *p, size_t len, unsigned flags,
		   int want, const char *what)
{
	int ret = uswap_adopt(u, p, len, flags);

	CHECK(ret == want, "%s: uswap_adopt gave %d (%s), want %d (%s)", what,
	      ret, strerror(-ret), want, strerror(-want));
	if (want < 0 && want != -EEXIST && len && !((uintptr_t)p % PAGE_SIZE))
		CHECK(uswap_owns(u, p, len) == 0, "%s: adopted anyway", what);
}

static void check_errors(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .sigbus = sigbus_mode,
			    .budget_pages = BUDGET,
			    .nslots = 256,
			    .threads = 1};
	struct uswap *u = mt_open(&c);
	char *a = plain_map(4), *ro, *sh, *file, *m;
	int fd = open("/proc/self/exe", O_RDONLY);
	char local;

	expect(u, a + 1, PAGE_SIZE, 0, -EINVAL, "unaligned");
	expect(u, a, 0, 0, -EINVAL, "empty");
	expect(u, a, PAGE_SIZE, 2, -EINVAL, "unknown flag");
	ro = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	expect(u, ro, PAGE_SIZE, 0, -EINVAL, "read-only");
	sh = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	expect(u, sh, PAGE_SIZE, 0, -EINVAL, "shared");
	CHECK(fd >= 0, "open /proc/self/exe");
	file = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		    0);
	CHECK(file != MAP_FAILED, "mmap exe: %s", strerror(errno));
	expect(u, file, PAGE_SIZE, 0, -EINVAL, "file-backed");
	expect(u, (void *)((uintptr_t)&local & ~(uintptr_t)(PAGE_SIZE - 1)),
	       PAGE_SIZE, 0, -EINVAL, "the stack");
	CHECK(munmap(a + PAGE_SIZE, PAGE_SIZE) == 0, "munmap");
	expect(u, a, 3 * PAGE_SIZE, 0, -ENOMEM, "a hole");
	/* two pages of uswap memory and a plain one after them */
	m = plain_map(3);
	CHECK(uswap_mmap(u, m, 2 * PAGE_SIZE, MAP_FIXED) == m, "uswap_mmap");
	expect(u, m, PAGE_SIZE, 0, -EEXIST, "uswap memory");
	expect(u, m + PAGE_SIZE, 2 * PAGE_SIZE, 0, -EEXIST, "half uswap's");
	expect(u, m + 2 * PAGE_SIZE, PAGE_SIZE, 0, 0, "next to a region");
	CHECK(uswap_owns(u, m + 2 * PAGE_SIZE, PAGE_SIZE) == 1, "not owned");
	CHECK(uswap_unmap(u, m, 3 * PAGE_SIZE) == 0, "uswap_unmap");
	uswap_close(u);
	printf("errors: ok\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF,
		0); /* what ran, should a signal kill us */
	sigbus_mode = argc > 1 && !strcmp(argv[1], "--sigbus");
	printf("faults served %s\n",
	       sigbus_mode ? "in the faulting thread (--sigbus)"
			   : "by handler threads");
	check_errors();
	check_take();
	check_plain();
	check_race();
	printf("PASS\n");
	return 0;
}
