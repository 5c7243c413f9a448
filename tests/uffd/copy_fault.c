/*
 * Scenario: a region registered MODE_MISSING; the main thread reads 8
 * pages it never wrote; a handler thread serves each missing fault with
 * uffd_copy of a pattern naming the page.  Every byte read matches, each
 * fault names the faulting thread (THREAD_ID) and is a read fault.
 */
#include <sys/syscall.h>

#include "uffd_test.h"

#define NPAGES 8

static struct uffd u;
static char *region;
static pid_t main_tid;
static int faults;

static void *handler(void *arg)
{
	static char buf[PG];
	struct uffd_event ev;
	int i;

	(void)arg;
	for (i = 0; i < NPAGES; i++) {
		read_one(&u, &ev);
		CHECK(ev.kind == UFFD_EV_FAULT);
		CHECK(ev.fault.tid == main_tid);
		CHECK(!ev.fault.write && !ev.fault.wp);
		CHECK(ev.fault.addr % PG == 0);
		memset(buf, (int)((ev.fault.addr - (uintptr_t)region) / PG) + 1,
		       PG);
		CHECK(uffd_copy(&u, ev.fault.addr, buf, PG, 0) == 0);
		faults++;
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	unsigned long sum = 0;
	size_t i;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_THREAD_ID, 0);
	region = map_pages(NPAGES);
	CHECK(uffd_register(&u, region, NPAGES * PG, UFFD_REG_MISSING) == 0);
	main_tid = (pid_t)syscall(SYS_gettid);
	CHECK(pthread_create(&t, NULL, handler, NULL) == 0);
	for (i = 0; i < NPAGES * PG; i++) {
		CHECK(region[i] == (char)(i / PG + 1));
		sum += (unsigned char)region[i];
	}
	pthread_join(t, NULL);
	CHECK(faults == NPAGES);
	CHECK(sum == PG * (NPAGES * (NPAGES + 1) / 2));
	CHECK(u.stats.eexist == 0 && u.stats.errors == 0);
	uffd_close(&u);
	return 0;
}
