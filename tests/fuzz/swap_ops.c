/*
 * libFuzzer target: swap-map and swap-cache operation sequences on a small
 * device (3 clusters, the last one partial), checked against a simple
 * single-threaded model after every operation, with swap_validate every 64
 * operations and at the end, and a full release that must leave every slot
 * free, every folio back in its pool and exactly one discard per freed
 * slot.  Any mismatch aborts, which libFuzzer reports as a crash.
 *
 * Input: a byte stream; each operation is 3 bytes (op, a, b), decoded by
 * fz_step().  A slot argument picks one of the recently allocated slots
 * when its top bit is set, else any offset (including slot 0, bad slots and
 * offsets past the end).
 *
 * In the default test run, tests/fuzz/replay.c feeds it every file of
 * corpus/swap_ops.  To fuzz with libFuzzer:
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true
 *   meson compile -C build-fuzz tests/fuzz/fuzz_swap_ops
 *   mkdir -p /tmp/swap_corpus && cp -r tests/fuzz/corpus/swap_ops/. /tmp/swap_corpus
 *   build-fuzz/tests/fuzz/fuzz_swap_ops /tmp/swap_corpus -max_len=600 \
 *       -max_total_time=60
 *
 * then copy a few small new inputs worth keeping into corpus/swap_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swap/swap.h"
#include "../swap/testdev.h"

#define FZ_NSLOTS (2 * SWAP_CLUSTER_SLOTS + 100)
#define FZ_NCLUST 3
#define FZ_NFOLIO 16
#define FZ_RECENT 64

struct fz_slot {
	uint32_t count;
	bool pinned, bad;
	int folio;	 /* index in fz.folios cached here, or -1 */
	uint64_t shadow; /* shadow_value, 0 for none */
	uint32_t discards;
};

struct fz_folio {
	struct folio *f; /* NULL: not held */
	int slot;	 /* cached at, or -1 */
	bool locked;
};

static struct {
	struct testdev *td;
	struct swap_info *si;
	struct folio_pool *pool;
	unsigned type;
	struct fz_slot s[FZ_NSLOTS];
	struct fz_folio fo[FZ_NFOLIO];
	uint32_t recent[FZ_RECENT];
	unsigned nrecent;
	unsigned long step;
} fz;

static unsigned char fz_area[FZ_NFOLIO * PAGE_SIZE]
	__attribute__((aligned(PAGE_SIZE)));

#define FZ_CHECK(cond, ...)                                                 \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "swap_ops step %lu: %s: ", fz.step, \
				#cond);                                     \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			abort();                                            \
		}                                                           \
	} while (0)

static swp_entry_t fz_entry(uint64_t off)
{
	return swp_entry(fz.type, off);
}

static bool fz_inuse(uint64_t off)
{
	return off < FZ_NSLOTS && !fz.s[off].bad &&
	       (fz.s[off].count || fz.s[off].pinned);
}

static bool fz_valid(uint64_t off)
{
	return off < FZ_NSLOTS && !fz.s[off].bad;
}

/* the model's side of freeing a slot */
static void fz_maybe_free(uint64_t off)
{
	struct fz_slot *s = &fz.s[off];

	if (s->count || s->pinned)
		return;
	s->shadow = 0;
	s->discards++;
}

static void fz_check_slot(uint64_t off)
{
	swp_entry_t e = fz_entry(off);
	struct fz_slot *s;
	struct folio *f;
	void *sh;

	if (off >= FZ_NSLOTS) {
		FZ_CHECK(swap_count(e) == 0, "off %lu", (unsigned long)off);
		FZ_CHECK(swap_cache_get_folio(e) == NULL, "off %lu",
			 (unsigned long)off);
		return;
	}
	s = &fz.s[off];
	FZ_CHECK(swap_count(e) == (s->bad ? 0 : s->count),
		 "slot %lu count %lu model %u", (unsigned long)off,
		 swap_count(e), s->count);
	FZ_CHECK(swap_pinned(e) == (!s->bad && s->pinned),
		 "slot %lu pinned %d model %d", (unsigned long)off,
		 swap_pinned(e), s->pinned);
	f = swap_cache_get_folio(e);
	FZ_CHECK(f == (s->folio >= 0 ? fz.fo[s->folio].f : NULL),
		 "slot %lu folio %p", (unsigned long)off, (void *)f);
	if (f)
		folio_put(f);
	sh = swap_cache_get_shadow(e);
	FZ_CHECK((sh ? shadow_value(sh) : 0) == (s->folio < 0 ? s->shadow : 0),
		 "slot %lu shadow %p model %lu", (unsigned long)off, sh,
		 (unsigned long)s->shadow);
	FZ_CHECK(testdev_discards(fz.td, off) == s->discards,
		 "slot %lu discards %u model %u", (unsigned long)off,
		 testdev_discards(fz.td, off), s->discards);
}

