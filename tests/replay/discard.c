/*
 * Replay of the zram variant (kernel-swap-history.md section 2.2; the
 * model's `model-unsafe-finds-discard`): the device discards a slot when it
 * is freed, so a swap-in that reads after another one freed the slot reads
 * nothing, even if nobody wrote the page.
 *
 * usage: replay_discard POLICY [--expect-loss]
 *
 *   A  T1 faults on E; handler A misses the swap cache and is held right
 *      there, before step 2 (MM_HOOK_SWAPIN_CACHE_MISS): nothing pinned yet
 *   B  T2 faults on E (a read: nobody writes the page); handler B swaps E
 *      in, installs it, drops the pte's reference: the slot is freed and
 *      the device discards its data.  The same under every policy (A holds
 *      nothing yet).
 *   A  released:
 *        unsafe:   nothing pins E: A reads the freed slot (the device has
 *                  nothing: zeros) and is held after its read
 *        the others: step 2 finds E free (swapcache_prepare or
 *                  swap_cache_prepare_and_add: -ENOENT), A re-reads the pte,
 *                  finds it present and only wakes its faulter: A never
 *                  reads the freed slot
 *   R  the page (unmodified) is swapped out again: E again (one slot)
 *   A  unsafe: released, pte_same passes on the reused E, A installs its
 *      zeros and drops R's reference: the page's data is lost
 *   then the page is read back: it must read v0.
 */
#include "replay.h"

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (race-window hooks)\n");
	return 77;
}
#else

#define V0 0x3333333333333333ULL

int main(int argc, char **argv)
{
	struct toucher t1, t2;
	struct rp_hold *miss_hold, *read_hold;
	size_t pos;
	pid_t a;
	int hit;

	rp_setup(argc, argv, "discard (kernel-swap-history.md 2.2)", V0);

	miss_hold = rp_hold("A after its cache miss",
			    PBIT(MM_HOOK_SWAPIN_CACHE_MISS), rp.entry, 0);
	touch(&t1, "T1 (read)", false, 0);
	rp_wait(rp_arrived(miss_hold));
	a = miss_hold->by;
	step("T1 faulted; handler A (tid %d) missed the swap cache and is "
	     "held before step 2 (nothing pinned)",
	     a);

	pos = rp_log_pos();
	touch(&t2, "T2 (read)", false, 0);
	{
		struct rp_cond c[] = {
			rp_events("B done", PBIT(MM_HOOK_SWAPIN_DONE), 0, a,
				  pos, 1),
			rp_events("a loser on E", LOSER_POINTS, 0, a, pos, 1),
		};

		hit = rp_wait_any(2, c);
	}
	if (hit == 1)
		problem("B lost a race to A, which holds nothing yet");
	touch_join(&t1);
	touch_join(&t2);
	if (!rp_now(rp_events("B installed", PBIT(MM_HOOK_SWAPIN_AFTER_INSTALL),
			      0, a, pos, 1)))
		problem("B finished without installing E");
	if (rp_inuse() != 0)
		problem("B installed E but its slot is still in use");
	step("T2 faulted; handler B swapped E in, installed it and freed the "
	     "slot (the device discarded it); T1 and T2 read %#llx, %#llx",
	     (unsigned long long)t1.rval, (unsigned long long)t2.rval);
	if (t1.rval != V0 || t2.rval != V0)
		problem("a reader saw %#llx / %#llx",
			(unsigned long long)t1.rval,
			(unsigned long long)t2.rval);

	read_hold = rp_hold("A after its read", PBIT(MM_HOOK_SWAPIN_AFTER_READ),
			    rp.entry, a);
	pos = rp_log_pos();
	rp_release(miss_hold);
	{
		struct rp_cond c[] = {
			rp_arrived(read_hold),
			rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0,
				  pos, 1),
		};

		hit = rp_wait_any(2, c);
	}
	if (hit == 0) {
		step("A released: nothing pinned E, A read the freed slot "
		     "(discarded: zeros) and is held before its install");
		if (rp.policy != SWAPIN_UNSAFE)
			problem("policy %s read a freed slot",
				swapin_policy_name(rp.policy));
		CHECK(rp_evict() == 1, "the page was not swapped out again");
		if (!rp_pte_is_entry()) {
			printf("the slot was not reused (pte %#llx): the "
			       "replay no longer reproduces the loss\n",
			       (unsigned long long)rp_pte());
			rp_release(read_hold);
			rp_finish(V0);
			return 1;
		}
		step("the page (unmodified) was swapped out again and got E "
		     "again: E holds v0 again");
		pos = rp_log_pos();
		rp_release(read_hold);
		rp_wait(rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0,
				  pos, 1));
		step("A released: pte_same passed on the reused E; A installed "
		     "what it read and dropped the new swap-out's reference "
		     "(pte %s, slots in use %llu)",
		     rp_pte() == PTE_PRESENT ? "present" : "not present",
		     (unsigned long long)rp_inuse());
		return rp_finish(V0);
	}
	step("A released: step 2 found E freed; A re-read the pte (present) "
	     "and only woke its faulter, without reading the slot");
	if (rp_now(rp_events("A installed", PBIT(MM_HOOK_SWAPIN_AFTER_INSTALL),
			     a, 0, pos, 1)))
		problem("A installed after E was freed");
	rp_release(read_hold);
	CHECK(rp_evict() == 1, "the page was not swapped out again");
	if (!rp_pte_is_entry())
		problem("the slot was not reused (pte %#llx)",
			(unsigned long long)rp_pte());
	step("the page (unmodified) was swapped out again and got E again");
	return rp_finish(V0);
}
#endif
