/*
 * swap_validate: the debug tier's whole-device check (CONVENTIONS.md,
 * "Assertions in tiers").  Tests call it at quiet points; it recounts the
 * swap map against the pins, the swap tables, the free bitmaps, the
 * per-cluster counters and the cluster lists, and describes every violation.
 *
 * Lock order: each ci->lock in turn, then si->lock inside the last one for
 * the list walk (ci->lock -> si->lock, as in swap.c).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "swap/swap_internal.h"

struct report {
	char *buf;
	size_t len, used;
	int n;
};

__attribute__((format(printf, 2, 3))) static void
violation(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	r->n++;
	if (!r->buf || r->used + 1 >= r->len)
		return;
	va_start(ap, fmt);
	k = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	r->used += (size_t)k;
	if (r->used >= r->len)
		r->used = r->len - 1;
	else if (r->used + 1 < r->len) {
		r->buf[r->used++] = '\n';
		r->buf[r->used] = 0;
	}
}

static void check_slot(struct report *r, struct swap_info *si,
		       struct swap_cluster *ci, uint64_t off, unsigned *inuse,
		       unsigned *cached, unsigned *cont, unsigned *usable)
{
	unsigned i = off % SWAP_CLUSTER_SLOTS;
	uint8_t m = atomic_load_explicit(&ci->map[i], memory_order_relaxed);
	uintptr_t v =
		atomic_load_explicit(&si->table[off], memory_order_relaxed);
	bool freebit = ci->freemap[i / 64] & (UINT64_C(1) << (i % 64));
	bool pinned = m != SWAP_MAP_BAD && (m & SWAP_HAS_CACHE);
	unsigned long count = 0;
	_Atomic uint32_t *ext;

	if (off == 0 && m != SWAP_MAP_BAD)
		violation(r, "slot 0: map %#x, not bad", m);
	if (off >= si->max && m != SWAP_MAP_BAD)
		violation(r, "slot %" PRIu64 " past the end: map %#x", off, m);
	if (m == SWAP_MAP_BAD) {
		if (freebit)
			violation(r, "slot %" PRIu64 ": bad but in freemap",
				  off);
		if (v)
			violation(r, "slot %" PRIu64 ": bad, table %#" PRIxPTR,
				  off, v);
		return;
	}
	(*usable)++;
	if (m == 0) {
		if (!freebit)
			violation(r, "slot %" PRIu64 ": free, not in freemap",
				  off);
		if (v)
			violation(r, "slot %" PRIu64 ": free, table %#" PRIxPTR,
				  off, v);
		return;
	}
	(*inuse)++;
	if (freebit)
		violation(r, "slot %" PRIu64 ": in use (map %#x), in freemap",
			  off, m);
	if (m & COUNT_CONTINUED) {
		(*cont)++;
		ext = atomic_load_explicit(&ci->ext, memory_order_relaxed);
		if ((m & SWAP_COUNT_MASK) != SWAP_MAP_MAX)
			violation(r, "slot %" PRIu64 ": continued, inline %#x",
				  off, m & SWAP_COUNT_MASK);
		if (!ext) {
			violation(r, "slot %" PRIu64 ": continued, no table",
				  off);
		} else {
			count = atomic_load_explicit(&ext[i],
						     memory_order_relaxed);
			if (count <= SWAP_MAP_MAX)
				violation(r,
					  "slot %" PRIu64
					  ": continued count %lu <= %d",
					  off, count, SWAP_MAP_MAX);
		}
	} else {
		count = m & SWAP_COUNT_MASK;
		if (count > SWAP_MAP_MAX)
			violation(r, "slot %" PRIu64 ": inline count %lu", off,
				  count);
	}
	if (!count && !pinned)
		violation(r, "slot %" PRIu64 ": map %#x, no count no pin", off,
			  m);
	if (swap_table_is_folio(v)) {
		struct folio *folio = (struct folio *)v;
		uint64_t fs =
			__atomic_load_n(&folio->swap.val, __ATOMIC_RELAXED);

		(*cached)++;
		if (!pinned)
			violation(r, "slot %" PRIu64 ": folio cached, no pin",
				  off);
		if (fs != swp_entry(si->type, off).val)
			violation(r,
				  "slot %" PRIu64
				  ": folio %p has swap %#" PRIx64,
				  off, (void *)folio, fs);
		if (!folio_test(folio, PG_swapcache))
			violation(r,
				  "slot %" PRIu64
				  ": folio %p without PG_swapcache",
				  off, (void *)folio);
		if (atomic_load_explicit(&folio->refcount,
					 memory_order_relaxed) < 1)
			violation(r, "slot %" PRIu64 ": folio %p refcount %d",
				  off, (void *)folio,
				  (int)atomic_load(&folio->refcount));
	}
}

static const char *list_name(uint8_t f)
{
	static const char *names[] = {"none", "free", "nonfull", "frag",
				      "full"};

	return f <= CLUSTER_FULL ? names[f] : "?";
}

/*
 * swap_validate - see swap.h.
 * Context: takes each ci->lock in turn, si->lock inside; callers quiet.
 */
