/* Number formatting shared by the `uswap` subcommands (tools/fmt.c). */
#ifndef USWAP_TOOLS_FMT_H
#define USWAP_TOOLS_FMT_H

#include <stddef.h>
#include <stdint.h>

/* fmt_size - @b bytes as "512B", "1.5K", "64.0M", ... into @buf. */
const char *fmt_size(uint64_t b, char *buf, size_t len);

#endif /* USWAP_TOOLS_FMT_H */
