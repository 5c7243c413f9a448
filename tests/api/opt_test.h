/*
 * Helpers of the option-parser tests: CHECK, a clean USWAP_* environment,
 * and expect_err() comparing an error message with the expected one.
 */
#ifndef USWAP_TESTS_API_OPT_TEST_H
#define USWAP_TESTS_API_OPT_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/options.h"

#define CHECK(cond)                                                    \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, \
				__LINE__, #cond);                      \
			exit(1);                                       \
		}                                                      \
	} while (0)

/* clear_env - unset every variable of the option table. */
static inline void clear_env(void)
{
	const struct uswap_option_info *o;
	size_t i;

	for (i = 0; (o = uswap_option_get(i)); i++)
		unsetenv(o->env);
}

/* expect_msg - @err must equal @want (the message the user sees). */
static inline void expect_msg_at(const char *file, int line, const char *err,
				 const char *want)
{
	if (strcmp(err, want) != 0) {
		fprintf(stderr,
			"%s:%d: FAIL: message\n  got:  %s\n  want: %s\n", file,
			line, err, want);
		exit(1);
	}
}
#define expect_msg(err, want) expect_msg_at(__FILE__, __LINE__, err, want)

/* env_err - resolve with USWAP_@name=@value must fail with @want. */
static inline void env_err_at(const char *file, int line, const char *env,
			      const char *value, const char *want)
{
	struct uswap_options o;
	char err[256];
	int ret;

	clear_env();
	setenv(env, value, 1);
	ret = uswap_options_resolve(NULL, &o, err, sizeof(err));
	if (ret != -EINVAL) {
		fprintf(stderr, "%s:%d: FAIL: %s=%s accepted (%d)\n", file,
			line, env, value, ret);
		exit(1);
	}
	expect_msg_at(file, line, err, want);
	clear_env();
}
#define env_err(env, value, want) \
	env_err_at(__FILE__, __LINE__, env, value, want)

/* set_err - uswap_options_set(@name, @value) must fail with @want. */
static inline void set_err_at(const char *file, int line, const char *name,
			      const char *value, const char *want)
{
	struct uswap_config cfg = {0};
	char err[256];

	if (uswap_options_set(&cfg, name, value, err, sizeof(err)) != -EINVAL) {
		fprintf(stderr, "%s:%d: FAIL: %s=%s accepted\n", file, line,
			name, value);
		exit(1);
	}
	expect_msg_at(file, line, err, want);
}
#define set_err(name, value, want) \
	set_err_at(__FILE__, __LINE__, name, value, want)

#endif /* USWAP_TESTS_API_OPT_TEST_H */
