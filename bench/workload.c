/*
 * workload: the one program that every configuration of the pager benchmark
 * runs (bench/pager-vs-zram.sh): uswap with a budget, plain memory in a memory
 * cgroup with the kernel's zram as swap, and plain memory without a limit.
 *
 * It maps a working set of S bytes (--mem plain: anonymous mmap; --mem uswap:
 * uswap_map under a budget), fills every page with a pattern derived from its
 * index (the warm-up: this is when the kernel or uswap swaps out), optionally
 * runs the access pattern unmeasured for a while, and then measures.  Each
 * operation picks a page (uniform, zipfian or sequential), touches one 64-byte
 * record in it, verifies it, and with probability w rewrites it.
 *
 * Correctness is checked on every access, so a benchmark run is also a test:
 * every record carries its own tag (page and record index), a version and a
 * checksum over its words; a shadow array, kept outside the measured memory,
 * holds the low byte of every record's version, so a write that was lost
 * (the page came back older than it was written) is caught too.  Each thread
 * owns the records r with r % threads == its id; threads share pages (so they
 * meet on the same faults) but never write the same record, so there is no
 * data race to excuse a mismatch.
 *
 * Output: one line starting with "RESULT " of key=value pairs for scripts,
 * then one human line.  Exit status 0, 1 on a verification error, 2 on a
 * usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "uswap.h"

#define PAGE_SZ	      4096u
#define REC_SZ	      64u
#define RECS_PER_PAGE (PAGE_SZ / REC_SZ)
#define MAX_THREADS   RECS_PER_PAGE
#define TAG_MAGIC     0x5eed000000000000ull
#define HIST_BUCKETS  512
#define MAX_REPORTED  10 /* verification errors printed in full */

/* One 64-byte record; a page holds RECS_PER_PAGE of them. */
struct record {
	uint64_t tag;	  /* TAG_MAGIC | page << 6 | record */
	uint64_t version; /* writes to this record so far */
	uint64_t data[5]; /* derived from tag and version */
	uint64_t sum;	  /* checksum of the seven words above */
};
_Static_assert(sizeof(struct record) == REC_SZ, "record is 64 bytes");

enum pattern { PAT_UNIFORM, PAT_ZIPF, PAT_SEQ };
static const char *const pattern_names[] = {"uniform", "zipf", "seq"};

/* Options; written only by main() before the threads start. */
static struct {
	bool uswap;
	size_t budget;
	size_t size;
	enum pattern pattern;
	unsigned threads;
	double seconds;
	double warm;
	uint64_t ops; /* 0: run for `seconds` */
	double write_ratio;
	double theta;
	unsigned sample; /* time every sample-th op */
	uint64_t seed;
	const char *cgroup;	   /* join and report */
	const char *cgroup_report; /* report only */
	const char *zram;
	const char *device;
	const char *policy;
	unsigned handlers;
	const char *label;
	uint64_t corrupt;
	unsigned random_words; /* data words that do not compress */
} opt = {
	.pattern = PAT_UNIFORM,
	.threads = 1,
	.seconds = 5,
	.write_ratio = 0.2,
	.theta = 0.99,
	.sample = 1,
	.seed = 1,
	.random_words = 1,
	.label = "-",
};

/* Shared state; set up by main() before the threads start, then read-only. */
static unsigned char *region;
static uint64_t npages;
static uint8_t *shadow;		 /* low byte of each record's version */
static uint64_t write_threshold; /* write if rng < this */

/* Zipfian sampler: Vose's alias table over ranks, holding scrambled pages. */
static uint32_t *zipf_prob;  /* threshold on 32 random bits */
static uint32_t *zipf_page;  /* page of rank i */
static uint32_t *zipf_alias; /* page of rank i's alias */

static atomic_bool warm_stop; /* relaxed: a flag polled once per op */
static atomic_bool stop;
static pthread_barrier_t barrier;

/* Log-bucketed latency histogram: 8 sub-buckets per power of two. */
struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t max;
	uint64_t n;
};

