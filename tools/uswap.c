/*
 * The `uswap` command.  It uses only the public API (include/uswap.h) and
 * the option table (src/api/options.h) for parsing, like any program that
 * links libuswap.
 *
 *   uswap demo [OPTIONS]      a mixed, verified workload over 4 x budget
 *   uswap run [OPTIONS] -- PROGRAM [ARGS...]   PROGRAM paged by uswap
 *                             (tools/run.c)
 *   uswap options [--markdown] the option table (docs/options.md)
 *   uswap --help | help
 *
 * The demo is a small key-value store living in uswap memory: fixed-size
 * records, each carrying its key, a version and a checksum, and a payload
 * generated from (key, version) -- so every byte read can be checked
 * without keeping a second copy.  The only state outside uswap memory is
 * one 32-bit version per record (so that a lost update, an old page coming
 * back, is caught too, not only corruption) and striped locks.  Workers
 * run a mix of zipfian reads and updates, short sequential scans and bulk
 * rewrites for --seconds; then one last pass reads every record.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/options.h"
#include "commands.h"
#include "fmt.h"
#include "uswap.h"

#define RECORD_SIZE  512
#define PAYLOAD_SIZE (RECORD_SIZE - sizeof(struct rec_hdr))
#define NSTRIPES     4096 /* record locks, striped */
#define SCAN_LEN     64	  /* records per short scan (32K) */
#define BULK_LEN     256  /* records per bulk rewrite (128K) */
#define MAX_WORKERS  64
#define MAX_REPORTS  10 /* mismatches printed in full */

struct rec_hdr {
	uint64_t key;	  /* == the record's index */
	uint32_t version; /* 1 after the load, +1 per update */
	uint32_t len;	  /* PAYLOAD_SIZE */
	uint64_t csum;	  /* FNV-1a of key, version, len and the payload */
};

struct record {
	struct rec_hdr h;
	unsigned char payload[RECORD_SIZE - sizeof(struct rec_hdr)];
};

_Static_assert(sizeof(struct record) == RECORD_SIZE, "record size");

/* Demo settings (command line), and the shared state of one run. */
struct demo {
	size_t size; /* bytes mapped */
	unsigned seconds;
	unsigned workers;
	uint64_t seed;

	struct record *rec; /* in uswap memory */
	size_t nrec;
	uint32_t *version; /* ordinary memory; under the record's stripe */
	pthread_mutex_t stripe[NSTRIPES];

	/* zipfian(theta) over nrec ranks (Gray et al., as in YCSB) */
	double theta, zetan, alpha, eta;
	uint64_t scramble; /* odd multiplier, coprime with nrec */

