/*
 * Tiny helpers for the swap core's test programs: CHECK reports the failing
 * expression with its line and makes the program exit 1 at the end.
 */
#ifndef USWAP_TESTS_SWAP_CHECK_H
#define USWAP_TESTS_SWAP_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                    \
	do {                                                              \
		long long va_ = (long long)(a), vb_ = (long long)(b);     \
		if (va_ != vb_) {                                         \
			fprintf(stderr,                                   \
				"%s:%d: CHECK failed: %s == %s (%lld vs " \
				"%lld)\n",                                \
				__FILE__, __LINE__, #a, #b, va_, vb_);    \
			check_failures++;                                 \
		}                                                         \
	} while (0)

/* check_validate - run swap_validate and fail with its report. */
#define CHECK_VALID(si)                                                     \
	do {                                                                \
		char rep_[4096];                                            \
		int n_ = swap_validate((si), rep_, sizeof(rep_));           \
		if (n_) {                                                   \
			fprintf(stderr,                                     \
				"%s:%d: swap_validate: %d violations:\n%s", \
				__FILE__, __LINE__, n_, rep_);              \
			check_failures++;                                   \
		}                                                           \
	} while (0)

static inline int check_exit(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d checks failed\n", name, check_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

#endif /* USWAP_TESTS_SWAP_CHECK_H */
