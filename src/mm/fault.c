/*
 * Fault handler threads: read events from the regions' uffd (src/uffd/) and
 * dispatch them.  A missing fault goes by its pte:
 *   none     do_anonymous_page: zero fill (with fault-around: a window of
 *            untouched neighbours in the same ioctl)
 *   swap E   do_swap_page (swapin.c): minor from the swap cache, or major
 *            from the device
 *   present  the process lost the page (its own MADV_DONTNEED, whose
 *            remove event another handler may not have applied yet) or a
 *            duplicate message: zero fill; EEXIST means it is there
 *   poison   the poison marker was zapped: poison again
 * Remove and unmap events clear ptes and free slots (region.c).
 *
 * Stopping: handlers block in read(2) (the fastest way to wait, research
 * notes Q2).  To stop them without signals, uswap_close sets handlers_stop
 * and touches one "doorbell" page per handler, a registered page outside
 * every region: the handler that gets its fault resolves it and exits.
 *
 * Lock order: see internal.h; this file takes pte locks (then lru_lock)
 * and region_lock (alone).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mm/internal.h"

void wake_faulter(struct mm *mm, uint64_t addr)
{
	uffd_wake(&mm->uffd, addr & ~(PAGE_SIZE - 1), PAGE_SIZE);
}

/*
 * note_swap_fault - count a repeated fault: the same thread faulting again
 * on the same address while the pte holds the same entry, with no install
 * of the page in between (the page's gen: so a slot number reused by a
 * later swap-out of the same page does not count).  The price of the retry
 * policies.  Relaxed: statistics only.
 */
static void note_swap_fault(struct mm *mm, pid_t tid, uint64_t addr,
			    struct mm_page *page, uint64_t pte)
{
	struct repeat_slot *s = &mm->repeat[(uint32_t)tid % REPEAT_SLOTS];
	uint64_t gen = atomic_load_explicit(&page->gen, memory_order_relaxed);

	if (tid &&
	    atomic_load_explicit(&s->tid, memory_order_relaxed) ==
		    (uint64_t)tid &&
	    atomic_load_explicit(&s->addr, memory_order_relaxed) == addr &&
	    atomic_load_explicit(&s->pte, memory_order_relaxed) == pte &&
	    atomic_load_explicit(&s->gen, memory_order_relaxed) == gen)
		STAT_INC(mm, faults_repeat);
	atomic_store_explicit(&s->tid, (uint64_t)tid, memory_order_relaxed);
	atomic_store_explicit(&s->addr, addr, memory_order_relaxed);
	atomic_store_explicit(&s->pte, pte, memory_order_relaxed);
	atomic_store_explicit(&s->gen, gen, memory_order_relaxed);
}

static long install_zero(struct mm *mm, uint64_t addr, size_t len, bool write)
{
	long ret;

	do {
		if (write)
			ret = uffd_copy(&mm->uffd, addr, mm->zero_page, len, 0);
		else
			ret = uffd_zeropage(&mm->uffd, addr, len, 0);
	} while (ret == -EAGAIN && (sched_yield(), !atomic_load(&mm->closing)));
	return ret;
}

/*
 * do_anonymous_page - first touch of a page whose pte is none: install
 * zeros.  A write fault gets a copied zero page (a ZEROPAGE would cost a
 * second, copy-on-write fault); a read fault the shared zero page.
 * Fault-around: the untouched neighbours in the aligned window of
 * fault_around_pages are filled by the same ioctl.
 * Return: 0; -EAGAIN when the pte changed before we locked it.
 * Context: a handler thread; takes the pte lock.
 */
