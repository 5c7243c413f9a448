/*
 * The swap-in protocols (../shared/DESIGN.md, "The swap-in protocol"): what
 * the loser of a race on one swap entry does.  The option parser (src/api/)
 * maps names to these; src/mm/ implements them.
 */
#ifndef USWAP_MM_POLICY_H
#define USWAP_MM_POLICY_H

enum swapin_policy {
	SWAPIN_UNIFIED,	  /* 7.0: every swap-in inserts into the swap cache */
	SWAPIN_FALLBACK,  /* thread's proposal: loser waits on winner's folio */
	SWAPIN_WAITQUEUE, /* 6.12: pin; loser sleeps <= 1 tick, woken early */
	SWAPIN_SLEEP,	  /* 6.8: pin; loser sleeps one tick, faults again */
	SWAPIN_RETRY,	  /* 6.8 v3: pin; loser faults again at once */
	SWAPIN_UNSAFE,	  /* <= 6.7: no pin (test builds only) */
	SWAPIN_NR_POLICIES,
};

#endif /* USWAP_MM_POLICY_H */