static void fz_check_all(void)
{
	char rep[1024];
	uint64_t off;
	int n;

	for (off = 0; off < FZ_NSLOTS; off++)
		fz_check_slot(off);
	n = swap_validate(fz.si, rep, sizeof(rep));
	FZ_CHECK(n == 0, "%d violations:\n%s", n, rep);
}

static uint64_t fz_pick(uint8_t a, uint8_t b)
{
	if ((a & 0x80) && fz.nrecent)
		return fz.recent[(a & 0x7f) % fz.nrecent];
	return ((unsigned)(a & 0x7f) << 8 | b) % (FZ_NSLOTS + 4);
}

static void fz_remember(uint64_t off)
{
	if (fz.nrecent < FZ_RECENT)
		fz.recent[fz.nrecent++] = (uint32_t)off;
	else
		fz.recent[fz.step % FZ_RECENT] = (uint32_t)off;
}

static void op_alloc(uint8_t a)
{
	static const unsigned orders[8] = {0, 0, 0, 0, 1, 2, 3, 9};
	unsigned order = orders[a % 8], n = 1u << order, j, c;
	swp_entry_t e;
	uint64_t off;
	int r = swap_alloc(fz.si, order, &e);

	if (r == -ENOSPC) {
		/* no free cluster may hold an aligned run; for order 0, no
		 * usable free slot at all */
		for (c = 0; c < FZ_NCLUST; c++) {
			uint64_t base = (uint64_t)c * SWAP_CLUSTER_SLOTS, o;
			bool empty = true;

			for (o = base; o < base + SWAP_CLUSTER_SLOTS; o++)
				if (fz_inuse(o))
					empty = false;
			for (o = base; o < base + SWAP_CLUSTER_SLOTS; o += n) {
				for (j = 0; j < n; j++)
					if (!fz_valid(o + j) || fz_inuse(o + j))
						break;
				FZ_CHECK(!((order == 0 || empty) && j == n),
					 "-ENOSPC, order %u, run at %lu", order,
					 (unsigned long)o);
			}
		}
		return;
	}
	FZ_CHECK(r == 0, "swap_alloc = %d", r);
	off = swp_offset(e);
	FZ_CHECK(swp_type(e) == fz.type && off % n == 0 &&
			 off / SWAP_CLUSTER_SLOTS ==
				 (off + n - 1) / SWAP_CLUSTER_SLOTS,
		 "order %u at %lu", order, (unsigned long)off);
	for (j = 0; j < n; j++) {
		FZ_CHECK(fz_valid(off + j) && !fz_inuse(off + j),
			 "allocated slot %lu in use or bad",
			 (unsigned long)(off + j));
		fz.s[off + j].pinned = true;
		fz_check_slot(off + j);
	}
	fz_remember(off);
}

static void op_dup(uint64_t off, unsigned n)
{
	unsigned j;

	for (j = 0; j < n; j++) {
		int r = swap_duplicate(fz_entry(off)), want;

		if (!fz_valid(off))
			want = -EINVAL;
		else if (!fz_inuse(off))
			want = -ENOENT;
		else
			want = 0;
		FZ_CHECK(r == want, "dup(%lu) = %d want %d", (unsigned long)off,
			 r, want);
		if (r)
			break;
		fz.s[off].count++;
	}
}

static void op_free(uint64_t off)
{
	if (!fz_valid(off) || !fz.s[off].count)
		return;
	swap_free(fz_entry(off));
	fz.s[off].count--;
	fz_maybe_free(off);
}

static void op_prepare(uint64_t off)
{
	int r = swapcache_prepare(fz_entry(off)), want;

	if (!fz_valid(off))
		want = -EINVAL;
	else if (fz.s[off].pinned)
		want = -EEXIST;
	else if (!fz.s[off].count)
		want = -ENOENT;
	else
		want = 0;
	FZ_CHECK(r == want, "prepare(%lu) = %d want %d", (unsigned long)off, r,
		 want);
	if (!r)
		fz.s[off].pinned = true;
}

static void op_clear(uint64_t off)
{
	if (!fz_valid(off) || !fz.s[off].pinned || fz.s[off].folio >= 0)
		return;
	swapcache_clear(fz_entry(off));
	fz.s[off].pinned = false;
	fz_maybe_free(off);
}

