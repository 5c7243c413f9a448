/*
 * Scenario: fork(2) under load.  Three threads increment per-page counters
 * (each page owned by one thread, stamped with its index) under a budget
 * of 24 pages with the reclaimer and a forced-eviction thread running, so
 * that pages are present, cached, stored and in flight at any moment;
 * a mapper thread maps, fills, evicts, checks, splits and unmaps regions
 * of its own all the time (layout changes in flight at the fork);
 * meanwhile the main thread forks NFORKS times.  Each child checks every
 * page of its snapshot (stamp right, counter between the value read before
 * the fork and the value read after it returned in the parent: sent back
 * through a pipe), adds its own increments, forces eviction, re-checks and
 * exits.  The parent's counters always equal its threads' shadow counts
 * (no child write leaks into the parent, nothing is lost), and at the end
 * slots in use match the swapped-out pages and swap_validate is clean.
 * Usage: mm_fork_stress [NFORKS]
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mmtest.h"

#define NPAGES	 256
#define NWORKERS 3

struct pg {
	uint64_t stamp;
	_Atomic uint64_t count;
};

static struct uswap *u;
static char *a;
static _Atomic bool stop;
static uint64_t shadow[NPAGES]; /* written by the page's owner only */

static struct pg *page(size_t i)
{
	return (struct pg *)(a + i * PAGE_SIZE);
}

static void *worker(void *arg)
{
	size_t w = (size_t)(uintptr_t)arg;
	unsigned seed = (unsigned)w + 1;

	while (!atomic_load(&stop)) {
		size_t i = ((size_t)rand_r(&seed) % (NPAGES / NWORKERS)) *
				   NWORKERS +
			   w;
		struct pg *p = page(i);
		uint64_t v;

		if (p->stamp != i + 1)
			FAIL("page %zu: stamp %llu", i,
			     (unsigned long long)p->stamp);
		v = atomic_fetch_add_explicit(&p->count, 1,
					      memory_order_relaxed);
		if (v != shadow[i])
			FAIL("page %zu: count %llu, want %llu", i,
			     (unsigned long long)v,
			     (unsigned long long)shadow[i]);
		shadow[i]++;
	}
	return NULL;
}

static void *evictor(void *arg)
{
	unsigned seed = 99;

	(void)arg;
	while (!atomic_load(&stop)) {
		size_t i = (size_t)rand_r(&seed) % NPAGES;

		mm_evict_range(uswap_mm(u), a + i * PAGE_SIZE, 4 * PAGE_SIZE,
			       i & 1);
		usleep(200);
	}
	return NULL;
}

static void *mapper(void *arg)
{
	unsigned round = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		char *p = uswap_mmap(u, NULL, 16 * PAGE_SIZE, 0);

		if (p == MAP_FAILED)
			FAIL("mapper: uswap_mmap: %s", strerror(errno));
		for (size_t i = 0; i < 16; i++)
			memset(p + i * PAGE_SIZE, (int)(round + i), PAGE_SIZE);
		mm_evict_range(uswap_mm(u), p, 16 * PAGE_SIZE, round & 1);
		if (uswap_unmap(u, p + 4 * PAGE_SIZE, 4 * PAGE_SIZE) < 0)
			FAIL("mapper: split");
		for (size_t i = 0; i < 16; i++)
			if (i / 4 != 1 &&
			    p[i * PAGE_SIZE + 5] != (char)(round + i))
				FAIL("mapper: page %zu: %d", i,
				     p[i * PAGE_SIZE + 5]);
		if (uswap_unmap(u, p, 16 * PAGE_SIZE) < 0)
			FAIL("mapper: unmap");
		round++;
	}
	return NULL;
}

