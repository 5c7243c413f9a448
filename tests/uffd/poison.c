/*
 * Scenario: uffd_poison on a missing page makes an access raise SIGBUS
 * (how a device read error reaches the program); the neighbour page is
 * unaffected and a second poison is -EEXIST.
 */
#include <setjmp.h>

#include "uffd_test.h"

static sigjmp_buf jb;
static volatile sig_atomic_t got_sigbus;

static void on_sigbus(int sig)
{
	(void)sig;
	got_sigbus = 1;
	siglongjmp(jb, 1);
}

int main(void)
{
	static char buf[PG];
	volatile char *region;
	struct uffd u;
	struct sigaction sa = {.sa_handler = on_sigbus};

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_POISON, 0);
	region = map_pages(2);
	CHECK(uffd_register(&u, (void *)region, 2 * PG, UFFD_REG_MISSING) == 0);
	CHECK(uffd_poison(&u, (uintptr_t)region, PG, 0) == 0);
	memset(buf, 3, PG);
	CHECK(uffd_copy(&u, (uintptr_t)region + PG, buf, PG, 0) == 0);
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGBUS, &sa, NULL) == 0);
	if (sigsetjmp(jb, 1) == 0) {
		(void)region[10];
		fprintf(stderr, "FAIL: no SIGBUS on a poisoned page\n");
		return 1;
	}
	CHECK(got_sigbus);
	CHECK(region[PG + 10] == 3);
	CHECK(uffd_poison(&u, (uintptr_t)region, PG, 0) == -EEXIST);
	uffd_close(&u);
	return 0;
}