static struct fz_folio *fz_folio(uint8_t b, bool want_held)
{
	struct fz_folio *fo = &fz.fo[b % FZ_NFOLIO];

	return (fo->f != NULL) == want_held ? fo : NULL;
}

static void op_folio_alloc(uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, false);

	if (!fo)
		return;
	fo->f = folio_alloc(fz.pool);
	FZ_CHECK(fo->f != NULL, "pool empty");
	folio_lock(fo->f);
	fo->locked = true;
	fo->slot = -1;
}

static void fz_cache(uint64_t off, struct fz_folio *fo)
{
	fz.s[off].folio = (int)(fo - fz.fo);
	fz.s[off].shadow = 0;
	fo->slot = (int)off;
}

static void op_add(uint64_t off, uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, true);
	void *sh = (void *)1;
	int r, want;

	if (!fo || fo->slot >= 0 || !fo->locked)
		return;
	r = swap_cache_add_folio(fz_entry(off), fo->f, &sh);
	if (!fz_valid(off))
		want = -EINVAL;
	else if (!fz_inuse(off))
		want = -ENOENT;
	else if (fz.s[off].folio >= 0)
		want = -EEXIST;
	else if (!fz.s[off].pinned)
		want = -EINVAL;
	else
		want = 0;
	FZ_CHECK(r == want, "add(%lu) = %d want %d", (unsigned long)off, r,
		 want);
	if (r) {
		FZ_CHECK(sh == NULL, "shadow %p on error", sh);
		return;
	}
	FZ_CHECK((sh ? shadow_value(sh) : 0) == fz.s[off].shadow,
		 "add(%lu) shadow %p model %lu", (unsigned long)off, sh,
		 (unsigned long)fz.s[off].shadow);
	fz_cache(off, fo);
}

static void op_del(uint8_t a, uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, true);
	uint64_t off;

	if (!fo || fo->slot < 0 || !fo->locked)
		return;
	off = (uint64_t)fo->slot;
	swap_cache_del_folio(fo->f, a ? make_shadow(a) : NULL);
	fz.s[off].folio = -1;
	fz.s[off].pinned = false;
	fz.s[off].shadow = a;
	fo->slot = -1;
	fz_maybe_free(off);
	fz_check_slot(off);
}

static void op_prepare_and_add(uint64_t off, uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, true);
	struct folio *other = (struct folio *)1;
	struct folio *want_other = NULL;
	int r, want;

	if (!fo || fo->slot >= 0 || !fo->locked)
		return;
	r = swap_cache_prepare_and_add(fz_entry(off), fo->f, &other);
	if (!fz_valid(off)) {
		want = -EINVAL;
	} else if (!fz.s[off].count) {
		want = -ENOENT;
	} else if (fz.s[off].folio >= 0) {
		want = -EEXIST;
		want_other = fz.fo[fz.s[off].folio].f;
	} else if (fz.s[off].pinned) {
		want = -EEXIST;
	} else {
		want = 0;
	}
	FZ_CHECK(r == want && other == want_other,
		 "prepare_and_add(%lu) = %d %p want %d %p", (unsigned long)off,
		 r, (void *)other, want, (void *)want_other);
	if (other)
		folio_put(other);
	if (r)
		return;
	fz.s[off].pinned = true;
	fz_cache(off, fo);
}

static void fz_uncache(uint64_t off)
{
	struct fz_folio *fo = &fz.fo[fz.s[off].folio];

	fo->slot = -1;
	fz.s[off].folio = -1;
	fz.s[off].pinned = false;
	fz_maybe_free(off);
}

static void op_free_swap_and_cache(uint64_t off)
{
	bool r, want;
	struct fz_slot *s;

	if (!fz_valid(off) || !fz.s[off].count)
		return;
	s = &fz.s[off];
	r = free_swap_and_cache(fz_entry(off));
	s->count--;
	want = !s->count &&
	       (!s->pinned || (s->folio >= 0 && !fz.fo[s->folio].locked));
	FZ_CHECK(r == want, "free_swap_and_cache(%lu) = %d want %d",
		 (unsigned long)off, r, want);
	if (r && s->folio >= 0)
		fz_uncache(off);
	else
		fz_maybe_free(off);
}

static void op_folio_free_swap(uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, true);
	bool r, want;
	uint64_t off;

	if (!fo || !fo->locked)
		return;
	r = folio_free_swap(fo->f);
	want = fo->slot >= 0 && !fz.s[fo->slot].count;
	FZ_CHECK(r == want, "folio_free_swap = %d want %d", r, want);
	if (r) {
		off = (uint64_t)fo->slot;
		fz_uncache(off);
		fz_check_slot(off);
	}
}

