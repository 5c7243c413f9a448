/*
 * race_bench - what each swap-in policy costs when threads fault on the
 * same entry at once (issue 5; a benchmark, not a test).  One run = one
 * scenario under one policy; bench/race-bench.sh runs every policy side by
 * side, several times, and writes docs/race.md's table and plot.
 *
 * usage: race_bench SCENARIO POLICY [--threads N] [--handlers H]
 *                   [--pages P] [--ms MS] [--budget PAGES] [--sigbus 1]
 *                   [--read-delay-us US]
 *
 * storm  P pages (default 16) are swapped out to the compressed device,
 *        then N threads (default 8) touch every page in the same order (an
 *        atomic add on their own word of the page), meeting at a barrier
 *        before each page, so that every page is a same-entry fault storm
 *        of N threads on H handler threads (default 4).  Rounds repeat until MS ms
 *        (default 1000) of storm time have passed.  No reclaimer, no
 *        readahead: every page is its own race.  Latency: every storm access
 *        (each one touches a just-evicted page: it faults, or it waits for a
 *        racing fault to install the page).  Throughput: swap-ins per second
 *        of storm time; CPU: process CPU time (every thread: faulting
 *        threads, handlers) per swap-in, during storms only.
 * mixed  N threads (default 4) for MS ms access random pages of a region
 *        of P pages (default 512), 3/4 of them in a hot set of 32 pages,
 *        one in four a write (an atomic add on the thread's own word), with
 *        a budget of 64 pages and the background reclaimer on: hot pages
 *        cycle through the swap device and several threads meet on them.
 *        H handler threads (default 2).  Latency: the accesses that took
 *        more than 2 us (those that faulted: a resident access takes well
 *        under 1 us).  Throughput: accesses per second.
 *
 * --sigbus 1: USWAP_F_SIGBUS, every fault is served in the faulting thread's
 * SIGBUS handler, as the kernel serves it in the faulting task: the loser's
 * wait (or its immediate re-fault) is then the faulting thread's own.
 *
 * --read-delay-us US: every device read takes US microseconds more (a
 * sleep in the MM_HOOK_SWAPIN_AFTER_READ hook; test builds): a slower
 * device, and the reproducer's brd mdelay(1), so that storms really meet.
 *
 * Output: one line "RESULT key=value ..." (the script parses it), after
 * checking every page: the stamp and each thread's word (a lost update or
 * a misload is counted in `lost`; only `unsafe` may lose).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "mm/internal.h"

#define MAX_THREADS 64
#define HOT	    32
#define SLOW_NS	    2000 /* mixed: an access slower than this faulted */

struct lat {
	uint64_t *ns;
	size_t n, cap;
};

static struct {
	const char *scenario;
	enum swapin_policy policy;
	unsigned threads, handlers;
	size_t pages, budget;
	long ms;
	bool sigbus; /* faults served in the faulting thread (in-thread) */
	long read_delay_us; /* added to every device read (test hooks) */
} cfg;

static struct uswap *u;
static char *region;
static pthread_barrier_t start_bar, end_bar, page_bar;
static _Atomic bool stop;
static _Atomic long lost;
static struct lat lats[MAX_THREADS];
static uint64_t (*shadow)[MAX_THREADS]; /* mixed: [page][thread] adds */
static _Atomic uint64_t accesses;

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		l->ns = realloc(l->ns, l->cap * sizeof(*l->ns));
		if (!l->ns) {
			fprintf(stderr, "race_bench: out of memory\n");
			exit(1);
		}
	}
	l->ns[l->n++] = ns;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* word 0: the page's stamp; word 1 + t: thread t's counter */
static _Atomic uint64_t *word(size_t page, unsigned w)
{
	return (_Atomic uint64_t *)(region + page * PAGE_SIZE) + w;
}

/* One access: check the stamp, add to our word; return its latency. */
static uint64_t access_page(size_t i, unsigned t, bool write)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), d;

	if (atomic_load_explicit(word(i, 0), memory_order_relaxed) != i + 1)
		atomic_fetch_add(&lost, 1);
	if (write)
		atomic_fetch_add_explicit(word(i, 1 + t), 1,
					  memory_order_relaxed);
	d = now_ns(CLOCK_MONOTONIC) - t0;
	atomic_fetch_add_explicit(&accesses, 1, memory_order_relaxed);
	return d;
}

static void *storm_thread(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;

	for (;;) {
		pthread_barrier_wait(&start_bar);
		if (atomic_load(&stop))
			return NULL;
		for (size_t i = 0; i < cfg.pages; i++) {
			/* all N threads on page i at once: a real storm */
			pthread_barrier_wait(&page_bar);
			lat_add(&lats[t], access_page(i, t, true));
		}
		pthread_barrier_wait(&end_bar);
	}
}

