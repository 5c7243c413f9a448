/*
 * The option table (see options.h): every option of uswap is one row of
 * opts[] below, and that row serves the library (struct uswap_config), the
 * USWAP_* environment, the `uswap` command's --flags and docs/options.md.
 * To add an option: add a field to struct uswap_config and struct
 * uswap_options, a row here, and (for a new kind) a case in parse_value
 * and cfg_value.
 *
 * Parsing never allocates and keeps no state; errors are written into the
 * caller's buffer and name the option, as the user wrote it, and the value:
 *	USWAP_BUDGET=12q: not a size (use e.g. 256M, 1G)
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zstd.h>

#include "api/options.h"

#define KiB	     ((size_t)1 << 10)
#define MiB	     ((size_t)1 << 20)
#define SIZE_MAX_OPT ((size_t)1 << 50) /* 1 PiB: beyond is a typo */
#define THREADS_MAX  64

enum opt_kind { OPT_SIZE, OPT_COUNT, OPT_STORE, OPT_POLICY, OPT_FLAG };

struct opt {
	struct uswap_option_info info;
	enum opt_kind kind;
	size_t min, max; /* OPT_SIZE (bytes), OPT_COUNT; 0 allowed when
			      zero_ok */
	bool zero_ok;	 /* 0 means "choose" / "none" */
	unsigned flag;	 /* OPT_FLAG: the USWAP_F_* bit */
};