static void op_lock_toggle(uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, true);

	if (!fo)
		return;
	if (fo->locked)
		folio_unlock(fo->f);
	else
		FZ_CHECK(folio_trylock(fo->f), "trylock failed");
	fo->locked = !fo->locked;
}

static void op_put(uint8_t b)
{
	struct fz_folio *fo = fz_folio(b, true);

	if (!fo || fo->slot >= 0)
		return;
	if (fo->locked)
		folio_unlock(fo->f);
	folio_put(fo->f);
	fo->f = NULL;
}

static void op_mark_bad(uint64_t off)
{
	int r = swap_mark_bad(fz.si, off), want;

	if (off >= FZ_NSLOTS)
		want = -EINVAL;
	else if (fz.s[off].bad)
		want = 0;
	else if (fz_inuse(off))
		want = -EBUSY;
	else
		want = 0;
	FZ_CHECK(r == want, "mark_bad(%lu) = %d want %d", (unsigned long)off, r,
		 want);
	if (!r)
		fz.s[off].bad = true;
}

static void fz_step(uint8_t op, uint8_t a, uint8_t b)
{
	uint64_t off = fz_pick(a, b);

	switch (op % 16) {
	case 0:
		op_alloc(a);
		break;
	case 1:
		op_dup(off, 1);
		break;
	case 2:
		if (off < FZ_NSLOTS && fz.s[off].count < 150000)
			op_dup(off, 8u * b + 1);
		break;
	case 3:
		op_free(off);
		break;
	case 4:
		op_prepare(off);
		break;
	case 5:
		op_clear(off);
		break;
	case 6:
		op_folio_alloc(b);
		break;
	case 7:
		op_add(off, b);
		break;
	case 8:
		op_del(a, b);
		break;
	case 9:
		op_prepare_and_add(off, b);
		break;
	case 10:
		op_free_swap_and_cache(off);
		break;
	case 11:
		op_folio_free_swap(b);
		break;
	case 12: /* look only */
		break;
	case 13:
		op_lock_toggle(b);
		break;
	case 14:
		op_put(b);
		break;
	case 15:
		if (op & 0x10) /* rarer */
			op_mark_bad(off);
		break;
	}
	fz_check_slot(off);
}

static void fz_release(void)
{
	uint64_t off;
	unsigned i;

	for (off = 0; off < FZ_NSLOTS; off++) {
		struct fz_slot *s = &fz.s[off];

		if (s->bad)
			continue;
		while (s->count)
			op_free(off);
		if (s->folio >= 0) {
			struct fz_folio *fo = &fz.fo[s->folio];

			if (!fo->locked) {
				folio_lock(fo->f);
				fo->locked = true;
			}
			op_del(0, (uint8_t)s->folio);
		} else if (s->pinned) {
			op_clear(off);
		}
	}
	for (i = 0; i < FZ_NFOLIO; i++)
		op_put((uint8_t)i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct swap_usage u;
	uint64_t off;
	size_t i;

	memset(&fz, 0, sizeof(fz));
	for (off = 0; off < FZ_NSLOTS; off++)
		fz.s[off].folio = -1;
	fz.s[0].bad = true;
	fz.td = testdev_create(FZ_NSLOTS, false);
	FZ_CHECK(fz.td != NULL, "testdev");
	FZ_CHECK(swapon(&fz.td->base, FZ_NSLOTS, &fz.si) == 0, "swapon");
	FZ_CHECK(folio_pool_create(fz_area, FZ_NFOLIO, &fz.pool) == 0, "pool");
	fz.type = swap_type_of(fz.si);

	for (i = 0; i + 3 <= size; i += 3) {
		fz.step = i / 3;
		fz_step(data[i], data[i + 1], data[i + 2]);
		if (fz.step % 64 == 63)
			fz_check_all();
	}
	fz_check_all();
	fz_release();
	fz_check_all();
	swap_get_usage(fz.si, &u);
	FZ_CHECK(u.inuse == 0 && u.cached == 0, "inuse %lu cached %lu",
		 (unsigned long)u.inuse, (unsigned long)u.cached);
	FZ_CHECK(u.freed == atomic_load(&fz.td->ndiscards), "freed %lu",
		 (unsigned long)u.freed);
	FZ_CHECK(atomic_load(&fz.td->violations) == 0, "device violations");
	FZ_CHECK(folio_pool_free_count(fz.pool) == FZ_NFOLIO, "folio leak");
	FZ_CHECK(swapoff(fz.si) == 0, "swapoff");
	folio_pool_destroy(fz.pool);
	store_close(&fz.td->base);
	return 0;
}
