/*
 * The compressed RAM device ("zram in user space"): a synchronous device of
 * src/store/device.h that keeps each slot's page compressed in memory.
 *
 * A page is kept in one of three forms, decided at store time:
 *   same   one 64-bit word repeated 512 times (zero pages most of all): only
 *          the word is kept, in the slot table; no pool memory.
 *   huge   the compressor cannot bring it to zspool_huge_size() (3632) bytes
 *          or less: the raw page is kept as a 4096-byte pool object, because
 *          an object that big would take a zspage of its own anyway and
 *          loading it needs no decompression.  The same cut as zram's
 *          huge_class_size with zsmalloc's 8-page zspages (zram counts its
 *          8-byte object header in it, we have none: docs/store.md).
 *   object the compressed bytes (lz4 or zstd) in the dense pool (zspool.c).
 *
 * The slot table holds, per slot, the form and lock bits, the compressed size
 * and either the pool handle or the repeated word: 16 bytes, as zram's.  Each
 * slot has its own lock bit, so there is no device-wide lock on the data
 * path: compression and decompression run under the slot lock and one of
 * the device's few work contexts (ctx_claim), and the pool takes a
 * size-class lock for the copy in (store) or the pin (load).
 * Statistics are relaxed atomic counters.
 *
 * Lock order (outermost first):
 *	slot lock bit			zram_store, zram_load, zram_discard,
 *					store_plant_object
 *	  work context bit		zram_store, zram_load (ctx_claim: tries,
 *					yields)
 *	    zspool class lock		(zspool.c)
 *	      zspool run lock
 * Compaction (zram_compact) takes pool locks only, never a slot lock.
 */
#include <errno.h>
#include <limits.h>
#include <lz4.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: the private heap */
#include <zstd.h>

#include "lib/alloc.h"
#include "store/device.h"
#include "store/zram.h"
#include "store/zspool.h"

enum {
	SLOT_LOCK = 1u << 0,	/* held by the thread working on the slot */
	SLOT_USED = 1u << 1,	/* holds a page */
	SLOT_SAME = 1u << 2,	/* ... as one repeated word (val) */
	SLOT_HUGE = 1u << 3,	/* ... as the raw page in the pool */
	SLOT_BADLOAD = 1u << 4, /* test hook: loads fail with -EIO */
};

struct zram_slot {
	atomic_uint flags; /* SLOT_*; other bits change under SLOT_LOCK */
	uint32_t size;	   /* slot lock: object bytes (PAGE_SIZE if huge) */
	uint64_t val;	   /* slot lock: pool handle, or the repeated word */
};

enum zram_counter {
	PAGES_STORED,
	COMPR_BYTES,
	SAME_PAGES,
	HUGE_PAGES,
	LOADS,
	STORES,
	DISCARDS,
	FAILED_LOADS,
	FAILED_STORES,
	NCOUNTERS
};

#define NSHARDS 8

/*
 * Work contexts: ZRAM_CTXS per device, each taken by one thread for one
 * page (ctx_claim) and made on its first use: lz4's compression state and
 * the output buffer, and zstd's compression or decompression context.
 * Why not lz4's default call (its 16 KiB state on the stack) and
 * per-thread zstd contexts (a pthread key): the in-thread mode compresses
 * and decompresses in a SIGBUS handler, on the stack of a program thread,
 * which may be small, and there pthread_setspecific may not be called (it
 * may call malloc, whose lock the interrupted code may hold).  More
 * threads than ZRAM_CTXS at once take turns.
 */
#define ZRAM_CTXS 8

struct zram_ctx {
	LZ4_stream_t lz4[1]; /* LZ4_compress_fast_extState's state */
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	unsigned char out[PAGE_SIZE]; /* compression's output */
};

struct zram {
	struct store_dev dev;
	/* Written at setup only. */
	enum zram_algo algo;
	int level;	  /* zstd level */
	size_t huge_size; /* largest object kept compressed */
	uint64_t mem_limit;
	struct zspool *pool;
	struct zram_slot *slots;
	/* work contexts: ctx[i] belongs to the holder of bit i of ctx_busy */
	struct zram_ctx *ctx[ZRAM_CTXS];
	_Atomic uint32_t ctx_busy;