static int do_anonymous_page(struct mm *mm, struct mm_region *r, uint64_t addr,
			     bool write)
{
	unsigned win = mm->p.fault_around_pages;
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);
	size_t i = (size_t)(page - tbl->pages), lo = i, hi = i + 1, wbase;
	long ret;

	mm_charge(mm, win);
	pthread_mutex_lock(&tbl->lock);
	if (atomic_load(&page->pte) != PTE_NONE) {
		pthread_mutex_unlock(&tbl->lock);
		return -EAGAIN;
	}
	if (win > 1) {
		wbase = i & ~((size_t)win - 1);
		while (lo > wbase &&
		       atomic_load(&tbl->pages[lo - 1].pte) == PTE_NONE)
			lo--;
		while (hi < wbase + win && tbl->first + hi < r->npages &&
		       atomic_load(&tbl->pages[hi].pte) == PTE_NONE)
			hi++;
	}
	ret = install_zero(mm, tbl->addr + lo * PAGE_SIZE,
			   (hi - lo) * PAGE_SIZE, write);
	if (hi - lo > 1 && ret != 0 && ret != (long)((hi - lo) * PAGE_SIZE)) {
		/* partial or failed window: just the faulting page */
		if (ret > 0) {
			size_t done = (size_t)ret / PAGE_SIZE;

			for (size_t j = lo; j < lo + done; j++) {
				atomic_store(&tbl->pages[j].pte, PTE_PRESENT);
				lru_add(mm, &tbl->pages[j]);
			}
			if (i < lo + done)
				goto out;
		}
		lo = i;
		hi = i + 1;
		ret = install_zero(mm, addr, PAGE_SIZE, write);
	}
	if (ret < 0 && ret != -EEXIST) {
		pthread_mutex_unlock(&tbl->lock);
		wake_faulter(mm, addr);
		return 0;
	}
	for (size_t j = lo; j < hi; j++) {
		atomic_store(&tbl->pages[j].pte, PTE_PRESENT);
		lru_add(mm, &tbl->pages[j]);
	}
out:
	pthread_mutex_unlock(&tbl->lock);
	STAT_INC(mm, faults_zero);
	return 0;
}

/* A fault on a present or poisoned pte: see the file comment. */
static int do_lost_page(struct mm *mm, struct mm_region *r, uint64_t addr,
			bool write, uint64_t pte)
{
	struct pte_table *tbl;
	struct mm_page *page = region_page(r, addr, &tbl);
	long ret;

	pthread_mutex_lock(&tbl->lock);
	if (atomic_load(&page->pte) != pte) {
		pthread_mutex_unlock(&tbl->lock);
		return -EAGAIN;
	}
	if (pte == PTE_POISON)
		ret = uffd_poison(&mm->uffd, addr, PAGE_SIZE, 0);
	else
		ret = install_zero(mm, addr, PAGE_SIZE, write);
	pthread_mutex_unlock(&tbl->lock);
	if (ret < 0 && ret != -EEXIST)
		wake_faulter(mm, addr);
	return 0;
}

/* Return: true when this was a doorbell and the handler must stop. */
static bool handle_fault(struct mm *mm, const struct uffd_event *ev)
{
	uint64_t addr = ev->fault.addr & ~(PAGE_SIZE - 1);
	uint64_t bell = (uint64_t)(uintptr_t)mm->bell;
	struct mm_region *r;

	if (bell && addr >= bell && addr < bell + BELL_PAGES(mm) * PAGE_SIZE) {
		uffd_zeropage(&mm->uffd, addr, PAGE_SIZE, 0);
		if (addr == bell + mm->p.threads * PAGE_SIZE)
			return false; /* mm_quiesce's page */
		return atomic_load(&mm->handlers_stop);
	}
	STAT_INC(mm, faults);
	r = region_get(mm, addr);
	if (!r) {
		wake_faulter(mm, addr);
		return false;
	}
	atomic_fetch_add(&mm->faults_inflight, 1);
	for (int tries = 0;; tries++) {
		struct pte_table *tbl;
		struct mm_page *page = region_page(r, addr, &tbl);
		uint64_t pte = atomic_load(&page->pte);
		int ret;

		if (pte == PTE_NONE) {
			ret = do_anonymous_page(mm, r, addr, ev->fault.write);
		} else if (pte_is_swap(pte)) {
			note_swap_fault(mm, ev->fault.tid, addr, page, pte);
			ret = do_swap_page(mm, r, addr, pte_to_swp_entry(pte));
			if (ret == 0 && !atomic_load(&mm->closing))
				swapin_readahead(mm, r, addr);
			ret = 0;
		} else {
			ret = do_lost_page(mm, r, addr, ev->fault.write, pte);
		}
		if (ret != -EAGAIN)
			break;
		if (tries > 1000) {
			wake_faulter(mm, addr);
			break;
		}
	}
	atomic_fetch_sub(&mm->faults_inflight, 1);
	region_put(r);
	return false;
}

/*
 * mm_quiesce - see mm.h.  An event (remove, unmap) releases the thread that
 * caused it as soon as it is read, before it is applied.  Events are
 * applied under read_lock, so a fault read after them was read after they
 * were applied: we discard our own page (its remove event queues behind
 * the others) and touch it; when our fault is served, every event before
 * it was applied.  Then we wait for the faults in flight.
 * Context: not a handler thread; serialised by quiesce_lock.
 */
