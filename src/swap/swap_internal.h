/*
 * The swap core's internals: the swap map's byte encoding, the cluster and
 * device structs, shared by swap.c (the operations) and validate.c (the
 * debug-tier walk).  Nothing outside src/swap/ and its tests includes this.
 */
#ifndef USWAP_SWAP_SWAP_INTERNAL_H
#define USWAP_SWAP_SWAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "swap/swap.h"

/*
 * The swap map: one byte per slot, the kernel's pre-7.0 encoding
 * (include/linux/swap.h):
 *
 *   0              free
 *   1..0x3e        reference count, inline
 *   0x3f           SWAP_MAP_BAD: never allocated (slot 0, bad slots, and
 *                  the slots past the end of the last cluster)
 *   | 0x40         SWAP_HAS_CACHE: the cache pin
 *   | 0x80         COUNT_CONTINUED: the count is above SWAP_MAP_MAX and
 *                  lives in the cluster's continuation table (ci->ext);
 *                  the inline bits then hold SWAP_MAP_MAX
 *
 * The kernel chains continuation pages of 7-bit digits under si->cont_lock;
 * uswap keeps one 32-bit count per slot in a per-cluster table allocated on
 * the first continuation in that cluster (the kernel's later "extended
 * count table" of swap table phase III), under the cluster lock.
 */
#define SWAP_MAP_MAX	0x3e
#define SWAP_MAP_BAD	0x3f
#define SWAP_HAS_CACHE	0x40
#define COUNT_CONTINUED 0x80
#define SWAP_COUNT_MASK 0x3f
#define SWAP_CONT_MAX	UINT32_MAX

/* Cluster list membership (ci->flags). */
enum {
	CLUSTER_NONE = 0, /* isolated by an allocator, on no list */
	CLUSTER_FREE,	  /* no slot in use */
	CLUSTER_NONFULL,  /* on si->nonfull[ci->order] */
	CLUSTER_FRAG,	  /* partly used, failed an allocation of its order */
	CLUSTER_FULL,	  /* every usable slot in use */
};

struct list_node {
	struct list_node *prev, *next;
};

#define SWAP_FREEMAP_WORDS (SWAP_CLUSTER_SLOTS / 64)

struct swap_cluster {
	/*
	 * A mutex, not a spinlock: user space cannot disable preemption, and
	 * on a loaded 2-core machine a preempted spinlock holder makes every
	 * contender burn its whole time slice.  The device's discard also runs
	 * under this lock.  Uncontended, a mutex costs two atomic operations,
	 * like a spinlock.
	 */
	pthread_mutex_t lock;
	/* Everything below: ci->lock, except where it says otherwise. */
	uint16_t count;	  /* slots in use (map byte != 0, not bad) */
	uint16_t nusable; /* slots that are not bad */
	uint16_t ncached; /* table words holding a folio */
	uint16_t ncont;	  /* slots with COUNT_CONTINUED */
	/* flags and list: written with both ci->lock and si->lock held */
	uint8_t flags;
	uint8_t order; /* order this cluster serves while NONFULL */
	bool frag;     /* send to the frag list instead of nonfull */
	/*
	 * the thread whose current cluster this is (a hint for spreading
	 * threads over clusters; cleared when the cluster becomes free or full)
	 */
	const void *cursor_tag;
	struct list_node list;
	uint64_t freemap[SWAP_FREEMAP_WORDS];	 /* bit set = free and usable */
	_Atomic uint8_t map[SWAP_CLUSTER_SLOTS]; /* read racily by swap_count */
	/* continuation counts; allocated once, freed at swapoff */
	_Atomic(_Atomic uint32_t *) ext;
	/* statistics (ci->lock) */
	uint64_t nr_alloc_fast; /* allocations from a thread's cursor */
	uint64_t nr_freed;	/* slots freed (= discards) */
#ifdef USWAP_DEBUG
	const void *owner; /* debug: the thread holding lock */
#endif
} __attribute__((aligned(64)));

struct swap_info {
	unsigned type; /* index in swap_info[]: setup only */
	uint64_t gen;  /* unique per swapon (thread cursors): setup only */
	struct store_dev *dev;	       /* setup only */
	uint64_t max;		       /* nslots: setup only */
	uint32_t nclusters;	       /* setup only */
	struct swap_cluster *clusters; /* setup only (array) */
	/* the swap tables, SWAP_CLUSTER_SLOTS words per cluster: setup only */
	_Atomic uintptr_t *table;

	/* si->lock protects the lists, the list counters and the stats */
	pthread_mutex_t lock;
	struct list_node free_list, frag_list, full_list;
	struct list_node nonfull[SWAP_MAX_ORDER + 1];
	uint32_t nr_free, nr_frag, nr_full, nr_nonfull;
	uint64_t nbad; /* bad usable-range slots (incl. slot 0): si->lock */
	uint64_t nr_alloc_slow, nr_alloc_fail; /* si->lock */
};

static inline struct swap_cluster *swap_cluster_of(struct swap_info *si,
						   uint64_t offset)
{
	return &si->clusters[offset / SWAP_CLUSTER_SLOTS];
}

static inline bool swap_table_is_folio(uintptr_t v)
{
	return v && !(v & 1);
}

static inline bool swap_table_is_shadow(uintptr_t v)
{
	return v & 1;
}

#ifdef USWAP_TEST_HOOKS
/*
 * Race-replay hook: when set, swap_cache_get_folio calls it between reading
 * the table word and taking its reference, to widen that window in stress
 * tests.
 */
extern void (*swap_test_lookup_hook)(void);
/* when true, allocating a continuation table fails (-ENOMEM paths) */
extern bool swap_test_fail_cont_alloc;
#endif

#endif /* USWAP_SWAP_SWAP_INTERNAL_H */