/* Per-thread state; only its own thread writes it until joined. */
struct worker {
	pthread_t thread;
	unsigned id;
	uint64_t rng;
	uint64_t seq;
	uint64_t ops;
	uint64_t writes;
	uint64_t errors;
	struct hist hist;
} __attribute__((aligned(64)));

static struct worker *workers;

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* splitmix64: small state, good enough for picking pages. */
static inline uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

/* A value in [0, n) from 32 random bits, without division. */
static inline uint32_t bounded32(uint32_t r, uint32_t n)
{
	return (uint32_t)(((uint64_t)r * n) >> 32);
}

static inline uint64_t bounded64(uint64_t r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)r * n) >> 64);
}

static inline uint64_t record_sum(const struct record *r)
{
	uint64_t s = r->tag * 0x9e3779b97f4a7c15ull;

	s += r->version * 0xc2b2ae3d27d4eb4full;
	for (int i = 0; i < 5; i++)
		s += r->data[i] * (0x165667b19e3779f9ull + 2ull * (uint64_t)i);
	return mix64(s);
}

static inline void record_fill(struct record *r, uint64_t tag, uint64_t version)
{
	struct record n;

	n.tag = tag;
	n.version = version;
	for (unsigned i = 0; i < 5; i++) {
		if (i < opt.random_words)
			n.data[i] = mix64((tag << 3 | i) ^
					  (version * 0x9e3779b97f4a7c15ull));
		else
			n.data[i] = version << 32 | (i + 1);
	}
	n.sum = record_sum(&n);
	memcpy(r, &n, sizeof(n));
}

