/*
 * Scenario: every kind of bad value of every option is refused with a
 * message naming the option as the user wrote it and the value, from the
 * environment, from uswap_options_set and from a cfg field.
 */
#include "opt_test.h"

int main(void)
{
	struct uswap_config cfg = {0};
	struct uswap_options o;
	char err[256];

	clear_env();
	/* budget */
	env_err("USWAP_BUDGET", "12q",
		"USWAP_BUDGET=12q: not a size (use e.g. 256M, 1G)");
	env_err("USWAP_BUDGET", "512K",
		"USWAP_BUDGET=512K: too small (at least 1M)");
	env_err("USWAP_BUDGET", "0", "USWAP_BUDGET=0: too small (at least 1M)");
	env_err("USWAP_BUDGET", "2P",
		"USWAP_BUDGET=2P: too large (at most 1P)");
	env_err("USWAP_BUDGET", "99999999999P",
		"USWAP_BUDGET=99999999999P: too large (at most 1P)");
	set_err("budget", "-1", "budget=-1: not a size (use e.g. 256M, 1G)");
	/* swap_size, store_limit */
	env_err("USWAP_SWAP_SIZE", "1.5G",
		"USWAP_SWAP_SIZE=1.5G: not a size (use e.g. 256M, 1G)");
	env_err("USWAP_SWAP_SIZE", "4K",
		"USWAP_SWAP_SIZE=4K: too small (at least 1M, or 0)");
	env_err("USWAP_STORE_LIMIT", "lots",
		"USWAP_STORE_LIMIT=lots: not a size (use e.g. 256M, 1G)");
	set_err("store_limit", "100",
		"store_limit=100: too small (at least 1M, or 0)");
	/* threads */
	env_err("USWAP_THREADS", "two",
		"USWAP_THREADS=two: not a number (use e.g. 0, 2)");
	env_err("USWAP_THREADS", "-1",
		"USWAP_THREADS=-1: not a number (use e.g. 0, 2)");
	env_err("USWAP_THREADS", "65",
		"USWAP_THREADS=65: too large (at most 64)");
	set_err("threads", "99999999999",
		"threads=99999999999: not a number (use e.g. 0, 2)");
	/* device */
	env_err("USWAP_DEVICE", "disk",
		"USWAP_DEVICE=disk: unknown device (use zram, zram:lz4, "
		"zram:zstd or zram:zstd:LEVEL)");
	env_err("USWAP_DEVICE", "zramx",
		"USWAP_DEVICE=zramx: unknown device (use zram, zram:lz4, "
		"zram:zstd or zram:zstd:LEVEL)");
	env_err("USWAP_DEVICE", "zram:gzip",
		"USWAP_DEVICE=zram:gzip: unknown compressor (use zram, "
		"zram:lz4, zram:zstd or zram:zstd:LEVEL)");
	env_err("USWAP_DEVICE", "zram:lz4:3",
		"USWAP_DEVICE=zram:lz4:3: lz4 takes no level (use zram, "
		"zram:lz4, zram:zstd or zram:zstd:LEVEL)");
	env_err("USWAP_DEVICE", "zram:",
		"USWAP_DEVICE=zram:: unknown compressor (use zram, zram:lz4, "
		"zram:zstd or zram:zstd:LEVEL)");
	set_err("device", "zram:zstd:99",
		"device=zram:zstd:99: zstd level must be a number from -131072 "
		"to 22");
	set_err("device", "zram:zstd:",
		"device=zram:zstd:: zstd level must be a number from -131072 "
		"to 22");
	set_err("device", "zram:zstd:1x",
		"device=zram:zstd:1x: zstd level must be a number from -131072 "
		"to 22");
	set_err("device",
		"zram:zstd:0000000000000000000000000000000000000000000000000000"
		"000000000001",
		"device=zram:zstd:000000000000000000000000000000...: too "
		"long (use zram, zram:lz4, zram:zstd or zram:zstd:LEVEL)");
	/* policy */
	env_err("USWAP_POLICY", "fast",
		"USWAP_POLICY=fast: unknown policy (use unified, fallback, "
		"waitqueue, sleep or retry)");
	set_err("policy", "Unified",
		"policy=Unified: unknown policy (use unified, fallback, "
		"waitqueue, sleep or retry)");
	/* flags */
	env_err("USWAP_STATS", "maybe",
		"USWAP_STATS=maybe: not a flag value (use 1 or 0, yes or no, "
		"on or off)");
	set_err("sigbus", "2",
		"sigbus=2: not a flag value (use 1 or 0, yes or no, on or "
		"off)");

	/* cfg fields are checked too, named by their field */
	cfg.budget = 4096;
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == -EINVAL);
	expect_msg(err, "budget=4096: too small (at least 1M)");
	cfg.budget = 0;
	cfg.threads = 1000;
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == -EINVAL);
	expect_msg(err, "threads=1000: too large (at most 64)");
	cfg.threads = 0;
	cfg.device = "ram";
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == -EINVAL);
	expect_msg(err, "device=ram: unknown device (use zram, zram:lz4, "
			"zram:zstd or zram:zstd:LEVEL)");
	cfg.device = NULL;
	cfg.policy = "lru";
	CHECK(uswap_options_resolve(&cfg, &o, err, sizeof(err)) == -EINVAL);
	expect_msg(err, "policy=lru: unknown policy (use unified, fallback, "
			"waitqueue, sleep or retry)");
	/* a tiny buffer truncates the message, never overflows; NULL is ok */
	cfg.policy = NULL;
	setenv("USWAP_BUDGET", "12q", 1);
	CHECK(uswap_options_resolve(&cfg, &o, err, 8) == -EINVAL);
	CHECK(strlen(err) == 7);
	CHECK(uswap_options_resolve(&cfg, &o, NULL, 0) == -EINVAL);
	return 0;
}