	_Atomic bool stop;
	/* relaxed atomics: statistics only */
	_Atomic uint64_t ops, reads, updates, scans, bulks;
	_Atomic uint64_t verified; /* bytes compared */
	_Atomic uint64_t mismatches;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rand01(uint64_t *s)
{
	return (double)(splitmix(s) >> 11) * 0x1.0p-53;
}

/*
 * The payload of record (key, version) is a slice of a text pool built
 * once from a fixed seed: JSON-like order documents, so that pages
 * compress about as well as real heap data (lz4 2-4x).  The slice starts
 * at a hash of (key, version), so every byte depends on both, and checking
 * a record is one memcmp against the pool -- cheap enough that the demo
 * measures uswap, not itself.
 */
#define POOL_SIZE (256 * 1024)
static unsigned char pool[POOL_SIZE + RECORD_SIZE];

static void pool_init(uint64_t seed)
{
	static const char *const status[] = {
		"new", "paid", "packed", "shipped", "delivered", "returned"};
	static const char *const city[] = {"Berlin", "Lyon",  "Porto", "Turin",
					   "Ghent",  "Malmo", "Cork",  "Brno"};
	size_t i = 0;

	/* JSON-like order documents: the shape of many real heaps */
	while (i < POOL_SIZE + RECORD_SIZE) {
		uint64_t r = splitmix(&seed), q = splitmix(&seed);
		char line[256];
		int n;

		n = snprintf(
			line, sizeof(line),
			"{\"order\":%u,\"user\":\"u%05u\",\"city\":\"%s\","
			"\"status\":\"%s\",\"items\":[{\"sku\":\"SKU-%04u"
			"\",\"qty\":%u,\"price\":%u.%02u}],\"gift\":%s},\n",
			(unsigned)(r % 1000000), (unsigned)(q % 50000),
			city[(r >> 20) % 8], status[(r >> 24) % 6],
			(unsigned)((q >> 20) % 2000),
			(unsigned)((q >> 32) % 5 + 1),
			(unsigned)((q >> 36) % 300),
			(unsigned)((q >> 48) % 100),
			(r >> 40) & 1 ? "true" : "false");
		for (int j = 0; j < n && i < POOL_SIZE + RECORD_SIZE; j++)
			pool[i++] = (unsigned char)line[j];
	}
}

static const unsigned char *payload_of(uint64_t key, uint32_t version)
{
	uint64_t s = key ^ ((uint64_t)version << 40);

	return pool + splitmix(&s) % POOL_SIZE;
}

/* record_csum - a word-at-a-time hash of the header fields and payload. */
static uint64_t record_csum(const struct record *r)
{
	uint64_t h = r->h.key * 0x9e3779b97f4a7c15ull ^ r->h.version ^
		     ((uint64_t)r->h.len << 32);
	const unsigned char *p = r->payload;

	for (size_t i = 0; i + 8 <= sizeof(r->payload); i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

/* write_record - build record (i, version) on the stack, store it. */
static void write_record(struct demo *d, size_t i, uint32_t version)
{
	struct record r;

	r.h.key = i;
	r.h.version = version;
	r.h.len = PAYLOAD_SIZE;
	memcpy(r.payload, payload_of(i, version), PAYLOAD_SIZE);
	r.h.csum = record_csum(&r);
	memcpy(&d->rec[i], &r, sizeof(r));
}

static void report(struct demo *d, size_t i, const char *what, size_t off,
		   unsigned got, unsigned want)
{
	uint64_t n = atomic_fetch_add_explicit(&d->mismatches, 1,
					       memory_order_relaxed);

	if (n < MAX_REPORTS)
		fprintf(stderr,
			"\nMISMATCH record %zu (address %p, page %p): %s at "
			"byte %zu: got 0x%x, want 0x%x\n",
			i, (void *)&d->rec[i],
			(void *)((uintptr_t)&d->rec[i] & ~(uintptr_t)4095),
			what, off, got, want);
}

/*
 * verify_record - copy record @i out of uswap memory and compare every
 * byte with what (i, d->version[i]) must hold.  Caller holds the stripe.
 */
static void verify_record(struct demo *d, size_t i)
{
	struct record got, want;
	const unsigned char *g = (const unsigned char *)&got;
	const unsigned char *w = (const unsigned char *)&want;

	memcpy(&got, &d->rec[i], sizeof(got));
	want.h.key = i;
	want.h.version = d->version[i];
	want.h.len = PAYLOAD_SIZE;
	memcpy(want.payload, payload_of(i, want.h.version), PAYLOAD_SIZE);
	want.h.csum = record_csum(&want);
	atomic_fetch_add_explicit(&d->verified, sizeof(got),
				  memory_order_relaxed);
	if (!memcmp(&got, &want, sizeof(got)))
		return;
	for (size_t k = 0; k < sizeof(got); k++) {
		if (g[k] != w[k]) {
			const char *what = k < sizeof(struct rec_hdr)
						   ? "header"
						   : "payload";

			if (got.h.key == i && got.h.version < want.h.version &&
			    got.h.csum == record_csum(&got))
				what = "stale record (a lost update)";
			report(d, i, what, k, g[k], w[k]);
			return;
		}
	}
}

static void lock_rec(struct demo *d, size_t i)
{
	pthread_mutex_lock(&d->stripe[i % NSTRIPES]);
}

static void unlock_rec(struct demo *d, size_t i)
{
	pthread_mutex_unlock(&d->stripe[i % NSTRIPES]);
}

static void zipf_init(struct demo *d, double theta)
{
	double zeta2 = 0;
	uint64_t m;

	d->theta = theta;
	d->zetan = 0;
	for (size_t i = 1; i <= d->nrec; i++)
		d->zetan += 1.0 / pow((double)i, theta);
	zeta2 = 1.0 + 1.0 / pow(2.0, theta);
	d->alpha = 1.0 / (1.0 - theta);
	d->eta = (1.0 - pow(2.0 / (double)d->nrec, 1.0 - theta)) /
		 (1.0 - zeta2 / d->zetan);
	/* hot keys spread over the whole store, as in a real hash table */
	for (m = 0x9e3779b97f4a7c15ull % d->nrec | 1;; m += 2) {
		uint64_t a = m, b = d->nrec;

		while (b) {
			uint64_t t = a % b;

			a = b;
			b = t;
		}
		if (a == 1)
			break;
	}
	d->scramble = m;
}

static size_t zipf_next(struct demo *d, uint64_t *s)
{
	double u = rand01(s), uz = u * d->zetan;
	uint64_t rank;

	if (uz < 1.0)
		rank = 0;
	else if (uz < 1.0 + pow(0.5, d->theta))
		rank = 1;
	else
		rank = (uint64_t)((double)d->nrec *
				  pow(d->eta * u - d->eta + 1.0, d->alpha));
	if (rank >= d->nrec)
		rank = d->nrec - 1;
	return (size_t)((unsigned __int128)rank * d->scramble % d->nrec);
}

struct worker {
	struct demo *d;
	unsigned id;
	pthread_t thread;
};

/*
 * worker - the op mix until told to stop: 60% zipfian reads, 25% zipfian
 * updates, 10% short sequential scans, 5% bulk rewrites of a run.
 */
static void *worker(void *arg)
{
	struct worker *w = arg;
	struct demo *d = w->d;
	uint64_t s = d->seed ^ ((uint64_t)w->id << 40);
	size_t i, k, n;

	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		unsigned op = (unsigned)(splitmix(&s) % 100);

		if (op < 60) {
			i = zipf_next(d, &s);
			lock_rec(d, i);
			verify_record(d, i);
			unlock_rec(d, i);
			atomic_fetch_add_explicit(&d->reads, 1,
						  memory_order_relaxed);
		} else if (op < 85) {
			i = zipf_next(d, &s);
			lock_rec(d, i);
			verify_record(d, i);
			write_record(d, i, ++d->version[i]);
			unlock_rec(d, i);
			atomic_fetch_add_explicit(&d->updates, 1,
						  memory_order_relaxed);
		} else if (op < 95) {
			i = (size_t)(splitmix(&s) % d->nrec);
			n = d->nrec - i < SCAN_LEN ? d->nrec - i : SCAN_LEN;
			for (k = i; k < i + n; k++) {
				lock_rec(d, k);
				verify_record(d, k);
				unlock_rec(d, k);
			}
			atomic_fetch_add_explicit(&d->scans, 1,
						  memory_order_relaxed);
		} else {
			i = (size_t)(splitmix(&s) % d->nrec);
			n = d->nrec - i < BULK_LEN ? d->nrec - i : BULK_LEN;
			for (k = i; k < i + n; k++) {
				lock_rec(d, k);
				write_record(d, k, ++d->version[k]);
				unlock_rec(d, k);
			}
			atomic_fetch_add_explicit(&d->bulks, 1,
						  memory_order_relaxed);
		}
		atomic_fetch_add_explicit(&d->ops, 1, memory_order_relaxed);
	}
	return NULL;
}

static const char *fmt_count(double v, char *buf, size_t len)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.0f", v);
	return buf;
}

/* progress - one status line: ops/s over the last interval, sizes, faults. */
static void progress(struct uswap *u, const char *phase, double t, double dt,
		     uint64_t dops, uint64_t dfaults, bool tty)
{
	struct uswap_stats st;
	char a[16], b[16], c[16], e[16], f[16];
	double ratio;

	memset(&st, 0, sizeof(st));
	uswap_stats(u, &st);
	ratio = st.compressed ? (double)st.stored / (double)st.compressed : 0;
	fprintf(stderr,
		"%s[%5.1fs] %-6s %7s ops/s  resident %7s  stored %7s  "
		"compressed %7s (%.1fx)  faults %6s/s%s",
		tty ? "\r" : "", t, phase,
		fmt_count(dt > 0 ? (double)dops / dt : 0, a, sizeof(a)),
		fmt_size(st.resident, b, sizeof(b)),
		fmt_size(st.stored, c, sizeof(c)),
		fmt_size(st.compressed, e, sizeof(e)), ratio,
		fmt_count(dt > 0 ? (double)dfaults / dt : 0, f, sizeof(f)),
		tty ? "\033[K" : "\n");
}

static void summary(struct demo *d, struct uswap *u, double secs)
{
	struct uswap_stats st;
	char b[16];
	uint64_t ops = d->ops, verified = d->verified;

	memset(&st, 0, sizeof(st));
	uswap_stats(u, &st);
	printf("\n%-22s %16s\n", "statistic", "value");
#define ROW(f) printf("%-22s %16" PRIu64 "\n", #f, (uint64_t)st.f)
#define ROWB(f)                                                  \
	printf("%-22s %16" PRIu64 " (%s)\n", #f, (uint64_t)st.f, \
	       fmt_size(st.f, b, sizeof(b)))
	ROW(faults);
	ROW(faults_zero);
	ROW(faults_minor);
	ROW(faults_major);
	ROW(faults_repeat);
	ROW(eexist);
	ROW(swapins);
	ROW(swapouts);
	ROW(reclaim_scans);
	ROW(sigbus);
	ROWB(budget);
	ROWB(mapped);
	ROWB(resident);
	ROWB(cached);
	ROWB(stored);
	ROWB(compressed);
	ROWB(held);
#undef ROW
#undef ROWB
	printf("%-22s %16.2fx\n", "compression ratio",
	       st.compressed ? (double)st.stored / (double)st.compressed : 0);
	printf("%-22s %16.0f (%" PRIu64 " ops in %.1f s: %" PRIu64
	       " reads, %" PRIu64 " updates, %" PRIu64 " scans, %" PRIu64
	       " bulk writes)\n",
	       "ops/s", secs > 0 ? (double)ops / secs : 0, ops, secs,
	       (uint64_t)d->reads, (uint64_t)d->updates, (uint64_t)d->scans,
	       (uint64_t)d->bulks);
	printf("%-22s %16.0f\n", "faults/s",
	       secs > 0 ? (double)st.faults / secs : 0);
	printf("\nverified %" PRIu64 " bytes (%s), %" PRIu64 " mismatches\n",
	       verified, fmt_size(verified, b, sizeof(b)),
	       (uint64_t)d->mismatches);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: uswap COMMAND [OPTIONS]\n"
		   "\n"
		   "uswap gives a process memory larger than its budget: cold "
		   "pages are\ncompressed in RAM and come back on the next "
		   "touch (userfaultfd).\n"
		   "\n"
		   "commands:\n"
		   "  demo [OPTIONS]        run a verified key-value workload "
		   "over 4 x budget\n"
		   "  run [OPTIONS] [--] PROGRAM [ARGS...]\n"
		   "                        run an unmodified program with "
		   "its memory paged\n"
		   "                        by uswap (`uswap run --help`)\n"
		   "  options [--markdown]  print every option (library, "
		   "USWAP_* variable, flag)\n"
		   "  stat [PID...]         statistics of running programs "
		   "(see uswap stat --help)\n"
		   "  help                  this text; `uswap demo --help` for "
		   "the demo\n"
		   "\n"
		   "See uswap(1).\n");
}

