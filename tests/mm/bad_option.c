/*
 * Scenario: a bad option is refused by uswap_open with -EINVAL and a clear
 * message naming the option and the bad value, before any memory is
 * touched: a bad policy in the config, a bad USWAP_BUDGET in the
 * environment, a bad device spec.  A good configuration then opens.
 */
#include <fcntl.h>

#include "mmtest.h"

/* Run uswap_open(cfg) with stderr captured; return its result. */
static int open_captured(const struct uswap_config *cfg, char *msg, size_t len)
{
	char path[] = "/tmp/uswap-bad-option-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), ret;
	struct uswap *u = NULL;
	ssize_t n;

	CHECK(fd >= 0 && saved >= 0, "mkstemp/dup");
	unlink(path);
	dup2(fd, 2);
	ret = uswap_open(cfg, &u);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, msg, len - 1, 0);
	msg[n > 0 ? n : 0] = 0;
	close(fd);
	if (ret == 0)
		uswap_close(u);
	return ret;
}

int main(void)
{
	struct uswap_config cfg;
	char msg[1024];
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	cfg.policy = "bogus";
	ret = open_captured(&cfg, msg, sizeof(msg));
	CHECK(ret == -EINVAL, "policy=bogus: %d", ret);
	CHECK(strstr(msg, "bogus") && strstr(msg, "policy"),
	      "message does not name the policy: %s", msg);

	memset(&cfg, 0, sizeof(cfg));
	setenv("USWAP_BUDGET", "12q", 1);
	ret = open_captured(&cfg, msg, sizeof(msg));
	CHECK(ret == -EINVAL, "USWAP_BUDGET=12q: %d", ret);
	CHECK(strstr(msg, "12q") && strstr(msg, "BUDGET"),
	      "message does not name the budget: %s", msg);
	unsetenv("USWAP_BUDGET");

	memset(&cfg, 0, sizeof(cfg));
	cfg.device = "zram:snappy";
	ret = open_captured(&cfg, msg, sizeof(msg));
	CHECK(ret == -EINVAL, "device=zram:snappy: %d", ret);
	CHECK(strstr(msg, "snappy"), "message does not name the device: %s",
	      msg);

	memset(&cfg, 0, sizeof(cfg));
	cfg.budget = 4 << 20;
	ret = open_captured(&cfg, msg, sizeof(msg));
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: userfaultfd unavailable\n");
		return 77;
	}
	CHECK(ret == 0, "a good configuration failed: %d: %s", ret, msg);
	return 0;
}