static inline uint64_t record_tag(uint64_t page, unsigned rec)
{
	return TAG_MAGIC | page << 6 | rec;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline unsigned hist_bucket(uint64_t v)
{
	unsigned e;

	if (v < 16)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
	return 16u + (e - 4u) * 8u + (unsigned)((v >> (e - 3u)) & 7u);
}

/* The middle of bucket @b, in the histogram's unit. */
static double hist_value(unsigned b)
{
	unsigned e, sub;
	double lo, width;

	if (b < 16)
		return b;
	e = (b - 16u) / 8u + 4u;
	sub = (b - 16u) % 8u;
	lo = ldexp(8.0 + sub, (int)e - 3);
	width = ldexp(1.0, (int)e - 3);
	return lo + width / 2;
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->count[hist_bucket(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static double hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)ceil(q * (double)h->n);
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want) {
			double v = hist_value(b);

			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}

/*
 * Vose's alias method over the zipfian weights 1/rank^theta: one random
 * 64-bit number picks a rank and decides between it and its alias, in O(1)
 * with one cache line touched.  Ranks are mapped to pages through a random
 * permutation, so hot pages are spread over the working set rather than
 * packed at its start (which would let a pager win by locality).
 */
static int zipf_build(uint64_t n, double theta, uint64_t seed)
{
	double *q = malloc(n * sizeof(*q));
	uint32_t *small = malloc(n * sizeof(*small));
	uint32_t *large = malloc(n * sizeof(*large));
	uint32_t *perm = malloc(n * sizeof(*perm));
	uint32_t *alias = malloc(n * sizeof(*alias));
	uint64_t ns = 0, nl = 0, s = seed ^ 0x2545f4914f6cdd1dull;
	double total = 0;

	zipf_prob = malloc(n * sizeof(*zipf_prob));
	zipf_page = malloc(n * sizeof(*zipf_page));
	zipf_alias = malloc(n * sizeof(*zipf_alias));
	if (!q || !small || !large || !perm || !alias || !zipf_prob ||
	    !zipf_page || !zipf_alias) {
		fprintf(stderr, "workload: no memory for the zipf table\n");
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < n; i++) {
		q[i] = pow((double)(i + 1), -theta);
		total += q[i];
	}
	for (uint64_t i = 0; i < n; i++) {
		q[i] = q[i] * (double)n / total;
		if (q[i] < 1.0)
			small[ns++] = (uint32_t)i;
		else
			large[nl++] = (uint32_t)i;
	}
	while (ns && nl) {
		uint32_t sm = small[--ns], lg = large[nl - 1];

		zipf_prob[sm] = (uint32_t)(q[sm] * 4294967296.0);
		alias[sm] = lg;
		q[lg] = q[lg] + q[sm] - 1.0;
		if (q[lg] < 1.0) {
			nl--;
			small[ns++] = lg;
		}
	}
	while (nl) {
		uint32_t i = large[--nl];

		zipf_prob[i] = UINT32_MAX;
		alias[i] = i;
	}
	while (ns) { /* rounding leftovers: full buckets */
		uint32_t i = small[--ns];

		zipf_prob[i] = UINT32_MAX;
		alias[i] = i;
	}
	for (uint64_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = bounded64(rng_next(&s), i + 1);
		uint32_t t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (uint64_t i = 0; i < n; i++) {
		zipf_page[i] = perm[i];
		zipf_alias[i] = perm[alias[i]];
	}
	free(q);
	free(small);
	free(large);
	free(perm);
	free(alias);
	return 0;
}

static inline uint64_t zipf_next(uint64_t r)
{
	uint32_t i = bounded32((uint32_t)(r >> 32), (uint32_t)npages);

	return (uint32_t)r < zipf_prob[i] ? zipf_page[i] : zipf_alias[i];
}

static inline uint64_t pick_page(struct worker *w, uint64_t r)
{
	uint64_t p;

	switch (opt.pattern) {
	case PAT_ZIPF:
		return zipf_next(r);
	case PAT_SEQ:
		p = w->seq;
		w->seq = p + 1 == npages ? 0 : p + 1;
		return p;
	default:
		return bounded64(r, npages);
	}
}

static void report_error(struct worker *w, uint64_t page, unsigned rec,
			 const struct record *got, uint8_t want_version)
{
	if (w->errors++ >= MAX_REPORTED)
		return;
	fprintf(stderr,
		"workload: VERIFY FAILED thread %u page %" PRIu64
		" record %u: tag %#" PRIx64 " (want %#" PRIx64
		") version %" PRIu64 " (want low byte %u) sum %#" PRIx64
		" (computed %#" PRIx64 ")\n",
		w->id, page, rec, got->tag, record_tag(page, rec), got->version,
		want_version, got->sum, record_sum(got));
}

/*
 * One operation: pick a page and one of this thread's records in it, read
 * and verify the record, and with probability write_ratio write a new
 * version of it.
 */
static inline void do_op(struct worker *w, unsigned nrecs)
{
	uint64_t r = rng_next(&w->rng);
	uint64_t r2 = rng_next(&w->rng);
	uint64_t page = pick_page(w, r);
	unsigned rec = w->id + opt.threads * bounded32((uint32_t)r2, nrecs);
	struct record *p = (struct record *)(region + page * PAGE_SZ) + rec;
	uint8_t *sh = &shadow[page * RECS_PER_PAGE + rec];
	uint64_t tag = record_tag(page, rec);
	struct record got;

	memcpy(&got, p, sizeof(got));
	if (got.tag != tag || (uint8_t)got.version != *sh ||
	    got.sum != record_sum(&got)) {
		report_error(w, page, rec, &got, *sh);
		return;
	}
	if ((r2 >> 32) < write_threshold) {
		record_fill(p, tag, got.version + 1);
		*sh = (uint8_t)(got.version + 1);
		w->writes++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned nrecs =
		(RECS_PER_PAGE - w->id + opt.threads - 1) / opt.threads;
	uint64_t lo = npages * w->id / opt.threads;
	uint64_t hi = npages * (w->id + 1) / opt.threads;
	uint64_t limit = opt.ops ? opt.ops / opt.threads : UINT64_MAX;

	/* Warm-up: first touch of every page of this thread's share. */
	for (uint64_t pg = lo; pg < hi; pg++) {
		struct record *p = (struct record *)(region + pg * PAGE_SZ);

		for (unsigned rec = 0; rec < RECS_PER_PAGE; rec++)
			record_fill(&p[rec], record_tag(pg, rec), 0);
	}
	w->seq = lo;
	pthread_barrier_wait(&barrier);

	/* Unmeasured run of the pattern, until main says stop. */
	if (opt.warm > 0) {
		while (!atomic_load_explicit(&warm_stop, memory_order_relaxed))
			do_op(w, nrecs);
	}
	w->writes = 0;
	pthread_barrier_wait(&barrier);

	/* Measured run. */
	while (w->ops < limit &&
	       !atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (w->ops % opt.sample == 0) {
			uint64_t t0 = now_ns();

			do_op(w, nrecs);
			hist_add(&w->hist, now_ns() - t0);
		} else {
			do_op(w, nrecs);
		}
		w->ops++;
	}
	return NULL;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		v *= 1048576.0;
		end++;
		break;
	case 'g':
	case 'G':
		v *= 1073741824.0;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: workload [options]\n"
		"  --mem plain|uswap     anonymous mmap, or uswap_map (default "
		"plain)\n"
		"  --budget B            uswap budget (K/M/G suffixes)\n"
		"  --size S              working set (default 4 x budget, else "
		"256M)\n"
		"  --pattern P           uniform | zipf | seq (default "
		"uniform)\n"
		"  --threads N           1..%u (default 1)\n"
		"  --seconds T           measured seconds (default 5)\n"
		"  --ops N               measured operations instead of "
		"seconds\n"
		"  --warm T              unmeasured seconds of the pattern "
		"after the\n"
		"                        first touch (default 0)\n"
		"  --write-ratio W       probability an op writes (default "
		"0.2)\n"
		"  --theta X             zipf exponent (default 0.99)\n"
		"  --sample K            time every K-th op (default 1)\n"
		"  --seed N              random seed (default 1)\n"
		"  --random-words N      0..5 of a record's 5 data words are "
		"random,\n"
		"                        the rest small numbers (default 1: a "
		"page\n"
		"                        compresses about 2.7x with lz4, 3.5x "
		"with\n"
		"                        zstd -1, like a real heap)\n"
		"  --cgroup DIR          join this memory cgroup (v1) after "
		"the\n"
		"                        bookkeeping is allocated, before the "
		"working\n"
		"                        set is; report its usage\n"
		"  --cgroup-report DIR   report DIR's usage without joining "
		"it\n"
		"  --zram NAME           report /sys/block/NAME/mm_stat\n"
		"  --device D, --policy P, --handlers N   uswap options\n"
		"  --label L             copied into the RESULT line\n"
		"  --corrupt N           damage N records before measuring "
		"(half\n"
		"                        bit flips, half stale versions): "
		"shows\n"
		"                        that verification fails\n"
		"  --features            print the memory kinds built in, "
		"exit\n",
		MAX_THREADS);
}

static void die_usage(const char *what, const char *val)
{
	fprintf(stderr, "workload: bad %s '%s'\n", what, val);
	usage(stderr);
	exit(2);
}

static double parse_double(const char *what, const char *s, double lo,
			   double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		die_usage(what, s);
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"mem", required_argument, NULL, 'm'},
		{"budget", required_argument, NULL, 'b'},
		{"size", required_argument, NULL, 's'},
		{"pattern", required_argument, NULL, 'p'},
		{"threads", required_argument, NULL, 't'},
		{"seconds", required_argument, NULL, 'T'},
		{"ops", required_argument, NULL, 'n'},
		{"warm", required_argument, NULL, 'W'},
		{"write-ratio", required_argument, NULL, 'w'},
		{"theta", required_argument, NULL, 'z'},
		{"sample", required_argument, NULL, 'k'},
		{"seed", required_argument, NULL, 'S'},
		{"cgroup", required_argument, NULL, 'c'},
		{"zram", required_argument, NULL, 'Z'},
		{"cgroup-report", required_argument, NULL, 'G'},
		{"device", required_argument, NULL, 'd'},
		{"policy", required_argument, NULL, 'P'},
		{"handlers", required_argument, NULL, 'H'},
		{"label", required_argument, NULL, 'l'},
		{"corrupt", required_argument, NULL, 'C'},
		{"random-words", required_argument, NULL, 'R'},
		{"features", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "plain"))
				opt.uswap = false;
			else if (!strcmp(optarg, "uswap"))
				opt.uswap = true;
			else
				die_usage("--mem", optarg);
			break;
		case 'b':
			if (parse_size(optarg, &opt.budget) || !opt.budget)
				die_usage("--budget", optarg);
			break;
		case 's':
			if (parse_size(optarg, &opt.size) ||
			    opt.size < PAGE_SZ ||
			    opt.size / PAGE_SZ > UINT32_MAX)
				die_usage("--size", optarg);
			break;
		case 'p':
			if (!strcmp(optarg, "uniform"))
				opt.pattern = PAT_UNIFORM;
			else if (!strcmp(optarg, "zipf") ||
				 !strcmp(optarg, "zipfian"))
				opt.pattern = PAT_ZIPF;
			else if (!strcmp(optarg, "seq") ||
				 !strcmp(optarg, "sequential"))
				opt.pattern = PAT_SEQ;
			else
				die_usage("--pattern", optarg);
			break;
		case 't':
			opt.threads = (unsigned)parse_double(
				"--threads", optarg, 1, MAX_THREADS);
			break;
		case 'T':
			opt.seconds =
				parse_double("--seconds", optarg, 0.001, 1e6);
			break;
		case 'n':
			opt.ops = (uint64_t)parse_double("--ops", optarg, 1,
							 1e15);
			break;
		case 'W':
			opt.warm = parse_double("--warm", optarg, 0, 1e6);
			break;
		case 'w':
			opt.write_ratio =
				parse_double("--write-ratio", optarg, 0, 1);
			break;
		case 'z':
			opt.theta = parse_double("--theta", optarg, 0, 10);
			break;
		case 'k':
			opt.sample = (unsigned)parse_double("--sample", optarg,
							    1, 1e9);
			break;
		case 'S':
			opt.seed = (uint64_t)parse_double("--seed", optarg, 0,
							  1e18);
			break;
		case 'c':
			opt.cgroup = optarg;
			break;
		case 'G':
			opt.cgroup_report = optarg;
			break;
		case 'Z':
			opt.zram = optarg;
			break;
		case 'd':
			opt.device = optarg;
			break;
		case 'P':
			opt.policy = optarg;
			break;
		case 'H':
			opt.handlers = (unsigned)parse_double("--handlers",
							      optarg, 0, 1024);
			break;
		case 'l':
			opt.label = optarg;
			break;
		case 'R':
			opt.random_words = (unsigned)parse_double(
				"--random-words", optarg, 0, 5);
			break;
		case 'C':
			opt.corrupt = (uint64_t)parse_double("--corrupt",
							     optarg, 0, 1e12);
			break;
		case 'F':
#ifdef HAVE_USWAP
			puts("plain uswap");
#else
			puts("plain");
#endif
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die_usage("argument", argv[optind]);
	if (opt.cgroup)
		opt.cgroup_report = opt.cgroup;
	if (!opt.size)
		opt.size = opt.budget ? 4 * opt.budget : 256u << 20;
	if (opt.uswap && !opt.budget) {
		fprintf(stderr, "workload: --mem uswap needs --budget\n");
		exit(2);
	}
}

/* Read one unsigned number from a file; -1 when it cannot be read. */
static long long read_ull(const char *dir, const char *name)
{
	char path[PATH_MAX];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int cgroup_join(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "workload: open %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	if (fprintf(f, "%d\n", (int)getpid()) < 0)
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		fprintf(stderr, "workload: join %s: %s\n", dir, strerror(-ret));
	return ret;
}

/* zram's mm_stat: orig_data_size compr_data_size mem_used_total ... */
struct zram_stat {
	long long orig, compr, used, max;
};

static void zram_read(const char *name, struct zram_stat *z)
{
	char path[PATH_MAX];
	FILE *f;

	z->orig = z->compr = z->used = z->max = -1;
	snprintf(path, sizeof(path), "/sys/block/%s/mm_stat", name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%lld %lld %lld %*d %lld", &z->orig, &z->compr, &z->used,
		   &z->max) != 4)
		z->orig = z->compr = z->used = z->max = -1;
	fclose(f);
}

/*
 * Damage @n records, to show that verification catches it: even ones get a
 * flipped data bit (caught by the checksum), odd ones a newer version with
 * a valid checksum that the shadow does not know (what a lost or misplaced
 * write looks like).  Context: main thread, workers parked on the barrier.
 */
static void corrupt_records(uint64_t n)
{
	uint64_t s = opt.seed ^ 0xc0ffee;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t page = bounded64(rng_next(&s), npages);
		unsigned rec = bounded32((uint32_t)rng_next(&s), RECS_PER_PAGE);
		struct record *p =
			(struct record *)(region + page * PAGE_SZ) + rec;

		if (i % 2 == 0)
			p->data[2] ^= 1ull << (i % 64);
		else
			record_fill(p, record_tag(page, rec), p->version + 1);
	}
}

