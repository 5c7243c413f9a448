/*
 * Scenario: handler spin (fault.c, handler_wait).  While one program
 * thread faults, the reading handler catches most events while it polls;
 * while nothing faults, it sleeps and the process uses almost no CPU;
 * while two threads fault, it does not poll.  Every page read back is right.
 *
 * The window's ceiling is raised to 20 ms (the default is 100 us) so that
 * a slow run (TSan, a loaded CI machine), whose faults come further apart,
 * still sees the spin catch them: the test checks what the spin does, not
 * how fast it is.
 */
#include <pthread.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES 512

static char *region;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Read pages [lo, hi) back, @rounds times; each holds its index. */
static void read_back(size_t lo, size_t hi, int rounds)
{
	for (int round = 0; round < rounds; round++)
		for (size_t i = lo; i < hi; i++)
			CHECK(((volatile uint64_t *)(region +
						     i * PAGE_SIZE))[0] == i,
			      "page %zu reads %llu", i,
			      (unsigned long long)((
				      uint64_t *)(region + i * PAGE_SIZE))[0]);
}

struct half {
	size_t lo, hi;
};

static void *toucher(void *arg)
{
	struct half *h = arg;

	read_back(h->lo, h->hi, 20);
	return NULL;
}

struct waits {
	uint64_t caught, slept;
};

static struct waits waits_now(struct mm *mm)
{
	return (struct waits){atomic_load(&mm->stats.spin_caught),
			      atomic_load(&mm->stats.spin_slept)};
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64, /* every pass faults */
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .adaptive_handlers = true,
			    .spin_max_ns = 20 * 1000 * 1000};
	struct uswap *u = mt_open(&c);
	struct mm *mm = uswap_mm(u);
	struct waits w0, w1, w2;
	struct half h[2];
	pthread_t t[2];
	int64_t cpu0, cpu1;

	region = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(region, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		((uint64_t *)(region + i * PAGE_SIZE))[0] = i;

	/* one program thread */
	w0 = waits_now(mm);
	read_back(0, NPAGES, 4);
	w1 = waits_now(mm);
	printf("one thread: %llu waits caught polling, %llu slept\n",
	       (unsigned long long)(w1.caught - w0.caught),
	       (unsigned long long)(w1.slept - w0.slept));
	CHECK(w1.caught - w0.caught > w1.slept - w0.slept,
	      "one program thread: %llu waits caught polling, %llu slept: "
	      "the handler does not spin",
	      (unsigned long long)(w1.caught - w0.caught),
	      (unsigned long long)(w1.slept - w0.slept));

	/*
	 * nothing faults after one thread did (the handler's last wait
	 * began polling): at most one window (20 ms) of polling
	 */
	sleep_ms(50);
	cpu0 = cpu_ns();
	sleep_ms(300);
	cpu1 = cpu_ns();
	printf("idle: %.1f ms of CPU in 300 ms\n", (cpu1 - cpu0) / 1e6);
	CHECK(cpu1 - cpu0 < 100 * 1000 * 1000,
	      "idle for 300 ms: the process used %.1f ms of CPU: a handler "
	      "polls with nothing to wait for",
	      (cpu1 - cpu0) / 1e6);

	/* two program threads */
	for (int i = 0; i < 2; i++) {
		h[i] = (struct half){i * NPAGES / 2, (i + 1) * NPAGES / 2};
		pthread_create(&t[i], NULL, toucher, &h[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	w2 = waits_now(mm);
	printf("two threads: %llu waits caught polling, %llu slept\n",
	       (unsigned long long)(w2.caught - w1.caught),
	       (unsigned long long)(w2.slept - w1.slept));
	/*
	 * Not none: the first waits of the phase spin until faults from
	 * two threads are seen, and on a loaded machine one thread can be
	 * off its CPU for 100 ms, leaving the other faulting alone (1213
	 * of 10344 once, in CI's parallel unit suite).  Spinning throughout,
	 * nearly all are caught (10303 of 10309).
	 */
	CHECK(w2.caught - w1.caught < w2.slept - w1.slept,
	      "two program threads: %llu waits caught polling, %llu slept: "
	      "the handler spins while the program's threads need the CPUs",
	      (unsigned long long)(w2.caught - w1.caught),
	      (unsigned long long)(w2.slept - w1.slept));

	read_back(0, NPAGES, 1);
	CHECK(uswap_unmap(u, region, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	printf("PASS\n");
	return 0;
}
