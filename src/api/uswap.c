/*
 * The public API (include/uswap.h): an instance is a compressed RAM store,
 * the swap device on it, and a pager (src/mm/) with its regions.
 * uswap_open resolves the options with the one option parser (options.c),
 * opens the store (store_open), attaches it (swapon) and starts the pager;
 * uswap_close undoes it in reverse order after the pager has brought every
 * page back.  Locks: none of its own; see docs/locking.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/alloc.h"
#include "api/api.h"
#include "api/publish.h"

struct uswap {
	struct uswap_options opt; /* set at open */
	struct store_dev *dev;	  /* set at open */
	struct swap_info *si;	  /* set at open */
	struct mm *mm;		  /* set at open */
	struct publisher *pub;	  /* USWAP_F_PUBLISH; set at open */
};

void uswap_default_params(const struct uswap_options *opt, struct mm_params *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->budget_pages = opt->budget / PAGE_SIZE;
	mp->cache_pages = (size_t)-1;
	mp->policy = opt->policy;
	mp->threads = opt->threads ? opt->threads : 2;
	mp->adaptive_handlers = opt->threads_auto;
	mp->fault_around_pages = 16;
	mp->readahead_pages = 8;
	mp->sigbus = (opt->flags & USWAP_F_SIGBUS) != 0;
	mp->colocate = mp->sigbus && !(opt->flags & USWAP_F_NO_COLOCATE);
	mp->wp_evict = !(opt->flags & USWAP_F_EVICT_MOVE);
	mp->zap_carry = opt->flags & USWAP_F_NO_CARRY ? 0 : ZAP_CARRY_RUN;
	mp->throttle_sleeps = opt->flags & USWAP_F_NO_FAULT_COMPRESS;
	mp->spin_max_ns = opt->flags & USWAP_F_NO_SPIN ? 0 : 100000;
}

int uswap_open_params(const struct uswap_options *opt,
		      const struct mm_params *mp, uint32_t nslots,
		      struct uswap **out)
{
	struct mm_params params;
	char err[256] = "";
	struct uswap *u;
	int ret;

	if (!mp) {
		uswap_default_params(opt, &params);
		mp = &params;
	}
	if (!nslots) {
		uint64_t n = opt->swap_size / PAGE_SIZE + 1;

		if (n < 2 || n > UINT32_MAX) {
			fprintf(stderr, "uswap: swap_size=%zu: out of range\n",
				opt->swap_size);
			return -EINVAL;
		}
		nslots = (uint32_t)n;
	}
	u = priv_calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->opt = *opt;
	ret = store_open(opt->device, nslots, opt->store_limit, &u->dev, err,
			 sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "uswap: device=%s: %s\n", opt->device,
			err[0] ? err : strerror(-ret));
		goto fail;
	}
	ret = swapon(u->dev, nslots, &u->si);
	if (ret < 0) {
		fprintf(stderr, "uswap: swapon: %s\n", strerror(-ret));
		goto fail_store;
	}
	ret = mm_create(mp, u->si, u->dev, &u->mm);
	if (ret < 0) {
		if (ret == -EINVAL)
			fprintf(stderr, "uswap: bad pager parameters\n");
		goto fail_swap;
	}
	if (opt->flags & USWAP_F_PUBLISH) {
		ret = publish_start(u, opt->device,
				    swapin_policy_name(opt->policy), &u->pub);
		if (ret < 0) {
			fprintf(stderr, "uswap: publish: %s\n", strerror(-ret));
			goto fail_mm;
		}
	}
	*out = u;
	return 0;
fail_mm:
	mm_destroy(u->mm);
fail_swap:
	swapoff(u->si);
fail_store:
	store_close(u->dev);
fail:
	priv_free(u);
	return ret;
}

int uswap_open(const struct uswap_config *cfg, struct uswap **out)
{
	struct uswap_options opt;
	char err[256] = "";
	int ret;

	if (!out)
		return -EINVAL;
	ret = uswap_options_resolve(cfg, &opt, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "uswap: %s\n", err[0] ? err : "bad option");
		return ret;
	}
	return uswap_open_params(&opt, NULL, 0, out);
}

void *uswap_map(struct uswap *u, size_t len)
{
	int err = 0;
	void *addr;

	if (!u) {
		errno = EINVAL;
		return NULL;
	}
	addr = mm_map(u->mm, len, &err);
	if (!addr)
		errno = -err;
	return addr;
}

