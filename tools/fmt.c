/* Number formatting shared by the `uswap` subcommands. */
#include <stdio.h>

#include "fmt.h"

const char *fmt_size(uint64_t b, char *buf, size_t len)
{
	static const char u[] = "BKMGTP";
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, i ? "%.1f%c" : "%.0f%c", v, u[i]);
	return buf;
}