/* The one table.  Order is the order of `uswap options` and the docs. */
static const struct opt opts[] = {
	{{"budget", "USWAP_BUDGET", "size", "64M",
	  "Resident memory the regions may hold; colder pages are "
	  "compressed.  At least 1M.",
	  false},
	 OPT_SIZE,
	 MiB,
	 SIZE_MAX_OPT,
	 false,
	 0},
	{{"device", "USWAP_DEVICE", "store", "zram",
	  "Where swapped-out pages go: \"zram\" (compressed RAM, lz4), "
	  "\"zram:lz4\", \"zram:zstd\" or \"zram:zstd:LEVEL\" (zstd "
	  "level, negative = faster).",
	  false},
	 OPT_STORE,
	 0,
	 0,
	 false,
	 0},
	{{"policy", "USWAP_POLICY", "policy", "unified",
	  "Swap-in protocol when threads race on one page: unified, "
	  "fallback, waitqueue, sleep, retry (unsafe: test builds only).",
	  false},
	 OPT_POLICY,
	 0,
	 0,
	 false,
	 0},
	{{"threads", "USWAP_THREADS", "count", "0",
	  "Fault handler threads; 0 chooses 1 on up to two online CPUs, "
	  "else 2, the second serving only while faults come from more "
	  "than one thread.  At most 64.",
	  false},
	 OPT_COUNT,
	 1,
	 THREADS_MAX,
	 true,
	 0},
	{{"swap_size", "USWAP_SWAP_SIZE", "size", "8 x budget",
	  "Bytes of swap slots (the most that can be swapped out); 0 "
	  "chooses 8 x budget.  At least 1M.",
	  false},
	 OPT_SIZE,
	 MiB,
	 SIZE_MAX_OPT,
	 true,
	 0},
	{{"store_limit", "USWAP_STORE_LIMIT", "size", "0",
	  "Memory the compressed store may use; 0 = no limit.  At least "
	  "1M.",
	  false},
	 OPT_SIZE,
	 MiB,
	 SIZE_MAX_OPT,
	 true,
	 0},
	{{"sigbus", "USWAP_SIGBUS", "flag", "off",
	  "Serve faults in the faulting thread (UFFD_FEATURE_SIGBUS): "
	  "faster, but a system call touching a page not in memory "
	  "(swapped out or never touched) fails with EFAULT (under "
	  "`uswap run` read, write, recv, send and their variants "
	  "bring their buffers in first, and stdio streams get buffers "
	  "out of uswap memory), and a thread touching one "
	  "with SIGBUS blocked is killed (`uswap run` keeps SIGBUS "
	  "unblocked and covers glibc's thread start and exit: "
	  "docs/preload.md).",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_SIGBUS},
	{{"stats", "USWAP_STATS", "flag", "off",
	  "Print the statistics to stderr at uswap_close.", true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_STATS},
	{{"publish", "USWAP_PUBLISH", "flag", "off",
	  "Publish the statistics for `uswap stat PID`: a memfd named "
	  "uswap-stats, refreshed every 250 ms, readable by the program's "
	  "user and root.",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_PUBLISH},
	{{"evict_move", "USWAP_EVICT_MOVE", "flag", "off",
	  "Evict every page with its own UFFDIO_MOVE (a TLB shootdown "
	  "each) instead of the cold pages around the oldest one together "
	  "(write-protect, copy, one drop: docs/pager.md, \"Window "
	  "eviction\").  For kernels before 6.11, which it needs anyway.",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_EVICT_MOVE},
	{{"no_spin", "USWAP_NO_SPIN", "flag", "off",
	  "The fault handler reading events sleeps as soon as none is "
	  "queued.  By default it first polls for the next one, for up to "
	  "100 us, adapting to how soon they come (docs/pager.md, "
	  "\"Handler spin\"): the faulting thread then wakes no sleeping "
	  "CPU, but the handler uses more CPU.",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_NO_SPIN},
	{{"no_colocate", "USWAP_NO_COLOCATE", "flag", "off",
	  "With sigbus: uswap's own threads (fault handlers, reclaimer) "
	  "run on any CPU.  By default they share one, the last the "
	  "program may use when it starts uswap: every range an eviction "
	  "drops is a hand-off between two of them, a context switch on "
	  "one CPU but two wake-ups of a sleeping CPU on two "
	  "(docs/pager.md, \"One CPU for uswap's threads\").",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_NO_COLOCATE},
	{{"no_carry", "USWAP_NO_CARRY", "flag", "off",
	  "A window eviction cuts its drop at every page in use between "
	  "its cold ones.  By default it drops runs of up to 8 such pages "
	  "with them and puts them straight back: each cut costs one more "
	  "remove event, and while one is pending the kernel refuses every "
	  "install, so faults repeat (docs/pager.md, \"Carried pages\").",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_NO_CARRY},
	{{"no_fault_compress", "USWAP_NO_FAULT_COMPRESS", "flag", "off",
	  "With sigbus: a fault that would pass the budget only waits for "
	  "the reclaimer thread to make room.  By default it first "
	  "compresses the oldest pages of the swap cache itself, as the "
	  "kernel's direct reclaim does in the faulting thread "
	  "(docs/pager.md, \"Compressing in the faulting thread\").",
	  true},
	 OPT_FLAG,
	 0,
	 0,
	 false,
	 USWAP_F_NO_FAULT_COMPRESS},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const policy_names[SWAPIN_NR_POLICIES] = {
	[SWAPIN_UNIFIED] = "unified",	  [SWAPIN_FALLBACK] = "fallback",
	[SWAPIN_WAITQUEUE] = "waitqueue", [SWAPIN_SLEEP] = "sleep",
	[SWAPIN_RETRY] = "retry",	  [SWAPIN_UNSAFE] = "unsafe",
};

/* A parsed value, before it is stored into struct uswap_options. */
union val {
	size_t n;
	unsigned u;
	bool b;
	enum swapin_policy p;
	const char *s;
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
						      const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

const char *swapin_policy_name(enum swapin_policy p)
{
	if ((unsigned)p >= SWAPIN_NR_POLICIES)
		return "?";
	return policy_names[p];
}

const struct uswap_option_info *uswap_option_get(size_t i)
{
	return i < NOPTS ? &opts[i].info : NULL;
}

int uswap_parse_size(const char *s, size_t *out)
{
	unsigned long long v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	switch (*p) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case 'p':
	case 'P':
		shift = 50;
		break;
	}
	if (shift)
		p++;
	if (shift && (p[0] == 'i' || p[0] == 'I') &&
	    (p[1] == 'b' || p[1] == 'B'))
		p += 2; /* "64KiB" */
	else if (*p == 'b' || *p == 'B')
		p++; /* "64KB", "4096B" */
	if (*p)
		return -EINVAL;
	if (v > (unsigned long long)(SIZE_MAX >> shift))
		return -ERANGE;
	*out = (size_t)(v << shift);
	return 0;
}

const char *uswap_format_size(size_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	int i;

	for (i = 4; i >= 0; i--) {
		size_t unit = (size_t)1 << (10 * (i + 1));

		if (bytes >= unit) {
			if (bytes % unit == 0)
				snprintf(buf, len, "%zu%c", bytes / unit,
					 units[i]);
			else
				snprintf(buf, len, "%.1f%c",
					 (double)bytes / (double)unit,
					 units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%zu", bytes);
	return buf;
}

/* parse_count - a decimal number without sign or suffix. */
static int parse_count(const char *s, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > 1000000)
			return -ERANGE;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = v;
	return 0;
}

/* parse_int - an optionally signed decimal, for a zstd level. */
static int parse_int(const char *s, long *out)
{
	bool neg = *s == '-';
	unsigned long v;
	int ret;

	if (*s == '-' || *s == '+')
		s++;
	ret = parse_count(s, &v);
	if (ret)
		return ret;
	*out = neg ? -(long)v : (long)v;
	return 0;
}

/*
 * check_store - validate a store spec: "zram", "zram:lz4", "zram:zstd",
 * "zram:zstd:LEVEL" with LEVEL in [ZSTD_minCLevel(), ZSTD_maxCLevel()].
 * The store's own store_open validates again; this check is here so that
 * a bad USWAP_DEVICE is reported with the option's name, before anything
 * starts.
 */
static int check_store(const char *label, const char *s, char *err,
		       size_t errlen)
{
	static const char use[] =
		"(use zram, zram:lz4, zram:zstd or zram:zstd:LEVEL)";
	const char *rest;
	long level;

	if (strlen(s) >= sizeof(((struct uswap_options *)0)->device))
		return fail(err, errlen, "%s=%.40s...: too long %s", label, s,
			    use);
	if (strncmp(s, "zram", 4) != 0 || (s[4] && s[4] != ':'))
		return fail(err, errlen, "%s=%s: unknown device %s", label, s,
			    use);
	if (!s[4])
		return 0;
	rest = s + 5;
	if (!strcmp(rest, "lz4") || !strcmp(rest, "zstd"))
		return 0;
	if (!strncmp(rest, "lz4:", 4))
		return fail(err, errlen, "%s=%s: lz4 takes no level %s", label,
			    s, use);
	if (strncmp(rest, "zstd:", 5) != 0)
		return fail(err, errlen, "%s=%s: unknown compressor %s", label,
			    s, use);
	if (parse_int(rest + 5, &level) < 0 || level < ZSTD_minCLevel() ||
	    level > ZSTD_maxCLevel())
		return fail(err, errlen,
			    "%s=%s: zstd level must be a number from %d to %d",
			    label, s, ZSTD_minCLevel(), ZSTD_maxCLevel());
	return 0;
}

static int check_policy(const char *label, const char *s,
			enum swapin_policy *out, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < SWAPIN_NR_POLICIES; i++) {
		if (strcmp(s, policy_names[i]) != 0)
			continue;
#ifndef USWAP_TEST_HOOKS
		if (i == SWAPIN_UNSAFE)
			return fail(err, errlen,
				    "%s=%s: a test-build-only policy (it "
				    "loses data on purpose); build with "
				    "-Dtest_hooks=true to use it",
				    label, s);
#endif
		*out = (enum swapin_policy)i;
		return 0;
	}
	return fail(err, errlen,
		    "%s=%s: unknown policy (use unified, fallback, waitqueue, "
		    "sleep or retry)",
		    label, s);
}

static int parse_flag(const char *s, bool *out)
{
	static const char *const on[] = {"1", "yes", "true", "on"};
	static const char *const off[] = {"0", "no", "false", "off"};
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(s, on[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, off[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* check_range - a size or count against the row's limits. */
static int check_range(const struct opt *o, const char *label, const char *text,
		       size_t n, char *err, size_t errlen)
{
	char a[32];

	if (n == 0 && o->zero_ok)
		return 0;
	if (n < o->min) {
		if (o->kind == OPT_SIZE)
			return fail(err, errlen,
				    "%s=%s: too small (at least %s%s)", label,
				    text,
				    uswap_format_size(o->min, a, sizeof(a)),
				    o->zero_ok ? ", or 0" : "");
		return fail(err, errlen, "%s=%s: too small (at least %zu%s)",
			    label, text, o->min, o->zero_ok ? ", or 0" : "");
	}
	if (n > o->max) {
		if (o->kind == OPT_SIZE)
			return fail(err, errlen,
				    "%s=%s: too large (at most %s)", label,
				    text,
				    uswap_format_size(o->max, a, sizeof(a)));
		return fail(err, errlen, "%s=%s: too large (at most %zu)",
			    label, text, o->max);
	}
	return 0;
}

/*
 * parse_value - parse @text for option @o into @v.  @label names where the
 * text came from, as the user wrote it ("USWAP_BUDGET", "budget").
 */
static int parse_value(const struct opt *o, const char *label, const char *text,
		       union val *v, char *err, size_t errlen)
{
	unsigned long n;
	int ret;

	switch (o->kind) {
	case OPT_SIZE:
		ret = uswap_parse_size(text, &v->n);
		if (ret == -ERANGE)
			return fail(err, errlen,
				    "%s=%s: too large (at most 1P)", label,
				    text);
		if (ret < 0)
			return fail(err, errlen,
				    "%s=%s: not a size (use e.g. 256M, 1G)",
				    label, text);
		return check_range(o, label, text, v->n, err, errlen);
	case OPT_COUNT:
		if (parse_count(text, &n) < 0)
			return fail(err, errlen,
				    "%s=%s: not a number (use e.g. 0, 2)",
				    label, text);
		v->u = (unsigned)n;
		return check_range(o, label, text, n, err, errlen);
	case OPT_STORE:
		v->s = text;
		return check_store(label, text, err, errlen);
	case OPT_POLICY:
		return check_policy(label, text, &v->p, err, errlen);
	case OPT_FLAG:
		if (parse_flag(text, &v->b) < 0)
			return fail(err, errlen,
				    "%s=%s: not a flag value (use 1 or 0, "
				    "yes or no, on or off)",
				    label, text);
		return 0;
	}
	return -EINVAL;
}

static const struct opt *find(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].info.name, name))
			return &opts[i];
	return NULL;
}

/* cfg_field - where row @o lives in struct uswap_config. */
static void *cfg_field(const struct opt *o, struct uswap_config *cfg)
{
	const char *n = o->info.name;

	if (!strcmp(n, "budget"))
		return &cfg->budget;
	if (!strcmp(n, "device"))
		return &cfg->device;
	if (!strcmp(n, "policy"))
		return &cfg->policy;
	if (!strcmp(n, "threads"))
		return &cfg->threads;
	if (!strcmp(n, "swap_size"))
		return &cfg->swap_size;
	if (!strcmp(n, "store_limit"))
		return &cfg->store_limit;
	return &cfg->flags; /* OPT_FLAG */
}

int uswap_options_set(struct uswap_config *cfg, const char *name,
		      const char *value, char *err, size_t errlen)
{
	const struct opt *o;
	union val v;
	void *f;
	int ret;

	if (!name || !(o = find(name))) {
		fail(err, errlen, "unknown option '%s' (see `uswap options`)",
		     name ? name : "(null)");
		return -ENOENT;
	}
	if (o->kind == OPT_FLAG && (!value || !*value))
		value = "1";
	if (!value)
		return fail(err, errlen, "%s: needs a value", name);
	ret = parse_value(o, name, value, &v, err, errlen);
	if (ret < 0)
		return ret;
	f = cfg_field(o, cfg);
	switch (o->kind) {
	case OPT_SIZE:
		*(size_t *)f = v.n;
		break;
	case OPT_COUNT:
		*(unsigned *)f = v.u;
		break;
	case OPT_STORE:
	case OPT_POLICY:
		*(const char **)f = value;
		break;
	case OPT_FLAG:
		if (v.b)
			cfg->flags |= o->flag;
		else
			cfg->flags &= ~o->flag;
		break;
	}
	return 0;
}

/*
 * cfg_value - the cfg field of row @o as text to parse, or NULL when the
 * field is zero (unset).  Numbers are printed so that one parser checks
 * all three sources alike.
 */
static const char *cfg_value(const struct opt *o,
			     const struct uswap_config *cfg, char *buf,
			     size_t len)
{
	void *f;

	if (!cfg)
		return NULL;
	f = cfg_field(o, (struct uswap_config *)cfg);
	switch (o->kind) {
	case OPT_SIZE:
		if (!*(size_t *)f)
			return NULL;
		snprintf(buf, len, "%zu", *(size_t *)f);
		return buf;
	case OPT_COUNT:
		if (!*(unsigned *)f)
			return NULL;
		snprintf(buf, len, "%u", *(unsigned *)f);
		return buf;
	case OPT_STORE:
	case OPT_POLICY:
		return *(const char **)f;
	case OPT_FLAG:
		return (cfg->flags & o->flag) ? "1" : NULL;
	}
	return NULL;
}

/*
 * choose_threads - the default handler count: a second handler only with a
 * CPU to spare for it beside two program threads.  On this 2-vCPU VM one
 * handler served two faulting program threads faster than two adaptive
 * ones (docs/pager.md, "One handler by default on two CPUs": 1.04-1.41x
 * the ops/s on uniform, zipf and seq, 2026-11-28); with three CPUs or more
 * the second is kept, unmeasured here.
 */
static unsigned choose_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n >= 3 ? 2 : 1;
}

int uswap_options_resolve(const struct uswap_config *cfg,
			  struct uswap_options *out, char *err, size_t errlen)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *text, *label;
		char buf[32];
		union val v;
		int ret;

		label = o->info.name;
		text = cfg_value(o, cfg, buf, sizeof(buf));
		if (!text) {
			text = getenv(o->info.env);
			label = o->info.env;
			if (text && !*text)
				text = NULL;
		}
		if (!text) {
			/* the default; computed ones are 0 and fixed below */
			label = o->info.name;
			text = o->zero_ok ? "0" : o->info.def;
			if (o->kind == OPT_FLAG)
				text = "0";
		}
		ret = parse_value(o, label, text, &v, err, errlen);
		if (ret < 0)
			return ret;
		switch (o->kind) {
		case OPT_SIZE:
			if (!strcmp(o->info.name, "budget"))
				out->budget = v.n;
			else if (!strcmp(o->info.name, "swap_size"))
				out->swap_size = v.n;
			else
				out->store_limit = v.n;
			break;
		case OPT_COUNT:
			out->threads = v.u;
			break;
		case OPT_STORE:
			snprintf(out->device, sizeof(out->device), "%s", v.s);
			break;
		case OPT_POLICY:
			out->policy = v.p;
			break;
		case OPT_FLAG:
			if (v.b)
				out->flags |= o->flag;
			break;
		}
	}
	if (!out->threads) {
		out->threads = choose_threads();
		out->threads_auto = true;
	}
	if (!out->swap_size)
		out->swap_size =
			out->budget * 8; /* budget <= 1P: no overflow */
	return 0;
}

void uswap_options_print(FILE *f, bool markdown)
{
	size_t i;

	if (markdown) {
		fprintf(f, "# uswap options\n\n"
			   "Generated by `uswap options --markdown` from the "
			   "option table (src/api/options.c); do not edit.\n\n"
			   "Each option can be given three ways, in this order "
			   "of precedence: a non-zero field of `struct "
			   "uswap_config`, the environment variable, the "
			   "default.  The `uswap` command takes `--NAME VALUE` "
			   "(flags: `--NAME`) and sets the field.\n\n"
			   "Sizes are bytes with an optional suffix K, M, G, T "
			   "(powers of 1024): `4096`, `64K`, `256M`, `1G`.\n\n"
			   "| option | environment | type | default | "
			   "meaning |\n"
			   "|---|---|---|---|---|\n");
		for (i = 0; i < NOPTS; i++)
			fprintf(f, "| `%s` | `%s` | %s | %s | %s |\n",
				opts[i].info.name, opts[i].info.env,
				opts[i].info.type, opts[i].info.def,
				opts[i].info.help);
		return;
	}
	fprintf(f, "%-12s %-18s %-7s %-11s %s\n", "OPTION", "ENVIRONMENT",
		"TYPE", "DEFAULT", "MEANING");
	for (i = 0; i < NOPTS; i++)
		fprintf(f, "%-12s %-18s %-7s %-11s %s\n", opts[i].info.name,
			opts[i].info.env, opts[i].info.type, opts[i].info.def,
			opts[i].info.help);
}
