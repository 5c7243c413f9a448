/*
 * Scenario: a write fault served with uffd_zeropage: the writer's write
 * lands (after the kernel's own copy-on-write of the zero page) and the
 * rest of the page reads zero; a second zeropage on it is -EEXIST.
 */
#include "uffd_test.h"

static struct uffd u;
static char *region;

static void *writer(void *arg)
{
	(void)arg;
	region[100] = 42;
	return NULL;
}

int main(void)
{
	struct uffd_event ev;
	pthread_t t;
	size_t i;

	watchdog(20);
	open_or_skip(&u, 0, 0);
	region = map_pages(1);
	CHECK(uffd_register(&u, region, PG, UFFD_REG_MISSING) == 0);
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_FAULT && ev.fault.write);
	CHECK(uffd_zeropage(&u, ev.fault.addr, PG, 0) == 0);
	pthread_join(t, NULL);
	for (i = 0; i < PG; i++)
		CHECK(region[i] == (i == 100 ? 42 : 0));
	CHECK(uffd_zeropage(&u, (uintptr_t)region, PG, 0) == -EEXIST);
	uffd_close(&u);
	return 0;
}
