/*
 * Replay of a swap-in racing another thread's MADV_DONTNEED of the page
 * (the remove fence: install_lock in src/mm/internal.h).
 *
 * usage: replay_dontneed POLICY [--expect-loss --unfenced]
 *
 *   A  T1 faults on E; handler A reads E (old data v0) and is held before
 *      its install (MM_HOOK_SWAPIN_AFTER_READ)
 *   M  thread M calls madvise(MADV_DONTNEED) on the page; handler R reads
 *      the remove event and is held before applying it
 *      (MM_HOOK_EVENTS_READ): M is released, the kernel zaps the page (not
 *      present anyway) and madvise returns.  From here on the page must
 *      read zero.
 *   T3 reads the page (and faults: nothing is present)
 *   A  released: with the fence it fails to take it and installs nothing
 *      (T1 faults again); without it (--unfenced, the code before the
 *      fence) the pte still holds E and A installs v0: T3 reads v0
 *   R  released: the event is applied, the pte cleared, E freed; T3 and T1
 *      fault in zero pages
 *   then the page must read zero, and no slot is left in use.
 */
#include <sys/mman.h>

#include "replay.h"

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (race-window hooks)\n");
	return 77;
}
#else

#define V0 0x1111111111111111ULL

static void *madvise_main(void *arg)
{
	if (madvise(rp.page, PAGE_SIZE, MADV_DONTNEED) < 0)
		FAIL("madvise: %s", strerror(errno));
	return arg;
}

int main(int argc, char **argv)
{
	struct rp_hold *read_hold, *event_hold;
	struct toucher t1, t3;
	struct timespec dl;
	pthread_t m;
	pid_t a;

	rp_setup(argc, argv, "dontneed (the remove fence)", V0);

	read_hold = rp_read_and_hold(&t1);
	a = read_hold->by;

	event_hold = rp_hold("R after reading a batch",
			     PBIT(MM_HOOK_EVENTS_READ), 0, 0);
	CHECK(pthread_create(&m, NULL, madvise_main, NULL) == 0,
	      "pthread_create");
	rp_wait(rp_arrived(event_hold));
	dl = rp_deadline(RP_TIMEOUT_S);
	CHECK(pthread_timedjoin_np(m, NULL, &dl) == 0,
	      "madvise did not return after its remove event was read");
	step("M's MADV_DONTNEED returned: handler R (tid %d) read its remove "
	     "event and is held before applying it",
	     event_hold->by);

	touch(&t3, "T3 (read after the madvise)", false, 0);
	step("A released: %s (pte %s)",
	     rp_release_and_finish(read_hold, a) ? "it installed its copy of E"
						 : "it installed nothing",
	     rp_pte() == PTE_PRESENT ? "present" : "not present");

	rp_release(event_hold);
	touch_join(&t3);
	touch_join(&t1);
	step("R released and applied the event; T3 read %#llx, T1 read %#llx",
	     (unsigned long long)t3.rval, (unsigned long long)t1.rval);
	if (t3.rval != 0)
		problem("T3 read %#llx after MADV_DONTNEED returned, not zero: "
			"the swap-in put the old data back after the zap",
			(unsigned long long)t3.rval);
	if (t1.rval != 0 && t1.rval != V0)
		problem("T1 read %#llx", (unsigned long long)t1.rval);
	return rp_finish(0);
}
#endif