	/*
	 * Statistics: relaxed atomics (racy snapshots by design), in
	 * NSHARDS cache-line-aligned copies; a thread adds to its own shard
	 * (assigned round robin at its first call), get_stats sums them, so
	 * two threads storing at once do not bounce one cache line.  A shard
	 * may go "negative" (a discard on another thread than the store):
	 * unsigned arithmetic makes the sum right.
	 */
	struct zram_counters {
		atomic_uint_fast64_t c[NCOUNTERS];
	} __attribute__((aligned(64))) shard[NSHARDS];
};

static const struct store_ops zram_ops;

static atomic_uint next_shard;
static _Thread_local unsigned int my_shard = UINT_MAX;

static inline void stat_add(struct zram *z, enum zram_counter c, int64_t v)
{
	if (my_shard == UINT_MAX)
		my_shard = atomic_fetch_add_explicit(&next_shard, 1,
						     memory_order_relaxed) %
			   NSHARDS;
	atomic_fetch_add_explicit(&z->shard[my_shard].c[c], (uint64_t)v,
				  memory_order_relaxed);
}

static uint64_t stat_get(struct zram *z, enum zram_counter c)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < NSHARDS; i++)
		sum += atomic_load_explicit(&z->shard[i].c[c],
					    memory_order_relaxed);
	return sum;
}

/*
 * slot_lock - take @s's lock bit.  The swap core already serialises calls on
 * one slot, so this never waits in a correct program; it is there so that a
 * caller's bug shows as a stall rather than a corrupt table.
 * Context: any thread; spins with sched_yield().
 */
static void slot_lock(struct zram_slot *s)
{
	while (atomic_fetch_or_explicit(&s->flags, SLOT_LOCK,
					memory_order_acquire) &
	       SLOT_LOCK)
		sched_yield();
}

static void slot_unlock(struct zram_slot *s)
{
	atomic_fetch_and_explicit(&s->flags, ~SLOT_LOCK, memory_order_release);
}

static inline unsigned int slot_flags(struct zram_slot *s)
{
	return atomic_load_explicit(&s->flags, memory_order_relaxed);
}

/* Debug tier: functions named _locked, and put_object, hold the slot lock. */
static inline void assert_slot_locked(struct zram_slot *s, const char *fn)
{
#ifdef USWAP_DEBUG
	if (!(slot_flags(s) & SLOT_LOCK)) {
		fprintf(stderr, "zram: %s: slot lock not held\n", fn);
		abort();
	}
#endif
	(void)s;
	(void)fn;
}

static inline void slot_set(struct zram_slot *s, unsigned int bits)
{
	atomic_fetch_or_explicit(&s->flags, bits, memory_order_relaxed);
}

static inline void slot_clear(struct zram_slot *s, unsigned int bits)
{
	atomic_fetch_and_explicit(&s->flags, ~bits, memory_order_relaxed);
}

/* zstd's contexts live on the private heap too (lib/alloc.h) */
static void *zstd_priv_alloc(void *opaque, size_t size)
{
	return priv_malloc(size);
}

static void zstd_priv_free(void *opaque, void *p)
{
	priv_free(p);
}

static const ZSTD_customMem zstd_priv_mem = {zstd_priv_alloc, zstd_priv_free,
					     NULL};

/*
 * ctx_claim - a work context of @z for one page: its bit in ctx_busy
 * taken, the context made on its first claim.  Only the holder of the
 * bit touches z->ctx[i]; the bit's release (ctx_release) and the next
 * claim's compare-exchange order what one holder made before the next
 * holder's use.
 * Return: the index; -ENOMEM (nothing held).
 * Context: any thread, a SIGBUS handler too: never sleeps, never calls
 * malloc (the private heap only); yields while all are busy.
 */