static void demo_usage(FILE *f)
{
	const struct uswap_option_info *o;

	fprintf(f,
		"usage: uswap demo [OPTIONS]\n"
		"\n"
		"Maps SIZE bytes of uswap memory (default 4 x budget), fills "
		"it with\nself-checking %d-byte records, then runs WORKERS "
		"threads for SECONDS:\n60%% zipfian reads, 25%% zipfian "
		"updates, 10%% sequential scans of 32K,\n5%% bulk rewrites "
		"of 128K.  Every byte read is verified; a final pass\n"
		"reads every record.  Exit 0: no mismatch; 1: a mismatch; "
		"2: an error.\n"
		"\n"
		"demo options:\n"
		"  --size S        bytes to map (default 4 x budget)\n"
		"  --seconds T     how long the mixed phase runs (default "
		"10)\n"
		"  --workers N     workload threads (default 4, at most "
		"%d)\n"
		"  --seed X        workload seed (default: from the clock; "
		"printed)\n"
		"\n"
		"uswap options (also from USWAP_* variables; see `uswap "
		"options`):\n",
		RECORD_SIZE, MAX_WORKERS);
	for (size_t i = 0; (o = uswap_option_get(i)); i++)
		fprintf(f, "  --%s%s%-*s %s\n", o->name, o->is_flag ? "" : " ",
			o->is_flag ? (int)(14 - strlen(o->name))
				   : (int)(13 - strlen(o->name)),
			o->is_flag ? "" : "V", o->help);
}

