/*
 * The pager instance: creation (the two userfaultfds, the staging area and
 * its folio pool, the threads), destruction (bring every page back, make
 * the regions ordinary memory, stop the threads) and statistics.
 *
 * Two userfaultfds (docs/pager.md, "Staging"):
 *   mm->uffd        the regions, MODE_MISSING, with EVENT_REMOVE/UNMAP/REMAP
 *                   and THREAD_ID: every access (also from system calls,
 *                   we do not use USER_MODE_ONLY) is served by a handler.
 *   mm->stage_uffd  the staging area (the folios' data pages), MODE_WP only
 *                   and no events.  UFFDIO_MOVE needs its destination
 *                   registered with the uffd it is issued on, the source
 *                   needs nothing: swap-out moves region -> staging on
 *                   stage_uffd, swap-in moves staging -> region on uffd.
 *                   Emptying staging pages with MADV_DONTNEED raises no
 *                   remove event, so it never blocks (a handler emptying a
 *                   page registered with EVENT_REMOVE would wait for itself).
 *
 * Lock order: see internal.h; this file takes no lock of its own beyond
 * creating them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mm/internal.h"

static bool pow2_le64(unsigned v)
{
	return v >= 1 && v <= 64 && (v & (v - 1)) == 0;
}

static void mm_free(struct mm *mm)
{
	if (mm->pool)
		folio_pool_destroy(mm->pool);
	if (mm->staging) {
		uffd_unregister(&mm->stage_uffd, mm->staging, mm->staging_len);
		munmap(mm->staging, mm->staging_len);
	}
	if (mm->zero_page)
		munmap(mm->zero_page, 64 * PAGE_SIZE);
	if (mm->stage_uffd.fd >= 0)
		uffd_close(&mm->stage_uffd);
	if (mm->uffd.fd >= 0)
		uffd_close(&mm->uffd);
	mm_proc_close(mm);
	if (mm->later_fd >= 0)
		close(mm->later_fd);
	priv_free(mm->fmeta);
	priv_free(mm->regions);
	pthread_rwlock_destroy(&mm->region_lock);
	pthread_mutex_destroy(&mm->map_lock);
	pthread_mutex_destroy(&mm->park_lock);
	pthread_cond_destroy(&mm->park_cond);
	pthread_mutex_destroy(&mm->lru_lock);
	pthread_mutex_destroy(&mm->reclaim_lock);
	pthread_cond_destroy(&mm->reclaim_cond);
	pthread_mutex_destroy(&mm->wq_lock);
	pthread_cond_destroy(&mm->wq_cond);
	pthread_mutex_destroy(&mm->inflight_lock);
	pthread_mutex_destroy(&mm->read_lock);
	pthread_mutex_destroy(&mm->active_lock);
	pthread_mutex_destroy(&mm->zap_lock);
	pthread_mutex_destroy(&mm->later_lock);
	pthread_cond_destroy(&mm->active_cond);
	pthread_rwlock_destroy(&mm->install_lock);
	pthread_mutex_destroy(&mm->quiesce_lock);
	priv_free(mm);
}

/*
 * mm_uffds_open - the pager's two userfaultfds: the regions' (events on,
 * nonblocking: handlers poll first, see install_lock) and the staging
 * area's (MOVE only, no events).  Also the fork child's (fork.c).
 * Return: 0; -errno, with the failed fd(s) set to -1.
 */
int mm_uffds_open(struct mm *mm)
{
	int ret;

	ret = uffd_open(
		&mm->uffd,
		UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
			UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_THREAD_ID |
			UFFD_FEATURE_MOVE | UFFD_FEATURE_POISON,
		UFFD_OPEN_NONBLOCK | (mm->p.sigbus ? UFFD_OPEN_SIGBUS : 0));
	if (ret < 0) {
		mm->uffd.fd = -1;
		mm->stage_uffd.fd = -1;
		return ret;
	}
	ret = uffd_open(&mm->stage_uffd, UFFD_FEATURE_MOVE, 0);
	if (ret < 0)
		mm->stage_uffd.fd = -1;
	return ret;
}

