/*
 * store_open(): make a device from its spec string.  The first word of the
 * spec names the device; the rest is the device's own business.  Only the
 * compressed RAM device ("zram...") exists so far.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/device.h"
#include "store/zram.h"

int store_open(const char *spec, uint32_t nslots, size_t mem_limit,
	       struct store_dev **out, char *err, size_t errlen)
{
	if (spec && strncmp(spec, "zram", 4) == 0 &&
	    (spec[4] == '\0' || spec[4] == ':'))
		return zram_open(spec, nslots, mem_limit, out, err, errlen);
	if (err && errlen)
		snprintf(err, errlen, "unknown device '%s' (known: zram)",
			 spec ? spec : "(null)");
	return -EINVAL;
}
