/*
 * Device specs: the accepted forms open, every bad one fails with -EINVAL
 * and a message that names the bad value.
 */
#include <errno.h>

#include "store_test.h"

static void good(const char *spec)
{
	store_close(open_dev(spec, 4, 0));
}

static void bad(const char *spec, uint32_t nslots, size_t limit,
		const char *must_name)
{
	struct store_dev *dev = NULL;
	char err[256] = "";
	int ret = store_open(spec, nslots, limit, &dev, err, sizeof(err));

	if (ret != -EINVAL || dev || !strstr(err, must_name)) {
		fprintf(stderr,
			"spec '%s': ret %d, err '%s', want -EINVAL "
			"naming '%s'\n",
			spec ? spec : "(null)", ret, err, must_name);
		exit(1);
	}
}

int main(void)
{
	good("zram");
	good("zram:lz4");
	good("zram:zstd");
	good("zram:zstd:1");
	good("zram:zstd:-3");
	good("zram:zstd:22");
	bad("zran", 4, 0, "'zran'");
	bad("zramx", 4, 0, "'zramx'");
	bad("", 4, 0, "''");
	bad(NULL, 4, 0, "(null)");
	bad("zram:lzo", 4, 0, "'lzo'");
	bad("zram:", 4, 0, "''");
	bad("zram:lz4:3", 4, 0, "'lz4:3'");
	bad("zram:zstd:", 4, 0, "level ''");
	bad("zram:zstd:x", 4, 0, "'x'");
	bad("zram:zstd:3x", 4, 0, "'3x'");
	bad("zram:zstd:99", 4, 0, "'99'");
	bad("zram:zstd:-999999", 4, 0, "'-999999'");
	bad("zram:zstd:99999999999999999999", 4, 0, "'99999999999999999999'");
	bad("zram", 0, 0, "nslots 0");
	bad("zram", 4, 100, "mem_limit 100");
	return 0;
}
