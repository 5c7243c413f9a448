/*
 * Helpers shared by the machine-layer tests (the .c files of tests/uffd): open a uffd
 * or skip, map and register a region, run a handler thread, and a watchdog
 * so that a lost wake-up fails the test instead of hanging it.
 */
#ifndef USWAP_TESTS_UFFD_TEST_H
#define USWAP_TESTS_UFFD_TEST_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uffd/uffd.h"

#define PG 4096ul

#define CHECK(cond)                                                    \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, \
				__LINE__, #cond);                      \
			exit(1);                                       \
		}                                                      \
	} while (0)

static inline void watchdog_fired(int sig)
{
	static const char msg[] = "FAIL: watchdog: a thread never woke\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/* watchdog - fail (not hang) if the test is still running after @sec s. */
static inline void watchdog(unsigned sec)
{
	signal(SIGALRM, watchdog_fired);
	alarm(sec);
}

/* open_or_skip - uffd_open, exit 77 with the reason when unavailable. */
static inline void open_or_skip(struct uffd *u, uint64_t want, unsigned flags)
{
	int ret = uffd_open(u, want, flags);

	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: userfaultfd unavailable: %s\n",
			strerror(-ret));
		exit(77);
	}
	if (ret < 0) {
		fprintf(stderr, "FAIL: uffd_open: %s\n", strerror(-ret));
		exit(1);
	}
}

static inline char *map_pages(size_t n)
{
	void *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/* read_one - read exactly one event, failing the test on error. */
static inline void read_one(struct uffd *u, struct uffd_event *ev)
{
	int n;

	do
		n = uffd_read_events(u, ev, 1);
	while (n == -EINTR);
	if (n != 1) {
		fprintf(stderr, "FAIL: uffd_read_events: %d\n", n);
		exit(1);
	}
}

#endif /* USWAP_TESTS_UFFD_TEST_H */