int uswap_unmap(struct uswap *u, void *addr, size_t len)
{
	if (!u)
		return -EINVAL;
	return mm_unmap(u->mm, addr, len);
}

void *uswap_mmap(struct uswap *u, void *addr, size_t len, int flags)
{
	int err = 0;
	void *p;

	if (!u) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	p = mm_mmap(u->mm, addr, len, flags, &err);
	if (!p) {
		errno = -err;
		return MAP_FAILED;
	}
	return p;
}

int uswap_adopt(struct uswap *u, void *addr, size_t len, unsigned flags)
{
	long ret;

	if (!u || flags & ~USWAP_ADOPT_PRESENT)
		return -EINVAL;
	ret = mm_adopt(u->mm, addr, len, flags & USWAP_ADOPT_PRESENT);
	return ret < 0 ? (int)ret : 0;
}

void *uswap_mremap(struct uswap *u, void *old_addr, size_t old_len,
		   size_t new_len, int flags, void *new_addr)
{
	int err = 0;
	void *p;

	if (!u) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	p = mm_mremap(u->mm, old_addr, old_len, new_len, flags, new_addr, &err);
	if (!p) {
		errno = -err;
		return MAP_FAILED;
	}
	return p;
}

int uswap_owns(struct uswap *u, const void *addr, size_t len)
{
	return u ? mm_owns(u->mm, addr, len) : 0;
}

int uswap_stats(struct uswap *u, struct uswap_stats *st)
{
	if (!u || !st)
		return -EINVAL;
	mm_get_stats(u->mm, st);
	return 0;
}

int uswap_stats_format(const struct uswap_stats *st, const char *prefix,
		       char *buf, size_t len)
{
	return snprintf(
		buf, len,
		"%s: faults %llu (zero %llu, minor %llu, major %llu, "
		"repeated %llu), eexist %llu, swapins %llu, swapouts %llu, "
		"reclaim scans %llu, sigbus %llu\n"
		"%s: budget %llu, mapped %llu, resident %llu, cached %llu, "
		"stored %llu, compressed %llu, held %llu bytes\n",
		prefix, (unsigned long long)st->faults,
		(unsigned long long)st->faults_zero,
		(unsigned long long)st->faults_minor,
		(unsigned long long)st->faults_major,
		(unsigned long long)st->faults_repeat,
		(unsigned long long)st->eexist, (unsigned long long)st->swapins,
		(unsigned long long)st->swapouts,
		(unsigned long long)st->reclaim_scans,
		(unsigned long long)st->sigbus, prefix,
		(unsigned long long)st->budget, (unsigned long long)st->mapped,
		(unsigned long long)st->resident,
		(unsigned long long)st->cached, (unsigned long long)st->stored,
		(unsigned long long)st->compressed,
		(unsigned long long)st->held);
}

/* USWAP_F_STATS: the statistics on stderr at close, one per line. */
static void print_stats(struct uswap *u)
{
	struct uswap_stats st;
	char buf[1024];

	mm_get_stats(u->mm, &st);
	uswap_stats_format(&st, "uswap", buf, sizeof(buf));
	fputs(buf, stderr);
}

void uswap_close(struct uswap *u)
{
	int ret;

	if (!u)
		return;
	publish_stop(u->pub);
	if (u->opt.flags & USWAP_F_STATS)
		print_stats(u);
	mm_destroy(u->mm);
	ret = swapoff(u->si);
	if (ret < 0) {
		/* a slot leaked: keep the device rather than free under it */
		fprintf(stderr, "uswap: close: swapoff: %s (slots leaked)\n",
			strerror(-ret));
	} else {
		store_close(u->dev);
	}
	priv_free(u);
}

bool uswap_faults_in_thread(struct uswap *u)
{
	return mm_faults_in_thread(u->mm);
}

long uswap_disown(struct uswap *u, void *addr, size_t len)
{
	return mm_disown(u->mm, addr, len);
}

int uswap_sigbus_chain(const struct sigaction *act, struct sigaction *old)
{
	return mm_sigbus_chain(act, old);
}

struct mm *uswap_mm(struct uswap *u)
{
	return u->mm;
}

struct swap_info *uswap_swap_info(struct uswap *u)
{
	return u->si;
}

struct store_dev *uswap_store(struct uswap *u)
{
	return u->dev;
}