static bool is_table_option(const char *name)
{
	const struct uswap_option_info *o;

	for (size_t i = 0; (o = uswap_option_get(i)); i++)
		if (!strcmp(o->name, name))
			return true;
	return false;
}

static bool is_flag_option(const char *name)
{
	const struct uswap_option_info *o;

	for (size_t i = 0; (o = uswap_option_get(i)); i++)
		if (!strcmp(o->name, name))
			return o->is_flag;
	return false;
}

static int parse_uint(const char *opt, const char *v, unsigned long min,
		      unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || n < min || n > max) {
		fprintf(stderr,
			"uswap: --%s=%s: not a number from %lu to %lu\n", opt,
			v, min, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/*
 * parse_demo_args - --NAME VALUE, --NAME=VALUE, --FLAG; '-' and '_' are
 * the same in names (--swap-size).  Return: 0, 1 (help shown), -EINVAL.
 */
static int parse_demo_args(int argc, char **argv, struct uswap_config *cfg,
			   struct demo *d, bool *size_set)
{
	static char names[64][32]; /* argv-lifetime copies of names */
	char err[256];

	for (int i = 0; i < argc; i++) {
		char *arg = argv[i], *name, *value = NULL, *eq;
		unsigned long n;
		size_t sz;
		int ret;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			demo_usage(stdout);
			return 1;
		}
		if (i >= 64) {
			fprintf(stderr, "uswap demo: too many arguments\n");
			return -EINVAL;
		}
		if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
			fprintf(stderr,
				"uswap demo: unexpected argument '%s' "
				"(see uswap demo --help)\n",
				arg);
			return -EINVAL;
		}
		name = names[i];
		snprintf(name, sizeof(names[i]), "%s", arg + 2);
		eq = strchr(arg + 2, '=');
		if (eq) {
			if ((size_t)(eq - arg - 2) < sizeof(names[i]))
				name[eq - arg - 2] = 0;
			value = eq + 1;
		}
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (!value && !is_flag_option(name)) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"uswap demo: --%s needs a value\n",
					name);
				return -EINVAL;
			}
			value = argv[++i];
		}
		if (!strcmp(name, "size")) {
			ret = uswap_parse_size(value, &sz);
			if (ret < 0 || sz < 1 << 20) {
				fprintf(stderr,
					"uswap demo: --size=%s: not a size of "
					"at least 1M (use e.g. 256M, 1G)\n",
					value);
				return -EINVAL;
			}
			d->size = sz;
			*size_set = true;
		} else if (!strcmp(name, "seconds")) {
			if (parse_uint("seconds", value, 0, 86400, &n) < 0)
				return -EINVAL;
			d->seconds = (unsigned)n;
		} else if (!strcmp(name, "workers")) {
			if (parse_uint("workers", value, 1, MAX_WORKERS, &n) <
			    0)
				return -EINVAL;
			d->workers = (unsigned)n;
		} else if (!strcmp(name, "seed")) {
			if (parse_uint("seed", value, 0, ULONG_MAX, &n) < 0)
				return -EINVAL;
			d->seed = n;
		} else if (is_table_option(name)) {
			if (uswap_options_set(cfg, name, value, err,
					      sizeof(err)) < 0) {
				fprintf(stderr, "uswap demo: --%s\n", err);
				return -EINVAL;
			}
		} else {
			fprintf(stderr,
				"uswap demo: unknown option --%s (see uswap "
				"demo --help)\n",
				name);
			return -EINVAL;
		}
	}
	return 0;
}

