/*
 * Scenario: munmap of part of a registered region gives an UNMAP event
 * with its range (so the pager frees the slots of what was unmapped).
 */
#include "uffd_test.h"

static char *region;

static void *unmapper(void *arg)
{
	(void)arg;
	CHECK(munmap(region + 2 * PG, 2 * PG) == 0);
	return NULL;
}

int main(void)
{
	struct uffd_event ev;
	struct uffd u;
	pthread_t t;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_EVENT_UNMAP, 0);
	region = map_pages(4);
	CHECK(uffd_register(&u, region, 4 * PG, UFFD_REG_MISSING) == 0);
	CHECK(pthread_create(&t, NULL, unmapper, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_UNMAP);
	CHECK(ev.range.start == (uintptr_t)region + 2 * PG);
	CHECK(ev.range.end == (uintptr_t)region + 4 * PG);
	pthread_join(t, NULL);
	uffd_close(&u);
	return 0;
}