static int ctx_claim(struct zram *z)
{
	for (;;) {
		uint32_t busy = atomic_load_explicit(&z->ctx_busy,
						     memory_order_relaxed);

		for (int i = 0; i < ZRAM_CTXS; i++) {
			uint32_t bit = 1u << i;

			if (busy & bit ||
			    !atomic_compare_exchange_weak_explicit(
				    &z->ctx_busy, &busy, busy | bit,
				    memory_order_acquire, memory_order_relaxed))
				continue;
			if (!z->ctx[i])
				z->ctx[i] = priv_calloc(1, sizeof(*z->ctx[i]));
			if (!z->ctx[i]) {
				atomic_fetch_and_explicit(&z->ctx_busy, ~bit,
							  memory_order_release);
				return -ENOMEM;
			}
			return i;
		}
		sched_yield();
	}
}

static void ctx_release(struct zram *z, int i)
{
	atomic_fetch_and_explicit(&z->ctx_busy, ~(1u << i),
				  memory_order_release);
}

/*
 * compress_page - compress @page into @c->out.
 * Return: the compressed size (1..z->huge_size); 0 when the page does not
 * compress to huge_size bytes or less; -ENOMEM.
 * Context: @c claimed (ctx_claim).
 */
static int compress_page(struct zram *z, struct zram_ctx *c, const void *page)
{
	size_t r;

	if (z->algo == ZRAM_LZ4)
		return LZ4_compress_fast_extState(c->lz4, page, (char *)c->out,
						  PAGE_SIZE, (int)z->huge_size,
						  1);
	if (!c->cctx) {
		c->cctx = ZSTD_createCCtx_advanced(zstd_priv_mem);
		if (!c->cctx)
			return -ENOMEM;
	}
	r = ZSTD_compressCCtx(c->cctx, c->out, z->huge_size, page, PAGE_SIZE,
			      z->level);
	return ZSTD_isError(r) ? 0 : (int)r;
}

/*
 * decompress_page - decompress @len bytes at @src into @page.  The output
 * capacity is exactly PAGE_SIZE and anything but exactly PAGE_SIZE bytes out
 * is corruption.  Return: 0; -EIO; -ENOMEM.
 */
static int decompress_page(struct zram *z, const void *src, size_t len,
			   void *page)
{
	struct zram_ctx *c;
	size_t r;
	int i, ret;

	if (z->algo == ZRAM_LZ4) {
		int n = LZ4_decompress_safe(src, page, (int)len, PAGE_SIZE);

		return n == (int)PAGE_SIZE ? 0 : -EIO;
	}
	i = ctx_claim(z);
	if (i < 0)
		return i;
	c = z->ctx[i];
	if (!c->dctx)
		c->dctx = ZSTD_createDCtx_advanced(zstd_priv_mem);
	if (!c->dctx) {
		ret = -ENOMEM;
	} else {
		r = ZSTD_decompressDCtx(c->dctx, page, PAGE_SIZE, src, len);
		ret = !ZSTD_isError(r) && r == PAGE_SIZE ? 0 : -EIO;
	}
	ctx_release(z, i);
	return ret;
}

/* Is @page one 64-bit word repeated?  Checks the last word first (zram). */
static bool page_same_filled(const void *page, uint64_t *word)
{
	const uint64_t *p = page;
	size_t i, n = PAGE_SIZE / sizeof(*p);

	if (p[0] != p[n - 1])
		return false;
	for (i = 1; i < n - 1; i++)
		if (p[i] != p[0])
			return false;
	*word = p[0];
	return true;
}

static void page_fill(void *page, uint64_t word)
{
	uint64_t *p = page;
	size_t i;

	if (word == 0) {
		memset(page, 0, PAGE_SIZE);
		return;
	}
	for (i = 0; i < PAGE_SIZE / sizeof(*p); i++)
		p[i] = word;
}

static inline struct zram *to_zram(struct store_dev *dev)
{
	return (struct zram *)dev;
}

/*
 * put_object - keep @len bytes of @src in the pool for slot @s.
 * Context: slot lock held; takes a class lock.
 */
