/*
 * Internal entry points of the api layer (src/api/uswap.c) for tests and
 * the `uswap` command: open with already resolved options and explicit
 * pager parameters, and reach the layers of an instance.
 */
#ifndef USWAP_API_API_H
#define USWAP_API_API_H

#include "api/options.h"
#include "mm/mm.h"
#include "store/device.h"
#include "swap/swap.h"
#include "uswap.h"

/*
 * uswap_open_params - uswap_open with resolved @opt and, when @mp is not
 * NULL, explicit pager parameters (tests use budgets below the options'
 * minimum, a second-chance list of their choice, no reclaimer...).
 * @nslots: swap slots, 0 = from opt->swap_size.
 */
int uswap_open_params(const struct uswap_options *opt,
		      const struct mm_params *mp, uint32_t nslots,
		      struct uswap **out);

/* uswap_default_params - the pager parameters uswap_open derives. */
void uswap_default_params(const struct uswap_options *opt,
			  struct mm_params *mp);

/*
 * uswap_stats_format - @st as the two lines USWAP_F_STATS prints, each
 * starting with "@prefix: ".  No allocation, no stdio stream: the preload
 * shim calls it on its way out of _exit.  Return: as snprintf.
 */
int uswap_stats_format(const struct uswap_stats *st, const char *prefix,
		       char *buf, size_t len);

/*
 * uswap_faults_in_thread - @u serves faults in the faulting thread (the
 * SIGBUS mode, USWAP_F_SIGBUS): a system call into one of its pages that is
 * not in memory fails with EFAULT.  The preload shim's I/O wrappers ask.
 */
bool uswap_faults_in_thread(struct uswap *u);

/*
 * uswap_disown - the pages of [@addr, +@len) leave uswap and stay in memory
 * as plain memory (mm_disown).  Return: pages disowned or -errno.
 */
long uswap_disown(struct uswap *u, void *addr, size_t len);

/*
 * uswap_sigbus_chain - the preload shim's sigaction(SIGBUS) while uswap's
 * handler is installed: mm_sigbus_chain.  1 done, 0 make the real call.
 */
int uswap_sigbus_chain(const struct sigaction *act, struct sigaction *old);

struct mm *uswap_mm(struct uswap *u);
struct swap_info *uswap_swap_info(struct uswap *u);
struct store_dev *uswap_store(struct uswap *u);

#endif /* USWAP_API_API_H */