/*
 * pagemap_read - the pagemap entries of the @n pages from @addr into @out
 * (bit 63 present, bit 62 in the kernel's own swap).
 * Return: 0; -EOPNOTSUPP (no pagemap); -errno.  Context: any thread.
 */
int pagemap_read(struct mm *mm, uint64_t addr, size_t n, uint64_t *out)
{
	size_t want = n * sizeof(*out);
	ssize_t got;

	if (mm->pagemap_fd < 0)
		return -EOPNOTSUPP;
	got = pread(mm->pagemap_fd, out, want,
		    (off_t)(addr / PAGE_SIZE * sizeof(*out)));
	if (got < 0)
		return -errno;
	return (size_t)got == want ? 0 : -EIO;
}

/*
 * pagemap_state - what the kernel maps at @addr in this process, from
 * /proc/self/pagemap (bit 63 present, bit 62 in the kernel's own swap).
 * Context: any thread; one pread(2), no lock.
 */
enum pm_state pagemap_state(struct mm *mm, uint64_t addr)
{
	uint64_t ent;

	if (pagemap_read(mm, addr, 1, &ent) < 0)
		return PM_UNKNOWN;
	if (ent & (UINT64_C(1) << 63))
		return PM_PRESENT;
	if (ent & (UINT64_C(1) << 62))
		return PM_SWAPPED;
	return PM_NONE;
}

/*
 * PROCMAP_QUERY (Linux 6.11, include/uapi/linux/fs.h): the vma covering
 * an address, from an ioctl on /proc/self/maps.  Defined here: the
 * installed headers are older.
 */
struct procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	uint32_t vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
_Static_assert(sizeof(struct procmap_query) == 104, "procmap_query");
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)

/*
 * vma_covers - whether [start, end) lies inside one vma of this process.
 * False when it cannot be told (no PROCMAP_QUERY: before Linux 6.11).
 * Context: any thread; one ioctl, no lock of ours.
 */
bool vma_covers(struct mm *mm, uint64_t start, uint64_t end)
{
	struct procmap_query q = {.size = sizeof(q), .query_addr = start};

	if (mm->maps_fd < 0 || ioctl(mm->maps_fd, PROCMAP_QUERY, &q) < 0)
		return false;
	return q.vma_start <= start && end <= q.vma_end;
}

/* PROCMAP_QUERY's vma_flags and query_flags (include/uapi/linux/fs.h) */
#define PROCMAP_QUERY_VMA_READABLE   0x01
#define PROCMAP_QUERY_VMA_WRITABLE   0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_VMA_SHARED     0x08

/*
 * vma_check_adoptable - whether [start, end) is private anonymous
 * read-write memory, every page of it mapped: what mm_adopt can make a
 * region.  The main thread's stack ("[stack]") is refused.
 * Return: 0; -ENOMEM (a page is not mapped); -EINVAL (file-backed, shared,
 * not read-write, executable, the stack); -EOPNOTSUPP (no PROCMAP_QUERY:
 * before Linux 6.11).  Context: any thread; one ioctl per vma.
 */
int vma_check_adoptable(struct mm *mm, uint64_t start, uint64_t end)
{
	const uint64_t want =
		PROCMAP_QUERY_VMA_READABLE | PROCMAP_QUERY_VMA_WRITABLE;
	char name[128];

	if (mm->maps_fd < 0)
		return -EOPNOTSUPP;
	while (start < end) {
		struct procmap_query q = {
			.size = sizeof(q),
			.query_addr = start,
			.vma_name_size = sizeof(name),
			.vma_name_addr = (uint64_t)(uintptr_t)name,
		};

		name[0] = 0;
		if (ioctl(mm->maps_fd, PROCMAP_QUERY, &q) < 0) {
			if (errno == ENOENT)
				return -ENOMEM;
			if (errno == ENOTTY)
				return -EOPNOTSUPP;
			/* ENAMETOOLONG: a file's path, not anonymous */
			return -EINVAL;
		}
		if (q.vma_start > start)
			return -ENOMEM;
		if ((q.vma_flags & (want | PROCMAP_QUERY_VMA_EXECUTABLE |
				    PROCMAP_QUERY_VMA_SHARED)) != want ||
		    q.inode || q.dev_major || q.dev_minor ||
		    !strcmp(name, "[stack]"))
			return -EINVAL;
		start = q.vma_end;
	}
	return 0;
}

