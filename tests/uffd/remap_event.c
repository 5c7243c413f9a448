/*
 * Scenario: mremap of a registered region gives a REMAP event (from, to,
 * len) and the registration follows the move: a missing page at the new
 * address still faults to us.
 */
#include "uffd_test.h"

static char *region, *moved;

static void *remapper(void *arg)
{
	(void)arg;
	moved = mremap(region, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		       region + 8 * PG);
	CHECK(moved != MAP_FAILED);
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)(unsigned char)moved[PG];
}

int main(void)
{
	static char buf[PG];
	struct uffd_event ev;
	struct uffd u;
	pthread_t t;
	void *ret;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_EVENT_REMAP, 0);
	region = map_pages(12);
	CHECK(munmap(region + 4 * PG, 8 * PG) == 0);
	CHECK(uffd_register(&u, region, 4 * PG, UFFD_REG_MISSING) == 0);
	CHECK(pthread_create(&t, NULL, remapper, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_REMAP);
	CHECK(ev.remap.from == (uintptr_t)region);
	CHECK(ev.remap.to == (uintptr_t)region + 8 * PG);
	CHECK(ev.remap.len == 4 * PG);
	pthread_join(t, NULL);

	CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_FAULT);
	CHECK(ev.fault.addr == (uintptr_t)moved + PG);
	memset(buf, 0x3c, PG);
	CHECK(uffd_copy(&u, ev.fault.addr, buf, PG, 0) == 0);
	pthread_join(t, &ret);
	CHECK((uintptr_t)ret == 0x3c);
	uffd_close(&u);
	return 0;
}
