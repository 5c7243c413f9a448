/*
 * Fuzz target: the option parser.  The input is "NAME\nVALUE\n..." (the
 * first byte picks the path): uswap_options_set by name then
 * uswap_options_resolve over cfg, or the value put in the option's USWAP_*
 * variable and resolved from the environment; also uswap_parse_size and
 * uswap_format_size on the value.  It must never crash, and what resolve
 * accepts must satisfy the table's limits; a refused value must come with
 * a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct uswap_options *o, int ret, const char *err)
{
	if (ret == 0) {
		if (o->budget < (1u << 20) || !o->device[0] || o->threads < 1 ||
		    o->threads > 64 ||
		    (unsigned)o->policy >= SWAPIN_NR_POLICIES ||
		    o->swap_size < (1u << 20) ||
		    (o->store_limit && o->store_limit < (1u << 20)))
			abort();
	} else if (ret != -EINVAL || !err[0]) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uswap_config cfg = {0};
	struct uswap_options o;
	const struct uswap_option_info *info;
	char err[256], fmt[32];
	char *buf, *name, *value, *next;
	size_t n = 0, bytes;
	int ret, mode;

	if (size < 1 || size > 4096)
		return 0;
	mode = data[0];
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0; /* NUL-terminated: strings stop at the first NUL */
	while (uswap_option_get(n))
		n++;

	for (name = buf; name && *name; name = next) {
		value = strchr(name, '\n');
		if (!value)
			break;
		*value++ = 0;
		next = strchr(value, '\n');
		if (next)
			*next++ = 0;
		if (uswap_parse_size(value, &bytes) == 0)
			uswap_format_size(bytes, fmt, sizeof(fmt));
		if (mode & 1) {
			info = uswap_option_get((size_t)mode % n);
			setenv(info->env, value, 1);
			err[0] = 0;
			ret = uswap_options_resolve(NULL, &o, err, sizeof(err));
			check(&o, ret, err);
			unsetenv(info->env);
		} else {
			err[0] = 0;
			ret = uswap_options_set(&cfg, name, value, err,
						sizeof(err));
			if (ret != 0 && !err[0])
				abort();
		}
	}
	/* cfg points into buf: resolve before freeing it */
	err[0] = 0;
	ret = uswap_options_resolve(&cfg, &o, err, sizeof(err));
	check(&o, ret, err);
	free(buf);
	return 0;
}