/* The child: report the snapshot, then live its own life. */
static void child(int wfd)
{
	static uint64_t seen[NPAGES];

	for (size_t i = 0; i < NPAGES; i++) {
		if (page(i)->stamp != i + 1) {
			fprintf(stderr, "child: page %zu stamp %llu\n", i,
				(unsigned long long)page(i)->stamp);
			_exit(1);
		}
		seen[i] = atomic_load(&page(i)->count);
	}
	if (write(wfd, seen, sizeof(seen)) != (ssize_t)sizeof(seen))
		_exit(2);
	for (size_t i = 0; i < NPAGES; i++)
		atomic_fetch_add(&page(i)->count, 1000000);
	mm_evict_range(uswap_mm(u), a, NPAGES * PAGE_SIZE, true);
	for (size_t i = 0; i < NPAGES; i++) {
		if (page(i)->stamp != i + 1 ||
		    atomic_load(&page(i)->count) != seen[i] + 1000000) {
			fprintf(stderr,
				"child: page %zu after eviction: "
				"stamp %llu count %llu, want %llu\n",
				i, (unsigned long long)page(i)->stamp,
				(unsigned long long)atomic_load(
					&page(i)->count),
				(unsigned long long)seen[i] + 1000000);
			_exit(3);
		}
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 24,
			    .nslots = 4 * NPAGES,
			    .cache_pages = 6,
			    .threads = 2};
	int nforks = argc > 1 ? atoi(argv[1]) : 12;
	static uint64_t lo[NPAGES], hi[NPAGES], seen[NPAGES];
	pthread_t w[NWORKERS], e, m;
	uint64_t sw = 0;

	c.nslots = 4 * NPAGES + 64;
	u = mt_open(&c);
	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map");
	for (size_t i = 0; i < NPAGES; i++)
		page(i)->stamp = i + 1;
	for (size_t i = 0; i < NWORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&e, NULL, evictor, NULL);
	pthread_create(&m, NULL, mapper, NULL);
	usleep(100000);
	for (int k = 0; k < nforks; k++) {
		int fds[2], status;
		size_t got = 0;
		pid_t pid;

		CHECK(pipe(fds) == 0, "pipe");
		for (size_t i = 0; i < NPAGES; i++)
			lo[i] = atomic_load(&page(i)->count);
		pid = fork();
		CHECK(pid >= 0, "fork %d: %s", k, strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			child(fds[1]);
		}
		for (size_t i = 0; i < NPAGES; i++)
			hi[i] = atomic_load(&page(i)->count);
		close(fds[1]);
		while (got < sizeof(seen)) {
			ssize_t n = read(fds[0], (char *)seen + got,
					 sizeof(seen) - got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fds[0]);
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "fork %d: child status %#x", k, status);
		CHECK(got == sizeof(seen), "fork %d: child sent %zu bytes", k,
		      got);
		for (size_t i = 0; i < NPAGES; i++)
			CHECK(lo[i] <= seen[i] && seen[i] <= hi[i],
			      "fork %d: page %zu: child saw %llu, not in "
			      "[%llu, %llu]",
			      k, i, (unsigned long long)seen[i],
			      (unsigned long long)lo[i],
			      (unsigned long long)hi[i]);
		usleep(20000);
	}
	atomic_store(&stop, true);
	for (size_t i = 0; i < NWORKERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(e, NULL);
	pthread_join(m, NULL);
	for (size_t i = 0; i < NPAGES; i++) {
		CHECK(page(i)->stamp == i + 1 &&
			      atomic_load(&page(i)->count) == shadow[i],
		      "page %zu: stamp %llu count %llu, want %llu", i,
		      (unsigned long long)page(i)->stamp,
		      (unsigned long long)atomic_load(&page(i)->count),
		      (unsigned long long)shadow[i]);
	}
	usleep(100000); /* the reclaimer settles */
	mm_quiesce(uswap_mm(u));
	for (size_t i = 0; i < NPAGES; i++)
		if (pte_is_swap(mt_pte(u, a + i * PAGE_SIZE)))
			sw++;
	CHECK(mt_slots_inuse(u) == sw, "slots %llu, swapped %llu",
	      (unsigned long long)mt_slots_inuse(u), (unsigned long long)sw);
	mt_validate(u);
	printf("fork_stress: %d forks\n", nforks);
	uswap_close(u);
	return 0;
}