static void *mixed_thread(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint64_t s = 0x9e3779b97f4a7c15ULL * (t + 1);

	pthread_barrier_wait(&start_bar);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t r = rnd(&s), d;
		size_t i = (r & 3) ? (r >> 8) % HOT : (r >> 8) % cfg.pages;
		bool write = ((r >> 4) & 3) == 0;

		d = access_page(i, t, write);
		if (write)
			shadow[i][t]++;
		if (d > SLOW_NS)
			lat_add(&lats[t], d);
	}
	return NULL;
}

#ifdef USWAP_TEST_HOOKS
/*
 * A slower device: every swap-in's read takes read_delay_us more (a sleep,
 * so other threads run meanwhile and meet on the entry).  The kernel
 * thread's reproducer did the same with an mdelay(1) in brd's read path
 * (kernel-swap-history.md section 2.7).
 */
static void delay_hook(enum mm_hook_point point, swp_entry_t entry)
{
	struct timespec ts = {0, cfg.read_delay_us * 1000};

	(void)entry;
	if (point == MM_HOOK_SWAPIN_AFTER_READ)
		nanosleep(&ts, NULL);
}
#endif

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_policy(const char *name, enum swapin_policy *p)
{
	for (int i = 0; i < SWAPIN_NR_POLICIES; i++) {
		if (!strcmp(swapin_policy_name((enum swapin_policy)i), name)) {
			*p = (enum swapin_policy)i;
			return 0;
		}
	}
	return -1;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s storm|mixed POLICY [--threads N] [--handlers H] "
		"[--pages P] [--ms MS] [--budget PAGES] [--sigbus 1] "
		"[--read-delay-us US]\n",
		prog);
	exit(2);
}

