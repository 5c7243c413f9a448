/*
 * The option table: one parser for the library (struct uswap_config), the
 * USWAP_* environment variables and the `uswap` command's flags.  Every
 * option is listed once, in options.c; docs/options.md is generated from the
 * same table by `uswap options --markdown`.
 */
#ifndef USWAP_API_OPTIONS_H
#define USWAP_API_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "mm/policy.h"
#include "uswap.h"

struct uswap_options {
	size_t budget;            /* bytes, >= 1 MiB */
	char device[64];          /* store spec, validated: "zram", ... */
	enum swapin_policy policy;
	unsigned threads;         /* handler threads, >= 1 after resolve */
	size_t swap_size;         /* bytes of slots */
	size_t store_limit;       /* bytes, 0 = none */
	unsigned flags;           /* USWAP_F_* */
};

/*
 * uswap_options_resolve - fill @out from @cfg (NULL = all defaults), then
 * USWAP_* variables for fields @cfg leaves zero, then defaults; validate.
 * Return: 0; -EINVAL with a message in @err naming the option and the bad
 * value ("USWAP_BUDGET=12q: not a size (use e.g. 256M, 1G)").
 */
int uswap_options_resolve(const struct uswap_config *cfg,
			  struct uswap_options *out, char *err, size_t errlen);

/*
 * uswap_options_set - set one option by name ("budget", "policy", ...) from
 * a string, as the command line and the environment do.
 * Return: 0; -EINVAL (message in @err); -ENOENT for an unknown name.
 */
int uswap_options_set(struct uswap_config *cfg, const char *name,
		      const char *value, char *err, size_t errlen);

/* uswap_parse_size - "4096", "64K", "256M", "2G" -> bytes. -EINVAL. */
int uswap_parse_size(const char *s, size_t *out);

const char *swapin_policy_name(enum swapin_policy p);

#endif /* USWAP_API_OPTIONS_H */
