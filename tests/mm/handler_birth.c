/*
 * Scenario: a handler thread is born late, and its birth needs a fault
 * served, while the program forks.  A new thread runs glibc's
 * start_thread before our code, and its __ctype_init reads the locale
 * data, which setlocale(3) put in the heap: under `uswap run`, uswap
 * memory that may be swapped out.  run-shim-ops hung so in CI on a loaded
 * machine (src/mm/fault.c, mm_serve_until_handlers_up, has the timeline):
 * the fork parked the one handler that was up, then waited for the late
 * one to read its doorbell, and the late one waited for its fault.
 *
 * Two handlers, no reclaimer.  Hook MM_HOOK_HANDLER_START: in each
 * process, the first handler is born at once; the second is held up to
 * 1 s, until a fork has begun parking the handlers, and then reads page
 * P, swapped out, as __ctype_init would read the locale data.  The test
 * maps, swaps P out and forks; the child, whose handlers are new threads
 * too, swaps P out and forks again; every process verifies every page.
 *   - With the handlers waited for (uswap_open in the parent, the atfork
 *     handler in the child), the second is born within that 1 s, reading
 *     nothing; the forks work.
 *   - Without it, the second is still held at the fork, which never
 *     returns: the alarm fires (exit 142, or the child's status 0xe).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "mmtest.h"

#define NPAGES 64

static pid_t parent;
static _Atomic int born;
static struct mm *_Atomic forking;   /* the instance whose fork is awaited */
static volatile char *_Atomic touch; /* P, once swapped out */
static _Atomic bool touched;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void birth_hook(enum mm_hook_point point, swp_entry_t entry)
{
	(void)entry;
	if (point != MM_HOOK_HANDLER_START || getpid() != parent ||
	    atomic_fetch_add(&born, 1) != 1)
		return;
	for (int ms = 0; ms < 1000; ms += 5) {
		struct mm *mm = atomic_load(&forking);

		if (mm && atomic_load(&touch) &&
		    atomic_load(&mm->park_faults)) {
			/* the first handler reads its doorbell and parks */
			mt_sleep_ms(50);
			atomic_store(&touched, true);
			(void)*atomic_load(&touch);
			return;
		}
		mt_sleep_ms(5);
	}
}

static unsigned char stamp(size_t i, size_t b)
{
	return (unsigned char)(i * 7 + b / 64 + 1);
}

static long verify(const char *a)
{
	long bad = 0;

	for (size_t i = 0; i < NPAGES; i++)
		for (size_t b = 0; b < PAGE_SIZE; b++)
			bad += (unsigned char)a[i * PAGE_SIZE + b] !=
			       stamp(i, b);
	return bad;
}

/* a new process: its handlers are new, the hook holds its second one */
static void child_reset(void)
{
	parent = getpid();
	atomic_store(&born, 0);
	atomic_store(&touch, NULL);
}

/*
 * fork_round - swap every page out, fork; the child verifies and, at
 * @depth 0, does the same once more.  Return: the child's wait status.
 */
static int fork_round(struct uswap *u, char *a, int depth)
{
	struct mm *mm = uswap_mm(u);
	pid_t pid;
	int st;

	CHECK(mm_evict_range(mm, a, NPAGES * PAGE_SIZE, true) == NPAGES,
	      "not every page was swapped out");
	CHECK(pte_is_swap(mt_pte(u, a)), "P is not swapped out");
	atomic_store(&touch, a);
	atomic_store(&forking, mm);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(20);
		if (verify(a))
			_exit(1);
		_exit(depth == 0 ? fork_round(u, a, 1) : 0);
	}
	CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", strerror(errno));
	return st;
}

int main(void)
{
#ifndef USWAP_TEST_HOOKS
	fprintf(stderr, "SKIP: needs a build with test hooks\n");
	return 77;
#else
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 256,
			    .nslots = 256,
			    .threads = 2,
			    .cache_pages = 8,
			    .no_reclaimer = true};
	struct uswap *u;
	long t0, opened, bad;
	char *a;
	int st;

	alarm(40);
	parent = getpid();
	/* before uswap's: atfork child handlers run in registration order */
	pthread_atfork(NULL, NULL, child_reset);
	mm_set_hook(birth_hook);
	t0 = now_ms();
	u = mt_open(&c);
	opened = now_ms() - t0;
	a = uswap_map(u, NPAGES * PAGE_SIZE);
	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		for (size_t b = 0; b < PAGE_SIZE; b++)
			a[i * PAGE_SIZE + b] = (char)stamp(i, b);
	st = fork_round(u, a, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a child failed or hung (status %#x; 0xe: its alarm)", st);
	bad = verify(a);
	CHECK(bad == 0, "%ld bytes wrong in the parent", bad);
	CHECK(atomic_load(&born) >= 2, "%d handlers were born",
	      atomic_load(&born));
	mm_set_hook(NULL);
	printf("uswap_open took %ld ms (the late handler held up to 1 s); "
	       "it touched P during the fork: %s\n",
	       opened, atomic_load(&touched) ? "yes" : "no");
	uswap_close(u);
	return 0;
#endif
}