void mm_quiesce(struct mm *mm)
{
	volatile char *sync =
		(volatile char *)mm->bell + mm->p.threads * PAGE_SIZE;

	pthread_mutex_lock(&mm->quiesce_lock);
	madvise((void *)sync, PAGE_SIZE, MADV_DONTNEED);
	(void)*sync;
	pthread_mutex_unlock(&mm->quiesce_lock);
	while (atomic_load(&mm->faults_inflight) > 0)
		sched_yield();
}

/*
 * handle_event - a remove, unmap, remap or fork event.
 * Context: a handler thread holding mm->read_lock.
 */
static void handle_event(struct mm *mm, const struct uffd_event *ev)
{
	switch (ev->kind) {
	case UFFD_EV_REMOVE:
		mm_discard_range(mm, ev->range.start, ev->range.end, false);
		break;
	case UFFD_EV_UNMAP:
		mm_discard_range(mm, ev->range.start, ev->range.end, true);
		break;
	case UFFD_EV_REMAP:
		fprintf(stderr,
			"uswap: mremap of a uswap region is not supported "
			"(%#llx -> %#llx)\n",
			(unsigned long long)ev->remap.from,
			(unsigned long long)ev->remap.to);
		STAT_INC(mm, errors);
		break;
	case UFFD_EV_FORK:
		close(ev->fork.ufd);
		break;
	case UFFD_EV_FAULT:
		break;
	}
}

/*
 * handler_main - a fault handler thread.  Reads a batch of events under
 * read_lock and applies its remove/unmap events before releasing it (see
 * read_lock in internal.h), then serves the batch's faults.
 * Race (remove): the application thread in madvise(MADV_DONTNEED) is
 * released as soon as the event is read, then zaps the range.  A fault it
 * raises afterwards is read after we released read_lock, so it finds the
 * ptes cleared and reads zero.  A swap-in already in flight for the range
 * finds its pte changed at step 4 and drops out.
 */
static void *handler_main(void *arg)
{
	struct mm *mm = arg;
	struct uffd_event ev[16];
	bool stop = false;

	while (!stop) {
		int n;

		pthread_mutex_lock(&mm->read_lock);
		n = uffd_read_events(&mm->uffd, ev,
				     mm->p.read_batch ? (int)mm->p.read_batch
						      : 16);
		for (int i = 0; i < n; i++)
			if (ev[i].kind != UFFD_EV_FAULT)
				handle_event(mm, &ev[i]);
		pthread_mutex_unlock(&mm->read_lock);
		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n < 0) {
			fprintf(stderr, "uswap: handler: reading events: %d\n",
				n);
			break;
		}
		for (int i = 0; i < n; i++)
			if (ev[i].kind == UFFD_EV_FAULT &&
			    handle_fault(mm, &ev[i]))
				stop = true;
	}
	return NULL;
}

int mm_handlers_start(struct mm *mm)
{
	int ret;

	mm->handlers = calloc(mm->p.threads, sizeof(*mm->handlers));
	if (!mm->handlers)
		return -ENOMEM;
	mm->bell =
		mmap(NULL, BELL_PAGES(mm) * PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mm->bell == MAP_FAILED) {
		mm->bell = NULL;
		return -ENOMEM;
	}
	ret = uffd_register(&mm->uffd, mm->bell, BELL_PAGES(mm) * PAGE_SIZE,
			    UFFD_REG_MISSING);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < mm->p.threads; i++) {
		ret = pthread_create(&mm->handlers[i], NULL, handler_main, mm);
		if (ret)
			return -ret;
		mm->nhandlers++;
	}
	return 0;
}

/*
 * mm_handlers_stop - ring one doorbell per handler and join them.
 * Context: not a handler thread; the regions should be unregistered.
 */
void mm_handlers_stop(struct mm *mm)
{
	atomic_store(&mm->handlers_stop, true);
	for (unsigned i = 0; i < mm->nhandlers; i++) {
		volatile char *b = (volatile char *)mm->bell + i * PAGE_SIZE;

		(void)*b; /* blocks until a handler resolved it */
	}
	for (unsigned i = 0; i < mm->nhandlers; i++)
		pthread_join(mm->handlers[i], NULL);
	mm->nhandlers = 0;
	if (mm->bell) {
		/* unregister first: munmap would wait for an unmap event */
		uffd_unregister(&mm->uffd, mm->bell,
				BELL_PAGES(mm) * PAGE_SIZE);
		munmap(mm->bell, BELL_PAGES(mm) * PAGE_SIZE);
	}
	mm->bell = NULL;
	free(mm->handlers);
	mm->handlers = NULL;
}
