/*
 * Swap entries: (device type, slot offset) packed in one 64-bit word, as a
 * one-member struct so that an entry cannot be mixed up with an offset.
 * Value 0 is never a valid entry (slot 0 of every device is reserved as the
 * kernel reserves its swap header), so it can mean "none".
 */
#ifndef USWAP_SWAP_ENTRY_H
#define USWAP_SWAP_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_SWAPFILES	32
#define SWP_TYPE_SHIFT	58
#define SWP_OFFSET_MASK ((UINT64_C(1) << SWP_TYPE_SHIFT) - 1)

typedef struct {
	uint64_t val;
} swp_entry_t;

static inline swp_entry_t swp_entry(unsigned type, uint64_t offset)
{
	return (swp_entry_t){((uint64_t)type << SWP_TYPE_SHIFT) |
			     (offset & SWP_OFFSET_MASK)};
}

static inline unsigned swp_type(swp_entry_t entry)
{
	return (unsigned)(entry.val >> SWP_TYPE_SHIFT);
}

static inline uint64_t swp_offset(swp_entry_t entry)
{
	return entry.val & SWP_OFFSET_MASK;
}

static inline bool swp_entry_same(swp_entry_t a, swp_entry_t b)
{
	return a.val == b.val;
}

static inline bool swp_entry_none(swp_entry_t entry)
{
	return entry.val == 0;
}

#endif /* USWAP_SWAP_ENTRY_H */
