/*
 * Scenario: for every option, a non-zero cfg field wins over USWAP_NAME,
 * and USWAP_NAME wins over the default; a flag bit set in cfg wins, a
 * clear bit is taken from the environment.
 */
#include "opt_test.h"

int main(void)
{
	struct uswap_config cfg = {0};
	struct uswap_options o;
	char err[256];

	clear_env();
	setenv("USWAP_BUDGET", "128M", 1);
	setenv("USWAP_DEVICE", "zram:zstd", 1);
	setenv("USWAP_POLICY", "retry", 1);
	setenv("USWAP_THREADS", "3", 1);
	setenv("USWAP_SWAP_SIZE", "2G", 1);
	setenv("USWAP_STORE_LIMIT", "32M", 1);
	setenv("USWAP_STATS", "yes", 1);
	setenv("USWAP_SIGBUS", "on", 1);

	/* env over default */
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	CHECK(o.budget == 128ul << 20);
	CHECK(!strcmp(o.device, "zram:zstd"));
	CHECK(o.policy == SWAPIN_RETRY);
	CHECK(o.threads == 3);
	CHECK(o.swap_size == 2ul << 30);
	CHECK(o.store_limit == 32ul << 20);
	CHECK(o.flags == (USWAP_F_STATS | USWAP_F_SIGBUS));

	/* cfg over env */
	cfg.budget = 16ul << 20;
	cfg.device = "zram:lz4";
	cfg.policy = "waitqueue";
	cfg.threads = 1;
	cfg.swap_size = 64ul << 20;
	cfg.store_limit = 8ul << 20;
	cfg.flags = USWAP_F_STATS;
	setenv("USWAP_SIGBUS", "0", 1);
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	CHECK(o.budget == 16ul << 20);
	CHECK(!strcmp(o.device, "zram:lz4"));
	CHECK(o.policy == SWAPIN_WAITQUEUE);
	CHECK(o.threads == 1);
	CHECK(o.swap_size == 64ul << 20);
	CHECK(o.store_limit == 8ul << 20);
	CHECK(o.flags == USWAP_F_STATS);

	/* a good cfg value hides a bad variable: the variable is not read */
	setenv("USWAP_BUDGET", "12q", 1);
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	cfg.budget = 0;
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == -EINVAL);
	expect_msg(err, "USWAP_BUDGET=12q: not a size (use e.g. 256M, 1G)");

	/* uswap_options_set fills cfg, which then wins over env */
	CHECK(uswap_options_set(&cfg, "budget", "2M", err, sizeof(err)) == 0);
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	CHECK(o.budget == 2ul << 20);
	return 0;
}
