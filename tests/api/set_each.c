/*
 * Scenario: uswap_options_set sets every option of the table by name from
 * a string into struct uswap_config (the command line's path), flags with
 * or without a value; an unknown name is -ENOENT with a message.
 */
#include "opt_test.h"

int main(void)
{
	struct uswap_config cfg = {0};
	struct uswap_options o;
	const struct uswap_option_info *info;
	char err[256];
	size_t i;

	clear_env();
	CHECK(uswap_options_set(&cfg, "budget", "256M", err, 256) == 0);
	CHECK(cfg.budget == 256ul << 20);
	CHECK(uswap_options_set(&cfg, "device", "zram:zstd:-3", err, 256) == 0);
	CHECK(!strcmp(cfg.device, "zram:zstd:-3"));
	CHECK(uswap_options_set(&cfg, "policy", "fallback", err, 256) == 0);
	CHECK(!strcmp(cfg.policy, "fallback"));
	CHECK(uswap_options_set(&cfg, "threads", "4", err, 256) == 0);
	CHECK(cfg.threads == 4);
	CHECK(uswap_options_set(&cfg, "swap_size", "1G", err, 256) == 0);
	CHECK(cfg.swap_size == 1ul << 30);
	CHECK(uswap_options_set(&cfg, "store_limit", "100M", err, 256) == 0);
	CHECK(cfg.store_limit == 100ul << 20);
	CHECK(uswap_options_set(&cfg, "stats", NULL, err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_STATS);
	CHECK(uswap_options_set(&cfg, "sigbus", "true", err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_STATS | USWAP_F_SIGBUS));
	CHECK(uswap_options_set(&cfg, "stats", "off", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_set(&cfg, "publish", "1", err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_SIGBUS | USWAP_F_PUBLISH));
	CHECK(uswap_options_set(&cfg, "publish", "0", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_set(&cfg, "evict_move", "on", err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_SIGBUS | USWAP_F_EVICT_MOVE));
	CHECK(uswap_options_set(&cfg, "evict_move", "off", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_set(&cfg, "no_spin", NULL, err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_SIGBUS | USWAP_F_NO_SPIN));
	CHECK(uswap_options_set(&cfg, "no_spin", "no", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_set(&cfg, "no_colocate", "yes", err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_SIGBUS | USWAP_F_NO_COLOCATE));
	CHECK(uswap_options_set(&cfg, "no_colocate", "off", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_set(&cfg, "no_carry", "1", err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_SIGBUS | USWAP_F_NO_CARRY));
	CHECK(uswap_options_set(&cfg, "no_carry", "false", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_set(&cfg, "no_fault_compress", "1", err, 256) == 0);
	CHECK(cfg.flags == (USWAP_F_SIGBUS | USWAP_F_NO_FAULT_COMPRESS));
	CHECK(uswap_options_set(&cfg, "no_fault_compress", "0", err, 256) == 0);
	CHECK(cfg.flags == USWAP_F_SIGBUS);
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == 0);
	CHECK(o.budget == 256ul << 20 && o.threads == 4);
	CHECK(o.policy == SWAPIN_FALLBACK && o.flags == USWAP_F_SIGBUS);
	CHECK(!strcmp(o.device, "zram:zstd:-3"));

	CHECK(uswap_options_set(&cfg, "budgte", "1G", err, 256) == -ENOENT);
	expect_msg(err, "unknown option 'budgte' (see `uswap options`)");
	CHECK(uswap_options_set(&cfg, NULL, "1G", NULL, 0) == -ENOENT);
	CHECK(uswap_options_set(&cfg, "budget", NULL, err, 256) == -EINVAL);
	expect_msg(err, "budget: needs a value");

	/* every row has a name, a USWAP_ variable, a default and help */
	for (i = 0; (info = uswap_option_get(i)); i++) {
		CHECK(info->name && info->env && info->def && info->help);
		CHECK(!strncmp(info->env, "USWAP_", 6));
	}
	CHECK(i == 14);
	return 0;
}