static int put_object(struct zram *z, struct zram_slot *s, const void *src,
		      size_t len, bool huge)
{
	uint64_t h;
	int ret;

	assert_slot_locked(s, __func__);
	ret = zspool_store(z->pool, src, len, &h);
	if (ret)
		return ret;
	s->val = h;
	s->size = (uint32_t)len;
	slot_set(s, SLOT_USED | (huge ? SLOT_HUGE : 0));
	stat_add(z, PAGES_STORED, 1);
	stat_add(z, COMPR_BYTES, (int64_t)len);
	if (huge)
		stat_add(z, HUGE_PAGES, 1);
	return 0;
}

/*
 * zram_store - see store_ops.store.  Compression runs in the caller's
 * thread, under the slot lock and a work context.
 * Context: any thread; takes the slot lock and a pool class lock; may block
 * briefly (a new zspage: mmap/madvise).
 */
static int zram_store(struct store_dev *dev, uint32_t slot, const void *page)
{
	struct zram *z = to_zram(dev);
	struct zram_slot *s;
	uint64_t word;
	int ret, len, ci;

	if (slot >= dev->nslots) {
		ret = -EINVAL;
		goto fail_nolock;
	}
	s = &z->slots[slot];
	slot_lock(s);
	if (slot_flags(s) & SLOT_USED) {
		ret = -EINVAL;
		goto fail;
	}
	if (page_same_filled(page, &word)) {
		s->val = word;
		s->size = 0;
		slot_set(s, SLOT_USED | SLOT_SAME);
		stat_add(z, PAGES_STORED, 1);
		stat_add(z, SAME_PAGES, 1);
		goto done;
	}
	ci = ctx_claim(z);
	if (ci < 0) {
		ret = ci;
		goto fail;
	}
	len = compress_page(z, z->ctx[ci], page);
	if (len == 0)
		ret = put_object(z, s, page, PAGE_SIZE, true);
	else if (len > 0)
		ret = put_object(z, s, z->ctx[ci]->out, (size_t)len, false);
	else
		ret = len;
	ctx_release(z, ci);
	if (ret)
		goto fail;
done:
	slot_unlock(s);
	stat_add(z, STORES, 1);
	return 0;
fail:
	slot_unlock(s);
fail_nolock:
	stat_add(z, FAILED_STORES, 1);
	return ret;
}

/*
 * zram_load - see store_ops.load.  The object is read in place in the pool
 * (pinned, see zspool_map) and decompressed straight into @page.
 * Context: any thread; takes the slot lock, a class lock briefly.
 */
static int zram_load(struct store_dev *dev, uint32_t slot, void *page)
{
	struct zram *z = to_zram(dev);
	struct zram_slot *s;
	struct zspool_pin pin;
	unsigned int f;
	int ret;

	if (slot >= dev->nslots) {
		ret = -EINVAL;
		goto fail_nolock;
	}
	s = &z->slots[slot];
	slot_lock(s);
	f = slot_flags(s);
	if (!(f & SLOT_USED)) {
		ret = -ENOENT;
		goto fail;
	}
	if (f & SLOT_BADLOAD) {
		ret = -EIO;
		goto fail;
	}
	if (f & SLOT_SAME) {
		page_fill(page, s->val);
		goto done;
	}
	zspool_map(z->pool, s->val, &pin);
	if (f & SLOT_HUGE) {
		ret = s->size == PAGE_SIZE ? 0 : -EIO;
		if (!ret)
			memcpy(page, pin.ptr, PAGE_SIZE);
	} else {
		ret = decompress_page(z, pin.ptr, s->size, page);
	}
	zspool_unmap(z->pool, &pin);
	if (ret)
		goto fail;
done:
	slot_unlock(s);
	stat_add(z, LOADS, 1);
	return 0;
fail:
	slot_unlock(s);
fail_nolock:
	stat_add(z, FAILED_LOADS, 1);
	return ret;
}