static void open_uswap(void)
{
	struct uswap_options opt;
	struct mm_params mp;
	int ret;

	memset(&opt, 0, sizeof(opt));
	strcpy(opt.device, "zram");
	opt.policy = cfg.policy;
	opt.threads = cfg.handlers;
	opt.budget = cfg.budget * PAGE_SIZE;
	uswap_default_params(&opt, &mp);
	if (!strcmp(cfg.scenario, "storm")) {
		mp.no_reclaimer = true;
		mp.readahead_pages = 1;
		mp.cache_pages = 0;
	}
	mp.read_batch = 1; /* one message per read: storms reach handlers */
	mp.sigbus = cfg.sigbus;
	ret = uswap_open_params(&opt, &mp, (uint32_t)(cfg.pages + 64), &u);
	if (ret < 0) {
		fprintf(stderr, "race_bench: uswap_open_params: %s\n",
			strerror(-ret));
		exit(ret == -EPERM || ret == -ENOSYS ? 77 : 1);
	}
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	uint64_t storm_ns = 0, cpu_ns = 0, rounds = 0, t0, c0;
	struct uswap_stats st;
	struct lat all = {0};
	bool storm;

	if (argc < 3)
		usage(argv[0]);
	cfg.scenario = argv[1];
	storm = !strcmp(cfg.scenario, "storm");
	if (!storm && strcmp(cfg.scenario, "mixed"))
		usage(argv[0]);
	if (parse_policy(argv[2], &cfg.policy)) {
		fprintf(stderr, "race_bench: unknown policy %s\n", argv[2]);
		return 2;
	}
	cfg.threads = storm ? 8 : 4;
	cfg.handlers = storm ? 4 : 2;
	cfg.pages = storm ? 16 : 512;
	cfg.budget = storm ? 4 * cfg.pages + 64 : 64;
	cfg.ms = 1000;
	for (int i = 3; i + 1 < argc; i += 2) {
		long v = strtol(argv[i + 1], NULL, 0);

		if (v <= 0)
			usage(argv[0]);
		if (!strcmp(argv[i], "--threads"))
			cfg.threads = (unsigned)v;
		else if (!strcmp(argv[i], "--handlers"))
			cfg.handlers = (unsigned)v;
		else if (!strcmp(argv[i], "--pages"))
			cfg.pages = (size_t)v;
		else if (!strcmp(argv[i], "--ms"))
			cfg.ms = v;
		else if (!strcmp(argv[i], "--budget"))
			cfg.budget = (size_t)v;
		else if (!strcmp(argv[i], "--sigbus"))
			cfg.sigbus = v != 0;
		else if (!strcmp(argv[i], "--read-delay-us"))
			cfg.read_delay_us = v < 1000000 ? v : 999999;
		else
			usage(argv[0]);
	}
	if (cfg.threads > MAX_THREADS || cfg.threads + 1 > PAGE_SIZE / 8 ||
	    (!storm && cfg.pages < HOT))
		usage(argv[0]);

	open_uswap();
	if (cfg.read_delay_us) {
#ifdef USWAP_TEST_HOOKS
		mm_set_hook(delay_hook);
#else
		fprintf(stderr, "race_bench: --read-delay-us needs a build "
				"with -Dtest_hooks=true\n");
		return 2;
#endif
	}
	region = uswap_map(u, cfg.pages * PAGE_SIZE);
	if (!region) {
		fprintf(stderr, "race_bench: uswap_map: %s\n", strerror(errno));
		return 1;
	}
	shadow = calloc(cfg.pages, sizeof(*shadow));
	for (size_t i = 0; i < cfg.pages; i++)
		atomic_store(word(i, 0), i + 1);
	pthread_barrier_init(&start_bar, NULL, cfg.threads + 1);
	pthread_barrier_init(&end_bar, NULL, cfg.threads + 1);
	pthread_barrier_init(&page_bar, NULL, cfg.threads);
	for (unsigned t = 0; t < cfg.threads; t++)
		pthread_create(&th[t], NULL,
			       storm ? storm_thread : mixed_thread,
			       (void *)(uintptr_t)t);

	if (storm) {
		while (storm_ns < (uint64_t)cfg.ms * 1000000ULL || rounds < 3) {
			mm_evict_range(uswap_mm(u), region,
				       cfg.pages * PAGE_SIZE, true);
			mm_quiesce(uswap_mm(u));
			t0 = now_ns(CLOCK_MONOTONIC);
			c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
			pthread_barrier_wait(&start_bar);
			pthread_barrier_wait(&end_bar);
			storm_ns += now_ns(CLOCK_MONOTONIC) - t0;
			cpu_ns += now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
			rounds++;
		}
		atomic_store(&stop, true);
		pthread_barrier_wait(&start_bar);
	} else {
		struct timespec ts = {cfg.ms / 1000,
				      (cfg.ms % 1000) * 1000000L};

		t0 = now_ns(CLOCK_MONOTONIC);
		c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
		pthread_barrier_wait(&start_bar);
		nanosleep(&ts, NULL);
		atomic_store(&stop, true);
		for (unsigned t = 0; t < cfg.threads; t++)
			pthread_join(th[t], NULL);
		storm_ns = now_ns(CLOCK_MONOTONIC) - t0;
		cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
		rounds = 1;
	}
	if (storm)
		for (unsigned t = 0; t < cfg.threads; t++)
			pthread_join(th[t], NULL);
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);

	/* every thread's word must hold its number of adds */
	for (size_t i = 0; i < cfg.pages; i++) {
		for (unsigned t = 0; t < cfg.threads; t++) {
			uint64_t want = storm ? rounds : shadow[i][t];

			if (atomic_load(word(i, 1 + t)) != want)
				atomic_fetch_add(&lost, 1);
		}
	}
	for (unsigned t = 0; t < cfg.threads; t++)
		for (size_t k = 0; k < lats[t].n; k++)
			lat_add(&all, lats[t].ns[k]);
	qsort(all.ns, all.n, sizeof(*all.ns), cmp_u64);
	{
		struct mm *mm = uswap_mm(u);
		double secs = (double)storm_ns / 1e9;
		double swapins = st.swapins ? (double)st.swapins : 1;
		uint64_t p50 = all.n ? all.ns[all.n / 2] : 0;
		uint64_t p99 = all.n ? all.ns[all.n * 99 / 100] : 0;
		uint64_t max = all.n ? all.ns[all.n - 1] : 0;

		printf("RESULT scenario=%s%s policy=%s threads=%u handlers=%u "
		       "pages=%zu rounds=%llu accesses=%llu timed=%zu "
		       "swapins=%llu faults=%llu repeat=%llu loser_waits=%llu "
		       "lost=%ld repeat_per_swapin=%.3f faults_per_swapin=%.3f "
		       "p50_us=%.1f p99_us=%.1f max_us=%.1f wall_s=%.3f "
		       "swapins_per_s=%.0f accesses_per_s=%.0f "
		       "cpu_us_per_swapin=%.1f cpu_util=%.2f\n",
		       cfg.scenario, cfg.sigbus ? "-sigbus" : "",
		       swapin_policy_name(cfg.policy), cfg.threads,
		       cfg.handlers, cfg.pages, (unsigned long long)rounds,
		       (unsigned long long)atomic_load(&accesses), all.n,
		       (unsigned long long)st.swapins,
		       (unsigned long long)st.faults,
		       (unsigned long long)st.faults_repeat,
		       (unsigned long long)atomic_load(&mm->stats.loser_waits),
		       (long)atomic_load(&lost),
		       (double)st.faults_repeat / swapins,
		       (double)st.faults / swapins, (double)p50 / 1e3,
		       (double)p99 / 1e3, (double)max / 1e3, secs,
		       (double)st.swapins / secs,
		       (double)atomic_load(&accesses) / secs,
		       (double)cpu_ns / 1e3 / swapins,
		       (double)cpu_ns / (double)storm_ns);
	}
#ifdef USWAP_TEST_HOOKS
	mm_set_hook(NULL);
#endif
	uswap_unmap(u, region, cfg.pages * PAGE_SIZE);
	uswap_close(u);
	free(all.ns);
	for (unsigned t = 0; t < cfg.threads; t++)
		free(lats[t].ns);
	free(shadow);
	return 0;
}
