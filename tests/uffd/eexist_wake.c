/*
 * Scenario: the EEXIST race of research Q4.  A thread faults on a page; two
 * "handlers" own its message: the first installs the page with DONTWAKE
 * (as if its wake were lost), the second's uffd_copy finds the page there.
 * uffd_copy must return -EEXIST, count it, and wake the faulter itself,
 * or the faulter sleeps forever (the watchdog fails the test).  Then a
 * two-page copy whose second page exists returns the partial count 4096.
 */
#include "uffd_test.h"

static struct uffd u;
static char *region;

static void *faulter(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)(unsigned char)region[0];
}

int main(void)
{
	static char a[2 * PG], b[2 * PG];
	struct uffd_event ev;
	pthread_t t;
	void *ret;

	watchdog(20);
	open_or_skip(&u, 0, 0);
	region = map_pages(4);
	CHECK(uffd_register(&u, region, 4 * PG, UFFD_REG_MISSING) == 0);
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	CHECK(pthread_create(&t, NULL, faulter, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_FAULT && ev.fault.addr == (uintptr_t)region);

	/* handler 1: installs, wakes nobody */
	CHECK(uffd_copy(&u, ev.fault.addr, a, PG, UFFD_DONTWAKE) == 0);
	/* handler 2: loses; must wake the faulter */
	CHECK(uffd_copy(&u, ev.fault.addr, b, PG, 0) == -EEXIST);
	CHECK(u.stats.eexist == 1);
	CHECK(u.stats.wakes == 1);
	pthread_join(t, &ret);
	CHECK((uintptr_t)ret == 0xa1); /* the winner's data */

	/* partial: page 3 exists, a copy of pages 2-3 does page 2 only */
	CHECK(uffd_copy(&u, (uintptr_t)region + 3 * PG, a, PG, 0) == 0);
	CHECK(uffd_copy(&u, (uintptr_t)region + 2 * PG, b, 2 * PG, 0) == PG);
	CHECK(u.stats.eagain == 1);
	CHECK(uffd_copy(&u, (uintptr_t)region + 3 * PG, b, PG, 0) == -EEXIST);
	CHECK((unsigned char)region[2 * PG] == 0xb2);
	CHECK((unsigned char)region[3 * PG] == 0xa1);
	CHECK(u.stats.eexist == 2 && u.stats.errors == 0);
	uffd_close(&u);
	return 0;
}