/* Forget @s's data.  Context: slot lock held; takes a class lock. */
static void free_slot_locked(struct zram *z, struct zram_slot *s)
{
	unsigned int f = slot_flags(s);

	assert_slot_locked(s, __func__);
	if (!(f & SLOT_USED))
		return;
	if (f & SLOT_SAME) {
		stat_add(z, SAME_PAGES, -1);
	} else {
		zspool_free(z->pool, s->val);
		stat_add(z, COMPR_BYTES, -(int64_t)s->size);
		if (f & SLOT_HUGE)
			stat_add(z, HUGE_PAGES, -1);
	}
	stat_add(z, PAGES_STORED, -1);
	s->val = 0;
	s->size = 0;
	slot_clear(s, SLOT_USED | SLOT_SAME | SLOT_HUGE | SLOT_BADLOAD);
	stat_add(z, DISCARDS, 1);
}

/* Context: any thread; takes the slot lock and a class lock. */
static void zram_discard(struct store_dev *dev, uint32_t slot)
{
	struct zram *z = to_zram(dev);
	struct zram_slot *s;

	if (slot >= dev->nslots)
		return;
	s = &z->slots[slot];
	slot_lock(s);
	free_slot_locked(z, s);
	slot_unlock(s);
}

/* Context: any thread; lock free; counters may be mutually inconsistent. */
static void zram_get_stats(struct store_dev *dev, struct store_stats *st)
{
	struct zram *z = to_zram(dev);
	struct zspool_stats ps;

	zspool_get_stats(z->pool, &ps);
	memset(st, 0, sizeof(*st));
	st->orig_data_size = stat_get(z, PAGES_STORED) * PAGE_SIZE;
	st->compr_data_size = stat_get(z, COMPR_BYTES);
	st->mem_used_total = ps.pages * PAGE_SIZE;
	st->mem_limit = z->mem_limit;
	st->mem_used_max = ps.pages_max * PAGE_SIZE;
	st->same_pages = stat_get(z, SAME_PAGES);
	st->pages_compacted = ps.pages_compacted;
	st->huge_pages = stat_get(z, HUGE_PAGES);
	st->loads = stat_get(z, LOADS);
	st->stores = stat_get(z, STORES);
	st->discards = stat_get(z, DISCARDS);
	st->failed_loads = stat_get(z, FAILED_LOADS);
	st->failed_stores = stat_get(z, FAILED_STORES);
	st->meta_bytes = ps.meta_bytes + sizeof(*z) +
			 (uint64_t)dev->nslots * sizeof(struct zram_slot);
}

void zram_pool_usage(struct store_dev *dev, struct zspool_usage *u)
{
	zspool_get_usage(to_zram(dev)->pool, u);
}

/* Context: any thread; see zspool_compact(). */
static long zram_compact(struct store_dev *dev)
{
	return zspool_compact(to_zram(dev)->pool);
}

static void zram_destroy(struct store_dev *dev)
{
	struct zram *z = to_zram(dev);

	for (int i = 0; i < ZRAM_CTXS; i++) {
		if (z->ctx[i]) {
			ZSTD_freeCCtx(z->ctx[i]->cctx);
			ZSTD_freeDCtx(z->ctx[i]->dctx);
		}
		priv_free(z->ctx[i]);
	}
	zspool_destroy(z->pool);
	priv_free(z->slots);
	priv_free(z);
}