/*
 * mm_uffd_reg_modes - how regions are registered: MODE_MISSING, and
 * MODE_WP for window eviction (zap.c).
 */
unsigned mm_uffd_reg_modes(struct mm *mm)
{
	return UFFD_REG_MISSING | (mm->p.wp_evict ? UFFD_REG_WP : 0);
}

/*
 * mm_proc_open - our pidfd (process_madvise) and the /proc/self files the
 * pager reads (pagemap for mm_move, mem and maps for zap_evict), at
 * creation and in a forked child (the inherited ones are the parent's).
 */
void mm_proc_open(struct mm *mm)
{
	mm->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	mm->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	mm->mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	mm->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
}

/* mm_proc_close - close what mm_proc_open opened (-1: not open). */
void mm_proc_close(struct mm *mm)
{
	int *fds[] = {&mm->pidfd, &mm->pagemap_fd, &mm->mem_fd, &mm->maps_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/*
 * mm_move - UFFDIO_MOVE @npages pages from @src to the holes at @dst, on @u
 * (the uffd @dst is registered with), and believe only what happened.
 *
 * The kernel can report EEXIST for a move it has done.  Linux 6.18,
 * mm/userfaultfd.c, move_pages(): when a pass of move_pages_ptes() returns
 * -EAGAIN (the source folio was locked by someone else and its pte changed
 * meanwhile, or its swap-cache entry was busy: kernel reclaim, the kernel's
 * swap-in of it), the loop tries the same address again without clearing
 * err.  The second pass moves the page; err is still -EAGAIN, so the loop
 * goes round once more, finds the destination it has just filled, and the
 * ioctl fails with EEXIST (or stops short, if pages before it moved).  It
 * happens when the kernel's own swap or reclaim works on our pages (this
 * machine's DAMON pageout scheme does as soon as swap exists).  Taken at
 * its word, a swap-out kept a pte present for a page that had left the
 * region, and the next touch read zeros (tests/mm/stress.c --pageout
 * catches it: mm_params.move_unverified).
 *
 * So where a move stopped with EEXIST we look: a source that is now a hole
 * and a destination that now holds a page (present or in kernel swap) is a
 * move, and we go on with the next page.  The caller's locks keep both
 * from changing by our own hand meanwhile (the pte lock for region pages,
 * the folio lock or a claimed scratch window for staging pages); the
 * process discarding the source at the same moment would also leave a
 * hole, and then what moved does not matter: its remove event clears the
 * pte behind us.  A short move (the kernel's EAGAIN with a count) goes on
 * from where it stopped, so the page that stopped it reports its own error.
 *
 * Return: the number of pages moved from the start, >= 1; or -errno when
 * not even the first moved (-EEXIST, -ENOENT, -EBUSY, -EAGAIN, -EINVAL...).
 * A misreported move counts as moved (and in moves_misreported, which
 * mm_params.move_unverified counts but returns as it came).
 * Context: the caller holds the locks that own the pages at @src and @dst.
 */
long mm_move(struct mm *mm, struct uffd *u, uint64_t dst, uint64_t src,
	     size_t npages, unsigned flags)
{
	size_t done = 0;

	while (done < npages) {
		uint64_t off = done * PAGE_SIZE;
		long ret = uffd_move(u, dst + off, src + off,
				     (npages - done) * PAGE_SIZE, flags);
		enum pm_state d;

		if (ret == 0)
			return (long)npages;
		if (ret > 0) {
			done += (size_t)ret / PAGE_SIZE;
			continue;
		}
		if (ret != -EEXIST || pagemap_state(mm, src + off) != PM_NONE)
			return done ? (long)done : ret;
		d = pagemap_state(mm, dst + off);
		if (d != PM_PRESENT && d != PM_SWAPPED)
			return done ? (long)done : ret;
		STAT_INC(mm, moves_misreported);
		if (mm->p.move_unverified)
			return done ? (long)done : ret;
		done++;
	}
	return (long)npages;
}

int mm_create(const struct mm_params *p, struct swap_info *si,
	      struct store_dev *dev, struct mm **out)
{
	struct mm *mm;
	size_t budget = p->budget_pages;
	int ret;

	if (budget < 4 || p->threads < 1 || p->threads > 256 ||
	    !pow2_le64(p->fault_around_pages) ||
	    !pow2_le64(p->readahead_pages) || p->read_batch > 16 ||
	    p->policy >= SWAPIN_NR_POLICIES)
		return -EINVAL;
#ifndef USWAP_TEST_HOOKS
	if (p->policy == SWAPIN_UNSAFE)
		return -EINVAL;
#endif
	mm = priv_calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	mm->p = *p;
	mm->si = si;
	mm->dev = dev;
	mm->uffd.fd = -1;
	mm_proc_open(mm);
	mm->stage_uffd.fd = -1;
	pthread_rwlock_init(&mm->region_lock, NULL);
	pthread_mutex_init(&mm->map_lock, NULL);
	pthread_mutex_init(&mm->park_lock, NULL);
	pthread_cond_init(&mm->park_cond, NULL);
	pthread_mutex_init(&mm->lru_lock, NULL);
	pthread_mutex_init(&mm->reclaim_lock, NULL);
	pthread_cond_init(&mm->reclaim_cond, NULL);
	pthread_mutex_init(&mm->wq_lock, NULL);
	pthread_cond_init(&mm->wq_cond, NULL);
	pthread_mutex_init(&mm->inflight_lock, NULL);
	pthread_mutex_init(&mm->read_lock, NULL);
	pthread_mutex_init(&mm->active_lock, NULL);
	pthread_cond_init(&mm->active_cond, NULL);
	pthread_mutex_init(&mm->zap_lock, NULL);
	pthread_mutex_init(&mm->later_lock, NULL);
	mm->later_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	mm->handlers_active = p->adaptive_handlers ? 1 : p->threads;
	mm->home_cpu = p->colocate ? thread_last_cpu() : -1;
	{
		pthread_rwlockattr_t ra;

		/* the reader must not starve behind a stream of installs */
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&mm->install_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	pthread_mutex_init(&mm->quiesce_lock, NULL);
	mm->lru_head.lru_next = mm->lru_head.lru_prev = &mm->lru_head;
	mm->active_head.lru_next = mm->active_head.lru_prev = &mm->active_head;
	mm->cache_head = mm->cache_tail = -1;

	mm->cache_target =
		p->cache_pages == (size_t)-1 ? budget / 8 : p->cache_pages;
	if (mm->cache_target > budget / 2)
		mm->cache_target = budget / 2;
	if (p->fifo)
		mm->cache_target = 0;
	mm->wmark_high = budget - budget / 16;
	mm->wmark_low = budget - budget / 8;
	if (mm->wmark_high >= budget)
		mm->wmark_high = budget - 1;
	if (mm->wmark_low >= mm->wmark_high)
		mm->wmark_low = mm->wmark_high - 1;

	ret = mm_uffds_open(mm);
	if (ret < 0)
		goto fail;

	/*
	 * Folios: the cached list, plus in-flight swap-ins (a folio per
	 * handler and its readahead window), the reclaimers' evictions, and
	 * slack.  Staging pages are holes until used: they cost address
	 * space only.
	 */
	mm->nfolios = mm->cache_target +
		      (size_t)p->threads * (p->readahead_pages + 2) + 64;
	/* a scratch window for each handler, the reclaimer and one more */
	mm->nscratch = p->threads + 2 < 64 ? p->threads + 2 : 64;
	mm->staging_len = (mm->nfolios + (size_t)mm->nscratch * SCRATCH_PAGES) *
			  PAGE_SIZE;
	mm->staging = mmap(NULL, mm->staging_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mm->staging == MAP_FAILED) {
		mm->staging = NULL;
		ret = -ENOMEM;
		goto fail;
	}
	mm->scratch = (char *)mm->staging + mm->nfolios * PAGE_SIZE;
	/* window eviction needs /proc/self/mem and PROCMAP_QUERY (6.11) */
	if (mm->mem_fd < 0 || mm->pidfd < 0 ||
	    !vma_covers(mm, (uint64_t)(uintptr_t)mm->staging,
			(uint64_t)(uintptr_t)mm->staging + PAGE_SIZE))
		mm->p.wp_evict = false;
	madvise(mm->staging, mm->staging_len, MADV_NOHUGEPAGE);
	ret = uffd_register(&mm->stage_uffd, mm->staging, mm->staging_len,
			    UFFD_REG_WP);
	if (ret < 0)
		goto fail;
	ret = folio_pool_create(mm->staging, mm->nfolios, &mm->pool);
	if (ret < 0) {
		mm->pool = NULL;
		goto fail;
	}
	mm->fmeta = priv_calloc(mm->nfolios, sizeof(*mm->fmeta));
	if (!mm->fmeta) {
		ret = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < mm->nfolios; i++)
		mm->fmeta[i].prev = mm->fmeta[i].next = -1;
	mm->zero_page = mmap(NULL, 64 * PAGE_SIZE, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mm->zero_page == MAP_FAILED) {
		mm->zero_page = NULL;
		ret = -ENOMEM;
		goto fail;
	}
	ret = mm_handlers_start(mm);
	if (ret < 0)
		goto fail_threads;
	if (p->sigbus) {
		ret = mm_sigbus_register(mm);
		if (ret < 0)
			goto fail_threads;
		mm->sigbus_registered = true;
	}
	if (!p->no_reclaimer) {
		ret = mm_reclaimer_start(mm);
		if (ret < 0)
			goto fail_threads;
	}
	mm_fork_register(mm);
	*out = mm;
	return 0;
fail_threads:
	mm_handlers_stop(mm);
fail:
	mm_free(mm);
	return ret;
}

void mm_destroy(struct mm *mm)
{
	struct folio *folio;

	if (!mm)
		return;
	mm_fork_unregister(mm);
	atomic_store(&mm->closing, true);
	mm_reclaimer_stop(mm);
	mm_regions_destroy(mm);
	mm_handlers_stop(mm);
	if (mm->sigbus_registered)
		mm_sigbus_unregister(mm);
	/* folios of entries already released may linger on the list */
	while (mm->cache_head >= 0) {
		folio = mm->fmeta[mm->cache_head].folio;
		cache_list_del(mm, folio);
		folio_lock(folio);
		if (folio_test(folio, PG_swapcache)) {
			/* no pte refers to it any more */
			swap_cache_del_folio(folio, NULL);
		}
		madvise(folio->data, PAGE_SIZE, MADV_DONTNEED);
		folio_set_populated(mm, folio, false);
		folio_unlock(folio);
		folio_put(folio);
	}
	mm_free(mm);
}

bool mm_faults_in_thread(const struct mm *mm)
{
	return mm->p.sigbus;
}

#define LOAD(x) atomic_load_explicit(&mm->stats.x, memory_order_relaxed)

void mm_get_stats(struct mm *mm, struct uswap_stats *st)
{
	struct store_stats ss;

	memset(st, 0, sizeof(*st));
	st->faults = LOAD(faults);
	st->faults_zero = LOAD(faults_zero);
	st->faults_minor = LOAD(faults_minor);
	st->faults_major = LOAD(faults_major);
	st->faults_repeat = LOAD(faults_repeat);
	st->eexist = atomic_load_explicit(&mm->uffd.stats.eexist,
					  memory_order_relaxed) +
		     LOAD(eexist);
	st->swapins = LOAD(swapins);
	st->swapouts = LOAD(swapouts);
	st->reclaim_scans = LOAD(reclaim_scans);
	st->sigbus = LOAD(sigbus);
	st->budget = (uint64_t)mm->p.budget_pages * PAGE_SIZE;
	st->mapped = atomic_load(&mm->mapped_pages) * PAGE_SIZE;
	/* isolated: still mapped, or moved out and not yet cached */
	st->resident = (atomic_load(&mm->nr_resident) +
			atomic_load(&mm->nr_isolated)) *
		       PAGE_SIZE;
	st->cached = atomic_load(&mm->nr_cached) * PAGE_SIZE;
	memset(&ss, 0, sizeof(ss));
	if (mm->dev && mm->dev->ops->get_stats)
		mm->dev->ops->get_stats(mm->dev, &ss);
	st->stored = ss.orig_data_size;
	st->compressed = ss.compr_data_size;
	st->held = st->resident + st->cached + ss.mem_used_total;
}
