/*
 * Scenario: docs/options.md is what `uswap options --markdown` prints
 * (uswap_options_print), so the committed page cannot drift from the
 * table.  Regenerate with: build/tools/uswap options --markdown >
 * docs/options.md
 */
#include "opt_test.h"

int main(void)
{
	static char want[16384], got[16384];
	const char *src = getenv("USWAP_SRCDIR");
	char path[4096];
	size_t n;
	FILE *f;

	if (!src) {
		fprintf(stderr, "SKIP: USWAP_SRCDIR not set\n");
		return 77;
	}
	snprintf(path, sizeof(path), "%s/docs/options.md", src);
	f = fopen(path, "r");
	CHECK(f);
	n = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[n] = 0;
	f = fmemopen(got, sizeof(got), "w");
	CHECK(f);
	uswap_options_print(f, true);
	fclose(f);
	if (strcmp(want, got) != 0) {
		fprintf(stderr,
			"FAIL: %s is out of date; regenerate it with "
			"`uswap options --markdown`\n",
			path);
		return 1;
	}
	return 0;
}