static const struct store_ops zram_ops = {
	.name = "zram",
	.store = zram_store,
	.load = zram_load,
	.discard = zram_discard,
	.get_stats = zram_get_stats,
	.compact = zram_compact,
	.destroy = zram_destroy,
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int zram_parse_spec(const char *spec, enum zram_algo *algo, int *level,
		    char *err, size_t errlen)
{
	const char *p;
	char *end;
	long v;

	*algo = ZRAM_LZ4;
	*level = 0;
	if (!spec || strncmp(spec, "zram", 4) != 0 ||
	    (spec[4] != '\0' && spec[4] != ':')) {
		set_err(err, errlen, "device spec '%s' is not zram[:ALGO]",
			spec ? spec : "(null)");
		return -EINVAL;
	}
	if (spec[4] == '\0')
		return 0;
	p = spec + 5;
	if (strcmp(p, "lz4") == 0)
		return 0;
	if (strncmp(p, "zstd", 4) != 0 || (p[4] != '\0' && p[4] != ':')) {
		set_err(err, errlen,
			"unknown compressor '%s' in device spec '%s' (lz4, "
			"zstd or zstd:LEVEL)",
			p, spec);
		return -EINVAL;
	}
	*algo = ZRAM_ZSTD;
	*level = ZSTD_CLEVEL_DEFAULT;
	if (p[4] == '\0')
		return 0;
	p += 5;
	errno = 0;
	v = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno || v < ZSTD_minCLevel() ||
	    v > ZSTD_maxCLevel()) {
		set_err(err, errlen,
			"bad zstd level '%s' in device spec '%s' (an integer "
			"from %d to %d)",
			p, spec, ZSTD_minCLevel(), ZSTD_maxCLevel());
		return -EINVAL;
	}
	*level = (int)v;
	return 0;
}

int zram_open(const char *spec, uint32_t nslots, size_t mem_limit,
	      struct store_dev **out, char *err, size_t errlen)
{
	struct zram *z;
	enum zram_algo algo;
	int level, ret;

	ret = zram_parse_spec(spec, &algo, &level, err, errlen);
	if (ret)
		return ret;
	if (nslots == 0) {
		set_err(err, errlen, "device '%s': nslots 0 (want >= 1)", spec);
		return -EINVAL;
	}
	if (mem_limit && mem_limit < PAGE_SIZE) {
		set_err(err, errlen,
			"device '%s': mem_limit %zu is less than a page (%lu); "
			"0 means no limit",
			spec, mem_limit, PAGE_SIZE);
		return -EINVAL;
	}
	z = priv_aligned_alloc(64, sizeof(*z));
	if (!z)
		return -ENOMEM;
	memset(z, 0, sizeof(*z));
	z->dev.ops = &zram_ops;
	z->dev.nslots = nslots;
	z->dev.synchronous = true;
	z->algo = algo;
	z->level = level;
	z->huge_size = zspool_huge_size();
	z->mem_limit = mem_limit;
	/* Large tables come from mmap: untouched slots cost no memory. */
	z->slots = priv_calloc(nslots, sizeof(*z->slots));
	z->pool = zspool_create(mem_limit / PAGE_SIZE);
	if (!z->slots || !z->pool) {
		zspool_destroy(z->pool);
		priv_free(z->slots);
		priv_free(z);
		return -ENOMEM;
	}
	*out = &z->dev;
	return 0;
}

#ifdef USWAP_TEST_HOOKS
int store_inject_load_error(struct store_dev *dev, uint32_t slot, bool on)
{
	struct zram_slot *s;

	if (dev->ops != &zram_ops)
		return -EOPNOTSUPP;
	if (slot >= dev->nslots)
		return -EINVAL;
	s = &to_zram(dev)->slots[slot];
	slot_lock(s);
	if (on)
		slot_set(s, SLOT_BADLOAD);
	else
		slot_clear(s, SLOT_BADLOAD);
	slot_unlock(s);
	return 0;
}

int store_plant_object(struct store_dev *dev, uint32_t slot, const void *obj,
		       size_t len)
{
	struct zram *z = to_zram(dev);
	struct zram_slot *s;
	int ret;

	if (dev->ops != &zram_ops)
		return -EOPNOTSUPP;
	if (slot >= dev->nslots || len == 0 || len > PAGE_SIZE)
		return -EINVAL;
	s = &z->slots[slot];
	slot_lock(s);
	if (slot_flags(s) & SLOT_USED)
		ret = -EINVAL;
	else
		ret = put_object(z, s, obj, len, len == PAGE_SIZE);
	slot_unlock(s);
	if (!ret)
		stat_add(z, STORES, 1);
	return ret;
}
#endif
