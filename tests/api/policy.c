/*
 * Scenario: every policy name resolves to its enum value and back; the
 * `unsafe` policy is accepted only in test builds (USWAP_TEST_HOOKS) and
 * otherwise refused with a message saying it is test-build only.
 */
#include "opt_test.h"

int main(void)
{
	static const char *const names[] = {"unified", "fallback", "waitqueue",
					    "sleep", "retry"};
	struct uswap_config cfg = {0};
	struct uswap_options o;
	char err[256];
	int i;

	clear_env();
	for (i = 0; i < 5; i++) {
		cfg.policy = names[i];
		CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
		CHECK((int)o.policy == i);
		CHECK(!strcmp(swapin_policy_name(o.policy), names[i]));
	}
	cfg.policy = "unsafe";
#ifdef USWAP_TEST_HOOKS
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	CHECK(o.policy == SWAPIN_UNSAFE);
#else
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == -EINVAL);
	expect_msg(err, "policy=unsafe: a test-build-only policy (it loses "
			"data on purpose); build with -Dtest_hooks=true to "
			"use it");
#endif
	return 0;
}
