/*
 * Helpers of the pager's tests (tests/mm/): open a small instance with
 * explicit pager parameters, skip (77) when userfaultfd is unavailable,
 * report failures.
 */
#ifndef USWAP_TESTS_MM_MMTEST_H
#define USWAP_TESTS_MM_MMTEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fail.h"
#include "../hang_report.h"
#include "api/api.h"
#include "mm/internal.h"

struct mt_conf {
	enum swapin_policy policy;
	size_t budget_pages;
	uint32_t nslots; /* swap slots incl. the reserved slot 0 */
	unsigned threads;
	size_t cache_pages;
	unsigned fault_around, readahead;
	bool no_reclaimer;
	unsigned read_batch;
	bool sigbus;
	bool swapin_move;
	bool unfenced_installs;
	bool inflight_del_by_entry;
	bool move_unverified;
	bool adaptive_handlers;
	bool evict_move;      /* no window eviction: a MOVE per page */
	bool zap_unprotected; /* window eviction without write-protect */
	unsigned zap_min;     /* fewest pages per window (0: the default) */
	bool zap_drop_fails;  /* every window's drop fails */
	unsigned spin_max_ns; /* handler spin's longest window (0: default) */
	bool no_spin;	      /* handlers sleep at once */
	bool throttle_sleeps; /* sigbus: faults over budget only nap */
};

static inline struct uswap *mt_open(const struct mt_conf *c)
{
	struct uswap_options opt;
	struct mm_params mp;
	struct uswap *u;
	int ret;

	hang_report_install();
	memset(&opt, 0, sizeof(opt));
	opt.budget = c->budget_pages * PAGE_SIZE;
	strcpy(opt.device, "zram");
	opt.policy = c->policy;
	opt.threads = c->threads ? c->threads : 2;
	opt.swap_size = (size_t)(c->nslots - 1) * PAGE_SIZE;
	uswap_default_params(&opt, &mp);
	mp.cache_pages = c->cache_pages;
	mp.fault_around_pages = c->fault_around ? c->fault_around : 1;
	mp.readahead_pages = c->readahead ? c->readahead : 1;
	mp.no_reclaimer = c->no_reclaimer;
	mp.read_batch = c->read_batch;
	mp.sigbus = c->sigbus;
	mp.colocate = c->sigbus; /* the mode's own placement (mm.h) */
	mp.swapin_move = c->swapin_move;
	mp.unfenced_installs = c->unfenced_installs;
	mp.inflight_del_by_entry = c->inflight_del_by_entry;
	mp.move_unverified = c->move_unverified;
	mp.adaptive_handlers = c->adaptive_handlers;
	mp.wp_evict = !c->evict_move;
	mp.zap_unprotected = c->zap_unprotected;
	mp.zap_min = c->zap_min;
	mp.zap_drop_fails = c->zap_drop_fails;
	if (c->spin_max_ns)
		mp.spin_max_ns = c->spin_max_ns;
	if (c->no_spin)
		mp.spin_max_ns = 0;
	mp.throttle_sleeps = c->throttle_sleeps;
	ret = uswap_open_params(&opt, &mp, c->nslots, &u);
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: userfaultfd unavailable (%s)\n",
			strerror(-ret));
		exit(77);
	}
	CHECK(ret == 0, "uswap_open_params: %s", strerror(-ret));
	return u;
}

/* mt_sleep_ms - sleep @ms milliseconds. */
static inline void mt_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The number of slots in use on @u's device (count > 0 or pinned). */
static inline uint64_t mt_slots_inuse(struct uswap *u)
{
	struct swap_usage us;

	mm_quiesce(uswap_mm(u));
	swap_get_usage(uswap_swap_info(u), &us);
	return us.inuse;
}

/*
 * mt_validate - the swap core's validation walk, with the reclaimer parked:
 * the walk wants the core quiet, and a reclaimer evicting the pages a
 * test's own reads just brought back moved a cluster from the nonfull list
 * to the full one between the walk's two passes (stress-trim_race under
 * TSan in CI: "full list: 1 walked, nr 1, flagged 0").
 */
static inline void mt_validate(struct uswap *u)
{
	char report[4096] = "";
	int n;

	mm_reclaimer_park(uswap_mm(u));
	mm_quiesce(uswap_mm(u));
	n = swap_validate(uswap_swap_info(u), report, sizeof(report));
	mm_reclaimer_unpark(uswap_mm(u));

	CHECK(n == 0, "swap_validate: %d violations:\n%s", n, report);
}

static inline uint64_t mt_pte(struct uswap *u, void *addr)
{
	uint64_t pte = 0;

	CHECK(mm_page_pte(uswap_mm(u), addr, &pte, NULL) == 0, "no pte at %p",
	      addr);
	return pte;
}

/*
 * mt_map_wp_left - map @npages, stamp word 1 of page i with i + 1 (present
 * now), and write-protect page @p: the state a window eviction leaves when
 * the kernel refused its back-off's un-protect (zap.c, zap_back_off).
 */
static inline char *mt_map_wp_left(struct uswap *u, size_t npages, size_t p)
{
	char *a = uswap_map(u, npages * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < npages; i++)
		((uint64_t *)(a + i * PAGE_SIZE))[1] = i + 1;
	CHECK(mt_pte(u, a + p * PAGE_SIZE) == PTE_PRESENT, "page %zu pte %#llx",
	      p, (unsigned long long)mt_pte(u, a + p * PAGE_SIZE));
	CHECK(uffd_writeprotect(&uswap_mm(u)->uffd,
				(uint64_t)(uintptr_t)a + p * PAGE_SIZE,
				PAGE_SIZE, true, 0) == 0,
	      "write-protect page %zu", p);
	return a;
}

#endif /* USWAP_TESTS_MM_MMTEST_H */
