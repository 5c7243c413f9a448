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
#include <stdio.h>

#include "mm/policy.h"
#include "uswap.h"

struct uswap_options {
	size_t budget;	 /* bytes, >= 1 MiB */
	char device[64]; /* store spec, validated: "zram", ... */
	enum swapin_policy policy;
	unsigned threads;   /* handler threads, >= 1 after resolve */
	bool threads_auto;  /* threads was 0 and was chosen: adaptive */
	size_t swap_size;   /* bytes of slots */
	size_t store_limit; /* bytes, 0 = none */
	unsigned flags;	    /* USWAP_F_* */
};

/*
 * uswap_options_resolve - fill @out from @cfg (NULL = all defaults), then
 * USWAP_* variables for fields @cfg leaves zero, then defaults; validate.
 * Precedence per option: a non-zero cfg field, else a non-empty USWAP_NAME,
 * else the default.  A flag bit set in cfg->flags wins; a clear bit is
 * taken from USWAP_NAME (so cfg cannot turn off a flag the environment
 * sets).  threads 0 becomes 1 on up to two online CPUs, else 2
 * (choose_threads), with threads_auto set (handlers beyond the first
 * serve only while faults come from more than one thread:
 * mm_params.adaptive_handlers); swap_size 0 becomes
 * 8 x budget.
 * Context: any thread; reads the environment (getenv).
 * Return: 0; -EINVAL with a message in @err naming the option and the bad
 * value ("USWAP_BUDGET=12q: not a size (use e.g. 256M, 1G)").
 */
int uswap_options_resolve(const struct uswap_config *cfg,
			  struct uswap_options *out, char *err, size_t errlen);

/*
 * uswap_options_set - set one option by name ("budget", "policy", ...) from
 * a string, as the command line and the environment do.  The value is
 * validated now; string options (device, policy) keep a pointer to @value,
 * which must outlive @cfg's use.  A flag takes "1", "0", "yes", "no",
 * "true", "false", "on", "off" (NULL or "" = on) and sets or clears its
 * bit in cfg->flags.
 * Return: 0; -EINVAL (message in @err: "budget=12q: not a size (use e.g.
 * 256M, 1G)"); -ENOENT for an unknown name (message in @err).
 * Context: any thread; uses no global state.
 */
int uswap_options_set(struct uswap_config *cfg, const char *name,
		      const char *value, char *err, size_t errlen);

/*
 * uswap_parse_size - "4096", "64K", "256M", "2G", "1T" -> bytes.  Suffixes
 * are powers of 1024, case-insensitive, optionally followed by "B" or "iB"
 * ("64KiB", "1gb").  No sign, no spaces, no fractions.
 * Return: 0; -EINVAL (not a size); -ERANGE (does not fit in size_t).
 */
int uswap_parse_size(const char *s, size_t *out);

/* uswap_format_size - bytes -> "64M" (exact) or "1.5G" (rounded). */
const char *uswap_format_size(size_t bytes, char *buf, size_t len);

/* swapin_policy_name - "unified", ...; "?" for an out-of-range value. */
const char *swapin_policy_name(enum swapin_policy p);

/* One row of the option table, for the command and the docs. */
struct uswap_option_info {
	const char *name; /* "budget": --budget, uswap_options_set() */
	const char *env;  /* "USWAP_BUDGET" */
	const char *type; /* "size", "count", "store", "policy", "flag" */
	const char *def;  /* default, as typed ("64M", "8 x budget") */
	const char *help; /* one sentence or two */
	bool is_flag;	  /* a flag: --name takes no value */
};

/* uswap_option_get - row @i of the table, NULL past its end. */
const struct uswap_option_info *uswap_option_get(size_t i);

/*
 * uswap_options_print - write the table to @f: aligned text, or with
 * @markdown the docs/options.md page.
 */
void uswap_options_print(FILE *f, bool markdown);

#endif /* USWAP_API_OPTIONS_H */
