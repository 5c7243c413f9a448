/*
 * Replay of the ABA on the slot (kernel-swap-history.md section 2.1, the
 * 6.8 fix's interleaving; model/swapin.pml's `model-unsafe-finds-loss`):
 * the slot is freed and reused between thread A's read and its install.
 *
 * usage: replay_aba POLICY [--expect-loss]
 *
 *   A  T1 faults on E; handler A misses the swap cache and reads E, and is
 *      held right after the read (MM_HOOK_SWAPIN_AFTER_READ)
 *   B  T2 faults on E (to write v1); handler B:
 *        unsafe:   nothing pins E: B reads E, installs, swap_free(E) frees
 *                  the slot; T2 writes v1
 *        unified:  B finds A's locked folio in the swap cache (step 1) and
 *                  waits on its lock (MM_HOOK_SWAPIN_FOLIO_WAIT)
 *        fallback: E is pinned: B loses (MM_HOOK_SWAPIN_LOSER) and waits
 *                  on A's private folio
 *        retry, sleep, waitqueue: B loses and wakes T2, which faults again
 *                  and loses again: the replay waits for that second loss
 *                  (the repeated fault), so the re-fault is driven too
 *   R  the page is swapped out again; with one usable slot it gets E again
 *      (unsafe: the slot reuse of the ABA, v1 is on the device under E;
 *      the others: the page is not even present, nothing is evicted, E is
 *      still pinned by A)
 *   A  released: unsafe installs its stale copy (v0) because the pte holds
 *      "E" again, and drops the reference of R's swap-out: v1 is lost.
 *      The others install v0 as the first swap-in; B converges.
 *   then (every policy) T2's write lands, the page is swapped out again
 *   (E reused) and read back: it must read v1.
 */
#include "replay.h"

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (race-window hooks)\n");
	return 77;
}
#else

#define V0 0x1111111111111111ULL
#define V1 0x2222222222222222ULL

int main(int argc, char **argv)
{
	struct toucher t1, t2;
	struct rp_hold *read_hold;
	size_t pos;
	pid_t a;
	int hit;

	rp_setup(argc, argv, "aba (kernel-swap-history.md 2.1)", V0);

	read_hold = rp_read_and_hold(&t1);
	a = read_hold->by;

	pos = rp_log_pos();
	touch(&t2, "T2 (write v1)", true, V1);
	{
		struct rp_cond c[] = {
			rp_events("B installed E",
				  PBIT(MM_HOOK_SWAPIN_AFTER_INSTALL), 0, a, pos,
				  1),
			rp_events("a loser on E", LOSER_POINTS, 0, a, pos, 1),
		};

		hit = rp_wait_any(2, c);
	}
	if (hit == 0) {
		/* B swapped E in while A holds its read: nothing pinned E */
		rp_wait(rp_events("B done", PBIT(MM_HOOK_SWAPIN_DONE), 0, a,
				  pos, 1));
		touch_join(&t2);
		/*
		 * B's install woke every fault on the page, T1's too: wait
		 * until T1's read has returned.  A T1 still on its way back
		 * into the page would fault again after R's swap-out, swap
		 * E (v1) in itself, and A's stale install would then find
		 * the page present: the loss would hide behind the timing.
		 */
		touch_join(&t1);
		step("T2 faulted; handler B swapped E in, installed it and "
		     "freed the slot (in use now: %llu); T2 wrote v1",
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
			rp_release(read_hold);
			rp_finish(V1);
			return 1;
		}
		step("the page was swapped out again and got E again (slot "
		     "reuse): E now holds v1");
		pos = rp_log_pos();
		rp_release(read_hold);
		rp_wait(rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0,
				  pos, 1));
		step("A released: pte_same passed on the reused E, A installed "
		     "its copy and dropped the new swap-out's reference (pte "
		     "%s, slots in use %llu)",
		     rp_pte() == PTE_PRESENT ? "present" : "not present",
		     (unsigned long long)rp_inuse());
		return rp_finish(V1);
	}

	/* a correct protocol: B lost the race and waits or retries */
	{
		pid_t b = 0;
		unsigned p = MM_HOOK_NR;
		struct rp_cond lc =
			rp_events("a loser on E", LOSER_POINTS, 0, a, pos, 1);

		pthread_mutex_lock(&rp.lock);
		rp_count_locked(&lc, &b);
		for (size_t i = pos; i < rp.nlog; i++)
			if (rp.log[i].tid == b &&
			    (PBIT(rp.log[i].point) & LOSER_POINTS))
				p = rp.log[i].point;
		pthread_mutex_unlock(&rp.lock);
		step("T2 faulted; handler B (tid %d) lost the race at %s", b,
		     rp_point_name(p));
		if (p != rp_loser_point())
			problem("policy %s: the loser stopped at %s, expected "
				"%s",
				swapin_policy_name(rp.policy), rp_point_name(p),
				rp_point_name(rp_loser_point()));
	}
	if (rp_bypass_retries()) {
		rp_wait(rp_events("T2's repeated fault losing again",
				  PBIT(MM_HOOK_SWAPIN_LOSER), 0, a, pos, 2));
		step("B woke T2 without installing; T2 faulted again and lost "
		     "again (a repeated fault)");
	}
	if (!swap_pinned((swp_entry_t){rp.entry}) ||
	    swap_count((swp_entry_t){rp.entry}) != 1)
		problem("E is not pinned with count 1 while A holds its read "
			"(pinned %d count %lu)",
			swap_pinned((swp_entry_t){rp.entry}),
			swap_count((swp_entry_t){rp.entry}));
	CHECK(rp_evict() == 0, "evicted a page that is not present");
	step("swap-out attempted: nothing to evict, E stays pinned by A: the "
	     "slot cannot be reused");
	pos = rp_log_pos();
	rp_release(read_hold);
	rp_wait(rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0, pos, 1));
	touch_join(&t1);
	touch_join(&t2);
	step("A released: it installed E, freed the slot; T1 read %#llx, T2 "
	     "read %#llx and wrote v1",
	     (unsigned long long)t1.rval, (unsigned long long)t2.rval);
	if (t1.rval != V0 && t1.rval != V1)
		problem("T1 read %#llx", (unsigned long long)t1.rval);
	if (t2.rval != V0)
		problem("T2 read %#llx before its write, expected v0",
			(unsigned long long)t2.rval);
	/* the loser converges: after a wait it finds the pte present */
	mm_quiesce(uswap_mm(rp.u));
	CHECK(rp_evict() == 1, "the page was not swapped out again");
	if (!rp_pte_is_entry())
		problem("the slot was not reused (pte %#llx)",
			(unsigned long long)rp_pte());
	step("the page was swapped out again and got E again (slot reuse)");
	return rp_finish(V1);
}
#endif
