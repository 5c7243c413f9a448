/*
 * Scenario: the printed option table (text and markdown) lists every
 * option with its variable; the markdown is a table with one row each.
 */
#include "opt_test.h"

static char *print(bool md)
{
	static char buf[16384];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	CHECK(f);
	uswap_options_print(f, md);
	CHECK(!ferror(f));
	fclose(f);
	return buf;
}

int main(void)
{
	const struct uswap_option_info *info;
	char row[128];
	char *text, *md;
	size_t i, rows = 0;

	text = strdup(print(false));
	md = print(true);
	for (i = 0; (info = uswap_option_get(i)); i++) {
		CHECK(strstr(text, info->env));
		CHECK(strstr(text, info->help));
		snprintf(row, sizeof(row), "| `%s` | `%s` |", info->name,
			 info->env);
		CHECK(strstr(md, row));
	}
	for (char *p = md; (p = strstr(p, "\n| `")); p++)
		rows++;
	CHECK(rows == i);
	CHECK(!strncmp(md, "# uswap options", 15));
	free(text);
	return 0;
}