/* Pages of the working set present in memory (mincore). */
static uint64_t region_resident(void)
{
	size_t chunk = 1u << 16;
	unsigned char *vec = malloc(chunk);
	uint64_t n = 0;

	if (!vec)
		return 0;
	for (uint64_t pg = 0; pg < npages; pg += chunk) {
		uint64_t len = npages - pg < chunk ? npages - pg : chunk;

		if (mincore(region + pg * PAGE_SZ, len * PAGE_SZ, vec))
			break;
		for (uint64_t i = 0; i < len; i++)
			n += vec[i] & 1;
	}
	free(vec);
	return n * PAGE_SZ;
}

static uint64_t rss_bytes(void)
{
	unsigned long long size, res;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * PAGE_SZ;
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec * 1e-6;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *alloc_bookkeeping(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	struct rusage ru0, ru1;
	struct hist all;
	struct zram_stat z = {-1, -1, -1, -1};
	uint64_t ops = 0, writes = 0, errors = 0;
	double t_start, t_init, t0, t1, secs, cpu;
	long long cg_usage = -1, cg_max = -1;
	uint64_t ws_res, rss, held = 0;
	long majors;
	const char *mem = opt.uswap ? "uswap" : "plain";
#ifdef HAVE_USWAP
	struct uswap *u = NULL;
	struct uswap_stats st0, st1;

	memset(&st0, 0, sizeof(st0));
	memset(&st1, 0, sizeof(st1));
#endif

	parse_args(argc, argv);
	mem = opt.uswap ? "uswap" : "plain";
	if (sysconf(_SC_PAGESIZE) != PAGE_SZ) {
		fprintf(stderr, "workload: needs 4 KiB pages\n");
		return 2;
	}
#ifndef HAVE_USWAP
	if (opt.uswap) {
		fprintf(stderr, "workload: built without the uswap library "
				"(src/api/uswap.c was absent at configure "
				"time): --mem uswap is not available\n");
		return 2;
	}
#endif
	npages = (opt.size + PAGE_SZ - 1) / PAGE_SZ;
	opt.size = npages * PAGE_SZ;
	write_threshold = (uint64_t)(opt.write_ratio * 4294967296.0 + 0.5);

	/*
	 * Bookkeeping first (shadow, sampler, histograms), touched now, so
	 * that it is charged to the parent cgroup: only the working set
	 * counts against the limit, as only the region counts against
	 * uswap's budget.
	 */
	shadow = alloc_bookkeeping(npages * RECS_PER_PAGE);
	workers = alloc_bookkeeping(opt.threads * sizeof(*workers));
	if (!shadow || !workers) {
		fprintf(stderr, "workload: no memory for the shadow\n");
		return 2;
	}
	if (opt.pattern == PAT_ZIPF && zipf_build(npages, opt.theta, opt.seed))
		return 2;
	for (unsigned i = 0; i < opt.threads; i++) {
		workers[i].id = i;
		workers[i].rng = mix64(opt.seed * 0x100 + i + 1);
	}
	if (opt.cgroup && cgroup_join(opt.cgroup))
		return 2;

	t_start = now_s();
	if (opt.uswap) {
#ifdef HAVE_USWAP
		struct uswap_config cfg;
		int ret;

		memset(&cfg, 0, sizeof(cfg));
		cfg.budget = opt.budget;
		cfg.device = opt.device;
		cfg.policy = opt.policy;
		cfg.threads = opt.handlers;
		ret = uswap_open(&cfg, &u);
		if (ret < 0) {
			fprintf(stderr, "workload: uswap_open: %s\n",
				strerror(-ret));
			return 2;
		}
		region = uswap_map(u, opt.size);
		if (!region) {
			fprintf(stderr, "workload: uswap_map(%zu): %s\n",
				opt.size, strerror(errno));
			uswap_close(u);
			return 2;
		}
#endif
	} else {
		region = mmap(NULL, opt.size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			      0);
		if (region == MAP_FAILED) {
			fprintf(stderr, "workload: mmap(%zu): %s\n", opt.size,
				strerror(errno));
			return 2;
		}
	}

	pthread_barrier_init(&barrier, NULL, opt.threads + 1);
	for (unsigned i = 0; i < opt.threads; i++) {
		int ret = pthread_create(&workers[i].thread, NULL, worker_main,
					 &workers[i]);

		if (ret) {
			fprintf(stderr, "workload: pthread_create: %s\n",
				strerror(ret));
			return 2;
		}
	}
	pthread_barrier_wait(&barrier); /* first touch done */
	t_init = now_s() - t_start;
	if (opt.warm > 0) {
		sleep_s(opt.warm);
		atomic_store_explicit(&warm_stop, true, memory_order_relaxed);
	}
	/* The workers finish their warm op and wait on the barrier. */
	if (opt.corrupt)
		corrupt_records(opt.corrupt);
	getrusage(RUSAGE_SELF, &ru0);
#ifdef HAVE_USWAP
	if (u)
		uswap_stats(u, &st0);
#endif
	t0 = now_s();
	pthread_barrier_wait(&barrier);
	if (!opt.ops) {
		sleep_s(opt.seconds);
		atomic_store_explicit(&stop, true, memory_order_relaxed);
	}
	for (unsigned i = 0; i < opt.threads; i++)
		pthread_join(workers[i].thread, NULL);
	t1 = now_s();
	getrusage(RUSAGE_SELF, &ru1);
	secs = t1 - t0;
	cpu = tv_s(&ru1.ru_utime) + tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_utime) -
	      tv_s(&ru0.ru_stime);

	/* Memory, while the working set is still mapped. */
	ws_res = region_resident();
	rss = rss_bytes();
	if (opt.cgroup_report) {
		cg_usage = read_ull(opt.cgroup_report, "memory.usage_in_bytes");
		cg_max = read_ull(opt.cgroup_report,
				  "memory.max_usage_in_bytes");
	}
	if (opt.zram)
		zram_read(opt.zram, &z);
#ifdef HAVE_USWAP
	if (u) {
		uswap_stats(u, &st1);
		held = st1.held;
	}
#endif
	if (!opt.uswap) {
		if (cg_usage >= 0)
			held = (uint64_t)cg_usage +
			       (z.used > 0 ? (uint64_t)z.used : 0);
		else
			held = ws_res;
	}

	memset(&all, 0, sizeof(all));
	for (unsigned i = 0; i < opt.threads; i++) {
		struct worker *w = &workers[i];

		ops += w->ops;
		writes += w->writes;
		errors += w->errors;
		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			all.count[b] += w->hist.count[b];
		all.n += w->hist.n;
		if (w->hist.max > all.max)
			all.max = w->hist.max;
	}

	majors = ru1.ru_majflt - ru0.ru_majflt;
#ifdef HAVE_USWAP
	if (u)
		majors = (long)(st1.faults_major - st0.faults_major);
#endif
	printf("RESULT label=%s mem=%s pattern=%s threads=%u size=%zu "
	       "budget=%zu write_ratio=%.3f theta=%.3f seconds=%.3f "
	       "init_s=%.3f ops=%" PRIu64 " writes=%" PRIu64
	       " ops_s=%.0f p50_ns=%.0f p99_ns=%.0f p999_ns=%.0f"
	       " max_ns=%" PRIu64 " cpu_s=%.3f majflt=%ld minflt=%ld"
	       " held=%" PRIu64 " ws_resident=%" PRIu64 " rss=%" PRIu64
	       " cg_usage=%lld cg_max=%lld zram_orig=%lld zram_compr=%lld"
	       " zram_used=%lld zram_max=%lld",
	       opt.label, mem, pattern_names[opt.pattern], opt.threads,
	       opt.size, opt.budget, opt.write_ratio, opt.theta, secs, t_init,
	       ops, writes, (double)ops / secs, hist_quantile(&all, 0.5),
	       hist_quantile(&all, 0.99), hist_quantile(&all, 0.999), all.max,
	       cpu, ru1.ru_majflt - ru0.ru_majflt,
	       ru1.ru_minflt - ru0.ru_minflt, held, ws_res, rss, cg_usage,
	       cg_max, z.orig, z.compr, z.used, z.max);
#ifdef HAVE_USWAP
	if (u)
		printf(" us_faults=%" PRIu64 " us_major=%" PRIu64
		       " us_minor=%" PRIu64 " us_zero=%" PRIu64
		       " us_repeat=%" PRIu64 " us_eexist=%" PRIu64
		       " us_swapins=%" PRIu64 " us_swapouts=%" PRIu64
		       " us_scans=%" PRIu64 " us_sigbus=%" PRIu64
		       " us_resident=%" PRIu64 " us_cached=%" PRIu64
		       " us_stored=%" PRIu64 " us_compressed=%" PRIu64,
		       st1.faults - st0.faults,
		       st1.faults_major - st0.faults_major,
		       st1.faults_minor - st0.faults_minor,
		       st1.faults_zero - st0.faults_zero,
		       st1.faults_repeat - st0.faults_repeat,
		       st1.eexist - st0.eexist, st1.swapins - st0.swapins,
		       st1.swapouts - st0.swapouts,
		       st1.reclaim_scans - st0.reclaim_scans,
		       st1.sigbus - st0.sigbus, st1.resident, st1.cached,
		       st1.stored, st1.compressed);
#endif
	printf(" verify_errors=%" PRIu64 "\n", errors);
	printf("%s %s %ut over %.0f MiB: %.3f Mops/s, latency p50 %.2f us "
	       "p99 %.2f us max %.1f us, %ld major faults, held %.1f MiB, "
	       "%s\n",
	       mem, pattern_names[opt.pattern], opt.threads,
	       (double)opt.size / 1048576.0, (double)ops / secs / 1e6,
	       hist_quantile(&all, 0.5) / 1e3, hist_quantile(&all, 0.99) / 1e3,
	       (double)all.max / 1e3, majors, (double)held / 1048576.0,
	       errors ? "VERIFY FAILED" : "all reads verified");
	fflush(stdout);

#ifdef HAVE_USWAP
	if (u) {
		int ret = uswap_unmap(u, region, opt.size);

		if (ret < 0)
			fprintf(stderr, "workload: uswap_unmap: %s\n",
				strerror(-ret));
		uswap_close(u);
	}
#endif
	return errors ? 1 : 0;
}
