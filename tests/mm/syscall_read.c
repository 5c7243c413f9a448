/*
 * Scenario: system calls on swapped-out pages.  read(2) from a pipe into a
 * page that is swapped out (compressed, and merely cached), and write(2)
 * from a swapped-out page, must work as on ordinary memory: the kernel's
 * access faults, a handler swaps the page in, the call completes.
 */
#include <fcntl.h>

#include "mmtest.h"

#define NPAGES 64

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 256,
			    .nslots = 4 * NPAGES,
			    .cache_pages = 16};
	struct uswap *u = mt_open(&c);
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);
	char buf[PAGE_SIZE];
	int fds[2];

	CHECK(a, "uswap_map: %s", strerror(errno));
	CHECK(pipe(fds) == 0, "pipe");
	for (size_t i = 0; i < NPAGES; i++)
		memset(a + i * PAGE_SIZE, 'a' + (int)(i % 26), PAGE_SIZE);
	for (int cached = 0; cached < 2; cached++) {
		size_t i = 3 + (size_t)cached;
		char *p = a + i * PAGE_SIZE;

		/* write(2) from a swapped-out page */
		CHECK(mm_evict_range(uswap_mm(u), p, PAGE_SIZE, !cached) == 1,
		      "evict page %zu", i);
		CHECK(pte_is_swap(mt_pte(u, p)), "page %zu not swapped", i);
		CHECK(write(fds[1], p, PAGE_SIZE) == PAGE_SIZE, "write: %s",
		      strerror(errno));
		CHECK(read(fds[0], buf, PAGE_SIZE) == PAGE_SIZE, "read back");
		for (size_t b = 0; b < PAGE_SIZE; b++)
			CHECK(buf[b] == 'a' + (int)(i % 26),
			      "write(2) from page %zu: byte %zu is %d", i, b,
			      buf[b]);
		/* read(2) into a swapped-out page */
		CHECK(mm_evict_range(uswap_mm(u), p, PAGE_SIZE, !cached) == 1,
		      "evict page %zu again", i);
		memset(buf, 'Z', sizeof(buf));
		buf[0] = 'Q';
		CHECK(write(fds[1], buf, 100) == 100, "write pipe");
		CHECK(read(fds[0], p + 50, 100) == 100, "read(2) into page: %s",
		      strerror(errno));
		for (size_t b = 0; b < PAGE_SIZE; b++) {
			char want = b < 50 || b >= 150 ? 'a' + (int)(i % 26)
				    : b == 50	       ? 'Q'
						       : 'Z';

			CHECK(p[b] == want,
			      "read(2) into page %zu: byte %zu is "
			      "%d, want %d",
			      i, b, p[b], want);
		}
	}
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	uswap_close(u);
	return 0;
}
