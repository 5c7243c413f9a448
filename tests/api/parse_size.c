/*
 * Scenario: uswap_parse_size accepts plain bytes and K/M/G/T/P suffixes
 * (case-insensitive, optional B or iB) and rejects everything else:
 * empty, signs, spaces, fractions, unknown suffixes, overflow.
 */
#include <stdint.h>

#include "opt_test.h"

int main(void)
{
	static const struct {
		const char *s;
		size_t v;
	} good[] = {
		{"0", 0},
		{"4096", 4096},
		{"4096B", 4096},
		{"64K", 64ul << 10},
		{"64k", 64ul << 10},
		{"64KB", 64ul << 10},
		{"64KiB", 64ul << 10},
		{"256M", 256ul << 20},
		{"1G", 1ul << 30},
		{"1gb", 1ul << 30},
		{"2T", 2ul << 40},
		{"1P", 1ul << 50},
		{"16383P", 16383ul << 50},
	};
	static const char *const bad[] = {
		"",    "K",   "-1",    "+1",   " 1",  "1 ",   "1.5G", "12q",
		"1Ki", "1KK", "1GiBx", "0x10", "1e9", "1M B", "M1",   "1iB",
	};
	size_t i, v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		if (uswap_parse_size(good[i].s, &v) != 0 || v != good[i].v) {
			fprintf(stderr, "FAIL: \"%s\" -> %zu\n", good[i].s, v);
			return 1;
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (uswap_parse_size(bad[i], &v) != -EINVAL) {
			fprintf(stderr, "FAIL: \"%s\" accepted\n", bad[i]);
			return 1;
		}
	}
	CHECK(uswap_parse_size(NULL, &v) == -EINVAL);
	CHECK(uswap_parse_size("16384P", &v) == -ERANGE);
	CHECK(uswap_parse_size("99999999999999999999999", &v) == -ERANGE);
	CHECK(uswap_parse_size("18446744073709551615", &v) == 0 &&
	      v == SIZE_MAX);
	CHECK(uswap_parse_size("18446744073709551616", &v) == -ERANGE);
	return 0;
}
