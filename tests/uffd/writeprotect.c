/*
 * Scenario: a present page write-protected with uffd_writeprotect; a
 * writer thread blocks in a WP fault (event: write, wp); reads stay
 * possible; clearing the protection wakes the writer and its write lands.
 */
#include "uffd_test.h"

static struct uffd u;
static char *region;

/* relaxed atomics: TSan cannot see that the kernel holds the write back */
static void *writer(void *arg)
{
	(void)arg;
	__atomic_store_n(&region[5], 77, __ATOMIC_RELAXED);
	return NULL;
}

static char peek(void)
{
	return __atomic_load_n(&region[5], __ATOMIC_RELAXED);
}

int main(void)
{
	static char buf[PG];
	struct uffd_event ev;
	pthread_t t;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_PAGEFAULT_FLAG_WP, 0);
	region = map_pages(1);
	CHECK(uffd_register(&u, region, PG, UFFD_REG_MISSING | UFFD_REG_WP) ==
	      0);
	memset(buf, 1, PG);
	CHECK(uffd_copy(&u, (uintptr_t)region, buf, PG, 0) == 0);
	CHECK(uffd_writeprotect(&u, (uintptr_t)region, PG, true, 0) == 0);
	CHECK(region[5] == 1); /* reads do not fault */
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_FAULT);
	CHECK(ev.fault.wp && ev.fault.write);
	CHECK(ev.fault.addr == (uintptr_t)region);
	CHECK(peek() == 1); /* the write has not happened */
	CHECK(uffd_writeprotect(&u, ev.fault.addr, PG, false, 0) == 0);
	pthread_join(t, NULL);
	CHECK(region[5] == 77);
	uffd_close(&u);
	return 0;
}
