/*
 * FAIL and CHECK with a printf-style message, for tests that say what they
 * saw: exit status 1 (meson's "fail") after one line on stderr.
 */
#ifndef USWAP_TESTS_FAIL_H
#define USWAP_TESTS_FAIL_H

#include <stdio.h>
#include <stdlib.h>

#define FAIL(...)                                                    \
	do {                                                         \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                        \
		fprintf(stderr, "\n");                               \
		exit(1);                                             \
	} while (0)

#define CHECK(cond, ...)                   \
	do {                               \
		if (!(cond))               \
			FAIL(__VA_ARGS__); \
	} while (0)

#endif /* USWAP_TESTS_FAIL_H */
