/*
 * Scenario: eviction and swap-in by UFFDIO_MOVE.  A page of a registered
 * region is moved out to a staging buffer registered MODE_WP with the same
 * uffd; the region's page is then missing and the staging page holds the
 * data.  A reader faults on it and the handler moves it back.  Moving from
 * a source hole is -ENOENT; onto a present page is -EEXIST.
 */
#include "uffd_test.h"

static struct uffd u;
static char *region, *staging;

static void *reader(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)(unsigned char)region[PG + 7];
}

int main(void)
{
	static char buf[PG];
	struct uffd_event ev;
	pthread_t t;
	void *ret;
	size_t i;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_MOVE, 0);
	region = map_pages(2);
	staging = map_pages(1);
	CHECK(uffd_register(&u, region, 2 * PG, UFFD_REG_MISSING) == 0);
	CHECK(uffd_register(&u, staging, PG, UFFD_REG_WP) == 0);
	for (i = 0; i < PG; i++)
		buf[i] = (char)(i * 7 + 3);
	CHECK(uffd_copy(&u, (uintptr_t)region + PG, buf, PG, 0) == 0);
	region[PG + 7] = 99; /* a write after install must travel too */

	/* move out */
	CHECK(uffd_move(&u, (uintptr_t)staging, (uintptr_t)region + PG, PG,
			0) == 0);
	CHECK(staging[7] == 99 && staging[8] == buf[8]);
	/* the source is a hole now (moving it to empty page 0) */
	CHECK(uffd_move(&u, (uintptr_t)region, (uintptr_t)region + PG, PG, 0) ==
	      -ENOENT);
	CHECK(uffd_move(&u, (uintptr_t)region, (uintptr_t)region + PG, PG,
			UFFD_ALLOW_SRC_HOLES) == 0);

	/* move back on fault */
	CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_FAULT &&
	      ev.fault.addr == (uintptr_t)region + PG);
	CHECK(uffd_move(&u, ev.fault.addr, (uintptr_t)staging, PG, 0) == 0);
	pthread_join(t, &ret);
	CHECK((uintptr_t)ret == 99);
	for (i = 8; i < PG; i++)
		CHECK(region[PG + i] == buf[i]);

	/* onto a present page: EEXIST */
	CHECK(uffd_copy(&u, (uintptr_t)region, buf, PG, 0) == 0);
	CHECK(uffd_move(&u, (uintptr_t)staging, (uintptr_t)region, PG, 0) == 0);
	CHECK(uffd_copy(&u, (uintptr_t)region, buf, PG, 0) == 0);
	CHECK(uffd_move(&u, (uintptr_t)region, (uintptr_t)staging, PG, 0) ==
	      -EEXIST);
	CHECK(u.stats.errors == 0);
	uffd_close(&u);
	return 0;
}
