/*
 * Scenario: fork() of a process with a registered region gives a FORK
 * event carrying the child's uffd; the child's missing fault arrives on
 * that fd and is served through it (without EVENT_FORK the child would
 * read zeros).  Skips when EVENT_FORK is refused (unprivileged).
 */
#include <sys/wait.h>

#include "uffd_test.h"

static char *region;
static pid_t child;

static void *forker(void *arg)
{
	(void)arg;
	child = fork();
	CHECK(child >= 0);
	if (child == 0)
		_exit(region[PG + 1] == 0x66 ? 0 : 1);
	return NULL;
}

int main(void)
{
	static char buf[PG];
	struct uffd_event ev;
	struct uffd u, cu;
	pthread_t t;
	int status;

	watchdog(20);
	open_or_skip(&u, UFFD_FEATURE_EVENT_FORK, 0);
	if (!(u.features & UFFD_FEATURE_EVENT_FORK)) {
		fprintf(stderr,
			"SKIP: EVENT_FORK not permitted (refused "
			"0x%llx)\n",
			(unsigned long long)u.refused);
		return 77;
	}
	region = map_pages(2);
	CHECK(uffd_register(&u, region, 2 * PG, UFFD_REG_MISSING) == 0);
	CHECK(pthread_create(&t, NULL, forker, NULL) == 0);
	read_one(&u, &ev);
	CHECK(ev.kind == UFFD_EV_FORK);
	CHECK(ev.fork.ufd >= 0);
	uffd_adopt(&cu, ev.fork.ufd, u.features);
	pthread_join(t, NULL);

	read_one(&cu, &ev);
	CHECK(ev.kind == UFFD_EV_FAULT);
	CHECK(ev.fault.addr == (uintptr_t)region + PG);
	memset(buf, 0x66, PG);
	CHECK(uffd_copy(&cu, ev.fault.addr, buf, PG, 0) == 0);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	uffd_close(&cu);
	uffd_close(&u);
	return 0;
}
