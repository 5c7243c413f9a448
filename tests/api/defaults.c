/*
 * Scenario: with no cfg and no USWAP_* variables every option takes its
 * documented default (budget 64M, zram, unified, threads chosen, swap_size
 * 8 x budget, no store limit, no flags); an all-zero cfg is the same; the
 * empty variable counts as unset.
 */
#include "opt_test.h"

static void check_defaults(const struct uswap_options *o)
{
	CHECK(o->budget == 64ul << 20);
	CHECK(!strcmp(o->device, "zram"));
	CHECK(o->policy == SWAPIN_UNIFIED);
	CHECK(o->threads >= 1 && o->threads <= 2);
	CHECK(o->swap_size == 8 * o->budget);
	CHECK(o->store_limit == 0);
	CHECK(o->flags == 0);
}

int main(void)
{
	struct uswap_config cfg = {0};
	struct uswap_options o;
	char err[256];

	clear_env();
	CHECK(uswap_options_resolve(NULL, &o, err, sizeof(err)) == 0);
	check_defaults(&o);
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	check_defaults(&o);
	setenv("USWAP_BUDGET", "", 1);
	setenv("USWAP_POLICY", "", 1);
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	check_defaults(&o);
	/* swap_size follows a non-default budget */
	cfg.budget = 3ul << 20;
	CHECK(uswap_options_resolve(&cfg, &o, NULL, 0) == 0);
	CHECK(o.swap_size == 24ul << 20);
	CHECK(!strcmp(swapin_policy_name(SWAPIN_UNIFIED), "unified"));
	CHECK(!strcmp(swapin_policy_name(SWAPIN_NR_POLICIES), "?"));
	return 0;
}
