/*
 * Scenario: the program's own MADV_DONTNEED on a registered region gives a
 * REMOVE event with its range (without it a swapped-out page would come
 * back stale).  madvise blocks until the event is read, so it runs in
 * another thread.
 */
#include "uffd_test.h"

static char *region;

static void *discard(void *arg)
{
	(void)arg;
	CHECK(madvise(region + PG, 2 * PG, MADV_DONTNEED) == 0);
	return NULL;
}

int main(void)
{
	static char buf[PG];
	struct uffd_event ev;
	struct uffd u;
	pthread_t t;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_EVENT_REMOVE, 0);
	region = map_pages(4);
	CHECK(uffd_register(&u, region, 4 * PG, UFFD_REG_MISSING) == 0);
	memset(buf, 9, PG);
	CHECK(uffd_copy(&u, (uintptr_t)region + PG, buf, PG, 0) == 0);
	CHECK(pthread_create(&t, NULL, discard, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_REMOVE);
	CHECK(ev.range.start == (uintptr_t)region + PG);
	CHECK(ev.range.end == (uintptr_t)region + 3 * PG);
	pthread_join(t, NULL);
	uffd_close(&u);
	return 0;
}