static int demo(int argc, char **argv)
{
	static struct demo dm;
	struct demo *d = &dm;
	struct uswap_config cfg = {0};
	struct uswap_options o;
	struct worker w[MAX_WORKERS];
	struct uswap *u;
	bool size_set = false, tty = isatty(2);
	char err[256], b1[16], b2[16];
	double t0, tload, tlast, tend;
	uint64_t lastops = 0, lastfaults = 0;
	struct uswap_stats st;
	int ret;

	d->seconds = 10;
	d->workers = 4;
	d->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	ret = parse_demo_args(argc, argv, &cfg, d, &size_set);
	if (ret)
		return ret > 0 ? 0 : 2;
	/* resolve here too: a bad USWAP_* variable is reported before work */
	if (uswap_options_resolve(&cfg, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "uswap demo: %s\n", err);
		return 2;
	}
	if (!size_set)
		d->size = 4 * o.budget;
	d->nrec = d->size / RECORD_SIZE;

	ret = uswap_open(&cfg, &u);
	if (ret < 0) {
		fprintf(stderr, "uswap demo: uswap_open: %s\n", strerror(-ret));
		return 2;
	}
	d->rec = uswap_map(u, d->size);
	if (!d->rec) {
		fprintf(stderr, "uswap demo: uswap_map(%s): %s\n",
			fmt_size(d->size, b1, sizeof(b1)), strerror(errno));
		uswap_close(u);
		return 2;
	}
	d->version = calloc(d->nrec, sizeof(*d->version));
	if (!d->version) {
		fprintf(stderr, "uswap demo: out of memory\n");
		return 2;
	}
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&d->stripe[i], NULL);
	zipf_init(d, 0.99);
	pool_init(0x7573776170ull); /* fixed: the pool is data, not the seed */
	signal(SIGINT, on_sigint);

	printf("uswap demo: %s mapped over a %s budget, device %s, policy %s, "
	       "%u handler threads, %u workers, %zu records of %d bytes, "
	       "seed %" PRIu64 "\n",
	       fmt_size(d->size, b1, sizeof(b1)),
	       fmt_size(o.budget, b2, sizeof(b2)), o.device,
	       swapin_policy_name(o.policy), o.threads, d->workers, d->nrec,
	       RECORD_SIZE, d->seed);
	fflush(stdout);

	/* load: a sequential bulk write of every record */
	t0 = tlast = now();
	for (size_t i = 0; i < d->nrec && !interrupted; i++) {
		d->version[i] = 1;
		write_record(d, i, 1);
		if ((i & 1023) == 0 && now() - tlast >= (tty ? 0.25 : 1.0)) {
			double t = now();

			memset(&st, 0, sizeof(st));
			uswap_stats(u, &st);
			progress(u, "load", t - t0, t - tlast, i - lastops,
				 st.faults - lastfaults, tty);
			lastops = i;
			lastfaults = st.faults;
			tlast = t;
		}
	}
	tload = now();
	lastops = 0;

	/* the mixed phase */
	for (unsigned i = 0; i < d->workers; i++) {
		w[i].d = d;
		w[i].id = i;
		if (pthread_create(&w[i].thread, NULL, worker, &w[i]) != 0) {
			fprintf(stderr, "uswap demo: pthread_create failed\n");
			d->workers = i;
			break;
		}
	}
	tlast = now();
	while (!interrupted && now() - tload < d->seconds) {
		double t;
		uint64_t ops;

		usleep(tty ? 250000 : 1000000);
		t = now();
		ops = atomic_load(&d->ops);
		memset(&st, 0, sizeof(st));
		uswap_stats(u, &st);
		progress(u, "mixed", t - t0, t - tlast, ops - lastops,
			 st.faults - lastfaults, tty);
		lastops = ops;
		lastfaults = st.faults;
		tlast = t;
	}
	atomic_store(&d->stop, true);
	for (unsigned i = 0; i < d->workers; i++)
		pthread_join(w[i].thread, NULL);
	tend = now();

	/* the final pass: every record, sequentially */
	tlast = now();
	lastops = 0;
	for (size_t i = 0; i < d->nrec && !interrupted; i++) {
		verify_record(d, i);
		if ((i & 1023) == 0 && now() - tlast >= (tty ? 0.25 : 1.0)) {
			double t = now();

			memset(&st, 0, sizeof(st));
			uswap_stats(u, &st);
			progress(u, "verify", t - t0, t - tlast, i - lastops,
				 st.faults - lastfaults, tty);
			lastops = i;
			lastfaults = st.faults;
			tlast = t;
		}
	}
	if (tty)
		fprintf(stderr, "\n");
	summary(d, u, tend - tload);
	printf("load %.2f s, mixed %.2f s, final pass %.2f s\n", tload - t0,
	       tend - tload, now() - tend);

	if (uswap_unmap(u, d->rec, d->size) < 0)
		fprintf(stderr, "uswap demo: uswap_unmap failed\n");
	uswap_close(u);
	free(d->version);
	if (interrupted)
		fprintf(stderr, "uswap demo: interrupted\n");
	return d->mismatches ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "demo"))
		return demo(argc - 2, argv + 2);
	if (!strcmp(argv[1], "run"))
		return run_main(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stat"))
		return stat_main(argc - 2, argv + 2);
	if (!strcmp(argv[1], "options")) {
		if (argc == 3 && !strcmp(argv[2], "--markdown")) {
			uswap_options_print(stdout, true);
			return 0;
		}
		if (argc > 2) {
			fprintf(stderr, "usage: uswap options [--markdown]\n");
			return 2;
		}
		uswap_options_print(stdout, false);
		return 0;
	}
	fprintf(stderr, "uswap: unknown command '%s' (see uswap --help)\n",
		argv[1]);
	return 2;
}
