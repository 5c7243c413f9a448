/*
 * Replay of two handlers on one entry (../shared/DESIGN.md, "The swap-in
 * protocol", step 2; kernel-swap-history.md sections 2.1 and 2.3): the
 * fault messages of two threads on the same entry E are served by two
 * handler threads at once, both past the swap-cache lookup before either
 * has pinned E, so that the race is decided at step 2 and the loser takes
 * its policy's path.  The loser is then held at the start of its wait while
 * the winner finishes, the page is written and swapped out again to the
 * same slot, and only then does the loser go on: a loser that trusted what
 * it saw before its wait (the model's mutant 1: no re-check after
 * folio_lock) would install a stale copy.
 *
 * usage: replay_two_handlers POLICY [--expect-loss]
 *
 *   A, B  T1 and T2 (T2 writes v1) fault on E; handlers A and B both miss
 *         the swap cache and are held there (MM_HOOK_SWAPIN_CACHE_MISS)
 *   A     released: it wins step 2 (inserts its locked folio / pins E),
 *         reads E and is held after its read
 *   B     released: it loses step 2 and is held at the start of its wait:
 *           unified:  swap_cache_prepare_and_add gives -EEXIST and A's
 *                     folio; B is about to sleep on its lock (folio-wait)
 *           fallback, waitqueue, sleep, retry: swapcache_prepare gives
 *                     -EEXIST (loser)
 *           unsafe:   nothing pins E: B reads E, installs it and frees the
 *                     slot; T2 writes v1; the page is swapped out again to
 *                     E; A, released, installs its stale v0 (the ABA)
 *   A     released: installs E (T1 and T2 run, T2 writes v1), frees E
 *   R     the page is swapped out again: E again, holding v1
 *   B     released: unified finds A's folio out of the swap cache and looks
 *         again (swaps in the new E); fallback finds no winner in flight
 *         and looks again; retry wakes T2 (already done); sleep and
 *         waitqueue sleep a tick (nobody wakes the waitqueue now) and wake
 *   then the page is read back: it must read v1.
 */
#include "replay.h"

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (race-window hooks)\n");
	return 77;
}
#else

#define V0 0x5555555555555555ULL
#define V1 0x6666666666666666ULL

int main(int argc, char **argv)
{
	struct rp_hold *miss_a, *miss_b, *read_a, *wait_b;
	struct toucher t1, t2;
	size_t pos;
	pid_t a, b;
	int hit;

	rp_setup(argc, argv, "two handlers on one entry", V0);

	miss_a = rp_hold("A after its cache miss",
			 PBIT(MM_HOOK_SWAPIN_CACHE_MISS), rp.entry, 0);
	miss_b = rp_hold("B after its cache miss",
			 PBIT(MM_HOOK_SWAPIN_CACHE_MISS), rp.entry, 0);
	touch(&t1, "T1 (read)", false, 0);
	rp_wait(rp_arrived(miss_a));
	a = miss_a->by;
	touch(&t2, "T2 (write v1)", true, V1);
	rp_wait(rp_arrived(miss_b));
	b = miss_b->by;
	step("T1 and T2 faulted on E; handlers A (tid %d) and B (tid %d) both "
	     "missed the swap cache and are held there",
	     a, b);

	read_a = rp_hold("A after its read", PBIT(MM_HOOK_SWAPIN_AFTER_READ),
			 rp.entry, a);
	pos = rp_log_pos();
	rp_release(miss_a);
	{
		struct rp_cond c[] = {
			rp_arrived(read_a),
			rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0,
				  pos, 1),
		};

		hit = rp_wait_any(2, c);
	}
	CHECK(hit == 0, "A did not win step 2 (it finished without reading)");
	step("A released: it won step 2 (%s), read E and is held before its "
	     "install",
	     rp.policy == SWAPIN_UNIFIED  ? "its locked folio is in the cache"
	     : rp.policy == SWAPIN_UNSAFE ? "nothing pinned"
					  : "E pinned");

	wait_b = rp_hold("B at its loser's wait", LOSER_POINTS, rp.entry, b);
	pos = rp_log_pos();
	rp_release(miss_b);
	{
		struct rp_cond c[] = {
			rp_arrived(wait_b),
			rp_events("B installed",
				  PBIT(MM_HOOK_SWAPIN_AFTER_INSTALL), b, 0, pos,
				  1),
		};

		hit = rp_wait_any(2, c);
	}
	if (hit == 1) {
		/* two swap-ins of E at once: nothing arbitrated step 2 */
		rp_release(wait_b);
		rp_wait(rp_events("B done", PBIT(MM_HOOK_SWAPIN_DONE), b, 0,
				  pos, 1));
		touch_join(&t2);
		/*
		 * B's install woke T1's fault too: wait for T1's read to
		 * return, or a T1 still on its way back into the page could
		 * fault again after the swap-out below and swap v1 in
		 * itself, hiding A's stale install (see aba.c).
		 */
		touch_join(&t1);
		step("B released: it read E too, installed it and freed the "
		     "slot (in use: %llu); T2 wrote v1",
		     (unsigned long long)rp_inuse());
		if (rp.policy != SWAPIN_UNSAFE)
			problem("two swap-ins of E in flight at once under "
				"policy %s",
				swapin_policy_name(rp.policy));
		CHECK(rp_evict() == 1, "the page was not swapped out again");
		if (!rp_pte_is_entry()) {
			printf("the slot was not reused (pte %#llx): the "
			       "replay no longer reproduces the ABA\n",
			       (unsigned long long)rp_pte());
			rp_release(read_a);
			rp_finish(V1);
			return 1;
		}
		step("the page was swapped out again and got E again: E holds "
		     "v1");
		pos = rp_log_pos();
		rp_release(read_a);
		rp_wait(rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0,
				  pos, 1));
		step("A released: pte_same passed on the reused E, A installed "
		     "its copy and dropped the new swap-out's reference (pte "
		     "%s, slots in use %llu)",
		     rp_pte() == PTE_PRESENT ? "present" : "not present",
		     (unsigned long long)rp_inuse());
		return rp_finish(V1);
	}
	step("B released: it lost step 2 and is held at %s, before its wait",
	     rp_point_name(wait_b->at));
	if (wait_b->at != rp_loser_point())
		problem("policy %s: the loser stopped at %s, expected %s",
			swapin_policy_name(rp.policy),
			rp_point_name(wait_b->at),
			rp_point_name(rp_loser_point()));

	pos = rp_log_pos();
	rp_release(read_a);
	rp_wait(rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0, pos, 1));
	touch_join(&t1);
	touch_join(&t2);
	step("A released: it installed E and freed the slot (in use: %llu); "
	     "T1 read %#llx, T2 read %#llx and wrote v1",
	     (unsigned long long)rp_inuse(), (unsigned long long)t1.rval,
	     (unsigned long long)t2.rval);
	if (t2.rval != V0 || (t1.rval != V0 && t1.rval != V1))
		problem("T1 read %#llx, T2 read %#llx",
			(unsigned long long)t1.rval,
			(unsigned long long)t2.rval);
	CHECK(rp_evict() == 1, "the page was not swapped out again");
	if (!rp_pte_is_entry())
		problem("the slot was not reused (pte %#llx)",
			(unsigned long long)rp_pte());
	step("the page was swapped out again and got E again (v1): the entry "
	     "B faulted on has the same value and a new meaning");

	step("B released: it finished (%s; pte %s)",
	     rp_release_and_finish(wait_b, b) ? "it installed a page for E"
					      : "without installing",
	     rp_pte() == PTE_PRESENT ? "present" : "still E");
	return rp_finish(V1);
}
#endif