int swap_validate(struct swap_info *si, char *report, size_t len)
{
	struct report r = {report, len, 0, 0};
	uint32_t c, nlist[CLUSTER_FULL + 1] = {0};
	uint64_t nbad = 0;

	if (report && len)
		report[0] = 0;
	for (c = 0; c < si->nclusters; c++) {
		struct swap_cluster *ci = &si->clusters[c];
		unsigned inuse = 0, cached = 0, cont = 0, usable = 0, i;
		uint8_t want;

		pthread_mutex_lock(&ci->lock);
		for (i = 0; i < SWAP_CLUSTER_SLOTS; i++) {
			uint64_t off = (uint64_t)c * SWAP_CLUSTER_SLOTS + i;

			check_slot(&r, si, ci, off, &inuse, &cached, &cont,
				   &usable);
			if (off < si->max &&
			    atomic_load_explicit(&ci->map[i],
						 memory_order_relaxed) ==
				    SWAP_MAP_BAD)
				nbad++;
		}
		if (inuse != ci->count)
			violation(&r,
				  "cluster %" PRIu32 ": count %u, counted %u",
				  c, ci->count, inuse);
		if (usable != ci->nusable)
			violation(&r,
				  "cluster %" PRIu32 ": nusable %u, counted %u",
				  c, ci->nusable, usable);
		if (cached != ci->ncached)
			violation(&r,
				  "cluster %" PRIu32 ": ncached %u, counted %u",
				  c, ci->ncached, cached);
		if (cont != ci->ncont)
			violation(&r,
				  "cluster %" PRIu32 ": ncont %u, counted %u",
				  c, ci->ncont, cont);
		if (ci->count >= ci->nusable)
			want = CLUSTER_FULL;
		else if (ci->count == 0)
			want = CLUSTER_FREE;
		else if (ci->frag)
			want = CLUSTER_FRAG;
		else
			want = CLUSTER_NONFULL;
		if (ci->flags != want)
			violation(&r,
				  "cluster %" PRIu32 ": on %s list, wants %s",
				  c, list_name(ci->flags), list_name(want));
		if (ci->flags <= CLUSTER_FULL)
			nlist[ci->flags]++;
		pthread_mutex_unlock(&ci->lock);
	}

	pthread_mutex_lock(&si->lock);
	{
		struct {
			struct list_node *head;
			uint8_t flags;
			int order;
		} lists[4 + SWAP_MAX_ORDER];
		uint32_t walked[CLUSTER_FULL + 1] = {0};
		unsigned k, nl = 0;

		lists[nl++] =
			(typeof(lists[0])){&si->free_list, CLUSTER_FREE, -1};
		lists[nl++] =
			(typeof(lists[0])){&si->frag_list, CLUSTER_FRAG, -1};
		lists[nl++] =
			(typeof(lists[0])){&si->full_list, CLUSTER_FULL, -1};
		for (k = 0; k <= SWAP_MAX_ORDER && nl < 4 + SWAP_MAX_ORDER; k++)
			lists[nl++] = (typeof(lists[0])){
				&si->nonfull[k], CLUSTER_NONFULL, (int)k};
		for (k = 0; k < nl; k++) {
			struct list_node *node;
			uint32_t steps = 0;

			for (node = lists[k].head->next;
			     node != lists[k].head && steps <= si->nclusters;
			     node = node->next, steps++) {
				struct swap_cluster *ci =
					(struct swap_cluster
						 *)((char *)node -
						    offsetof(
							    struct swap_cluster,
							    list));
				uint32_t idx = (uint32_t)(ci - si->clusters);

				walked[lists[k].flags]++;
				if (ci->flags != lists[k].flags)
					violation(&r,
						  "cluster %" PRIu32
						  " (%s) on the %s list",
						  idx, list_name(ci->flags),
						  list_name(lists[k].flags));
				if (lists[k].order >= 0 &&
				    ci->order != lists[k].order)
					violation(&r,
						  "cluster %" PRIu32
						  " order %u on nonfull[%d]",
						  idx, ci->order,
						  lists[k].order);
			}
			if (steps > si->nclusters)
				violation(&r, "%s list loops",
					  list_name(lists[k].flags));
		}
		if (walked[CLUSTER_FREE] != si->nr_free ||
		    walked[CLUSTER_FREE] != nlist[CLUSTER_FREE])
			violation(&r, "free list: %u walked, nr %u, flagged %u",
				  walked[CLUSTER_FREE], si->nr_free,
				  nlist[CLUSTER_FREE]);
		if (walked[CLUSTER_FRAG] != si->nr_frag ||
		    walked[CLUSTER_FRAG] != nlist[CLUSTER_FRAG])
			violation(&r, "frag list: %u walked, nr %u, flagged %u",
				  walked[CLUSTER_FRAG], si->nr_frag,
				  nlist[CLUSTER_FRAG]);
		if (walked[CLUSTER_FULL] != si->nr_full ||
		    walked[CLUSTER_FULL] != nlist[CLUSTER_FULL])
			violation(&r, "full list: %u walked, nr %u, flagged %u",
				  walked[CLUSTER_FULL], si->nr_full,
				  nlist[CLUSTER_FULL]);
		if (walked[CLUSTER_NONFULL] != si->nr_nonfull ||
		    walked[CLUSTER_NONFULL] != nlist[CLUSTER_NONFULL])
			violation(&r,
				  "nonfull lists: %u walked, nr %u, flagged %u",
				  walked[CLUSTER_NONFULL], si->nr_nonfull,
				  nlist[CLUSTER_NONFULL]);
		if (nlist[CLUSTER_NONE])
			violation(&r, "%u clusters isolated at a quiet point",
				  nlist[CLUSTER_NONE]);
		if (nbad != si->nbad)
			violation(&r, "nbad %" PRIu64 ", counted %" PRIu64,
				  si->nbad, nbad);
	}
	pthread_mutex_unlock(&si->lock);
	return r.n;
}
