/*
 * Benchmark: the compressed RAM device against the kernel's zram, side by
 * side in one run, on the same pages.
 *
 * usage: store_vs_zram [-r REPS] [-s] [-z BLOCKDEV -m MM_STAT] DATASET...
 *   DATASET    a file of pages (e.g. a dumped heap), or synthetic:MIB
 *   -s         also measure scaling: 1 and 2 threads on disjoint pages
 *   -z, -m     the zram block device (set up by store_vs_zram.sh: lz4,
 *              disksize) and its mm_stat file; without them only ours runs
 *
 * For each data set and repetition: store every page into our device
 * (slot i = page i), then write it to zram (offset i * 4096, O_DIRECT, one
 * pwrite per page); read both back in the same random order (one load_page
 * or pread per page); check both copies against the source; record ns per
 * page and memory (our mem_used_total against zram's mm_stat
 * mem_used_total, both right after the stores, before any compaction).
 * Then churn, swap's steady state: every slot in random order gets another
 * page of the set (ours: discard + store; zram: an overwrite, which frees
 * the old object and stores the new one).
 * Before each repetition our device is made anew and zram is emptied with
 * BLKDISCARD.  Prints medians with min..max and the ratio ours / zram.
 *
 * zram's times include the syscall and block layer (one 4 KiB O_DIRECT I/O
 * per page): that is how user space reaches zram.  The "floor" column is
 * zram reading a same-filled page, which is mostly that path's cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/device.h"
#include "store/zram.h"
#include "store/zspool.h"
#include "../tests/store/store_test.h"

#define MAXREPS 31

#include <pthread.h>

static const char *zdev_path, *mmstat_path;
static int reps = 5;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct series {
	double v[MAXREPS];
	int n;
};

static double med(struct series *s)
{
	double t[MAXREPS];

	memcpy(t, s->v, sizeof(double) * s->n);
	qsort(t, s->n, sizeof(double), cmp_double);
	return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static double lo(struct series *s)
{
	double m = s->v[0];

	for (int i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

static double hi(struct series *s)
{
	double m = s->v[0];

	for (int i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

static void *alloc_pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

/* Load a data set: a file of pages, or synthetic:MIB (a mix of kinds). */
static unsigned char *load_dataset(const char *name, size_t *npages)
{
	unsigned char *buf;
	size_t i, n;

	if (strncmp(name, "synthetic:", 10) == 0) {
		/* 45% heap, 25% text, 15% zero, 5% same, 10% random */
		static const enum page_kind mix[20] = {
			PK_HEAP, PK_TEXT, PK_HEAP,   PK_ZERO,	PK_HEAP,
			PK_TEXT, PK_HEAP, PK_RANDOM, PK_HEAP,	PK_TEXT,
			PK_ZERO, PK_HEAP, PK_SAME,   PK_HEAP,	PK_TEXT,
			PK_HEAP, PK_ZERO, PK_TEXT,   PK_RANDOM, PK_HEAP};

		n = strtoul(name + 10, NULL, 0) * 256;
		CHECK(n > 0);
		buf = alloc_pages(n);
		for (i = 0; i < n; i++)
			page_gen(buf + i * PAGE_SIZE, mix[i % 20], i);
	} else {
		int fd = open(name, O_RDONLY);
		struct stat st;

		if (fd < 0 || fstat(fd, &st)) {
			perror(name);
			exit(1);
		}
		n = st.st_size / PAGE_SIZE;
		CHECK(n > 0);
		buf = alloc_pages(n);
		CHECK(read(fd, buf, n * PAGE_SIZE) == (ssize_t)(n * PAGE_SIZE));
		close(fd);
	}
	*npages = n;
	return buf;
}

/* zram's mm_stat: orig compr mem_used limit max same compacted huge ... */
static void read_mmstat(uint64_t v[9])
{
	FILE *f = fopen(mmstat_path, "r");
	int i;

	CHECK(f);
	for (i = 0; i < 9; i++)
		if (fscanf(f, "%lu", &v[i]) != 1)
			v[i] = 0;
	fclose(f);
}

static void zram_discard_all(int fd, size_t npages)
{
	uint64_t range[2] = {0, (uint64_t)npages * PAGE_SIZE};

	if (ioctl(fd, BLKDISCARD, range)) {
		perror("BLKDISCARD on zram");
		exit(1);
	}
}

/*
 * Scaling: T threads store (then load) disjoint shares of the pages at once,
 * into our device or zram; wall time over all pages.
 */
struct par {
	struct store_dev *dev; /* ours, or NULL for zram */
	int zfd;
	unsigned char *src, *dst;
	const uint32_t *order;
	size_t lo, hi;
	int load;
	pthread_barrier_t *bar;
};

static void *par_worker(void *arg)
{
	struct par *p = arg;
	size_t i;

	pthread_barrier_wait(p->bar);
	for (i = p->lo; i < p->hi; i++) {
		size_t pg = p->load ? p->order[i] : i;
		unsigned char *buf =
			(p->load ? p->dst : p->src) + pg * PAGE_SIZE;
		off_t off = (off_t)pg * PAGE_SIZE;

		if (p->dev && p->load)
			CHECK_EQ(load_page(p->dev, pg, buf), 0);
		else if (p->dev)
			CHECK_EQ(store_page(p->dev, pg, buf), 0);
		else if (p->load)
			CHECK(pread(p->zfd, buf, PAGE_SIZE, off) == PAGE_SIZE);
		else
			CHECK(pwrite(p->zfd, buf, PAGE_SIZE, off) == PAGE_SIZE);
	}
	pthread_barrier_wait(p->bar);
	return NULL;
}

static double cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

/*
 * ns per page (wall) for @nt threads doing the whole set; *@cpu gets the
 * CPU time per page summed over the threads (user + system), which does
 * not depend on how much of the machine other processes take: if it stays
 * the same with 2 threads, they do not slow each other down.
 */
static double par_pass(int nt, struct store_dev *dev, int zfd,
		       unsigned char *src, unsigned char *dst,
		       const uint32_t *order, size_t n, int load, double *cpu)
{
	pthread_t th[2];
	struct par p[2];
	pthread_barrier_t bar;
	double t;
	int i;

	pthread_barrier_init(&bar, NULL, nt + 1);
	for (i = 0; i < nt; i++) {
		p[i] = (struct par){dev,
				    zfd,
				    src,
				    dst,
				    order,
				    n * i / nt,
				    n * (i + 1) / nt,
				    load,
				    &bar};
		CHECK(pthread_create(&th[i], NULL, par_worker, &p[i]) == 0);
	}
	pthread_barrier_wait(&bar);
	*cpu = cpu_ns();
	t = now_ns();
	pthread_barrier_wait(&bar);
	t = now_ns() - t;
	*cpu = (cpu_ns() - *cpu) / n;
	for (i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	return t / n;
}

static void zram_discard_all(int fd, size_t npages);

static void scaling(unsigned char *src, unsigned char *dst,
		    const uint32_t *order, size_t n, int zfd)
{
	/* [ours/zram][store/load][1/2 threads], wall and CPU */
	struct series s[2][2][2] = {0}, c[2][2][2] = {0};
	int r, nt, dev, op;

	for (r = 0; r < reps; r++)
		for (nt = 1; nt <= 2; nt++) {
			struct store_dev *d = open_dev("zram:lz4", n, 0);

			for (op = 0; op < 2; op++) {
				struct series *x = &s[0][op][nt - 1];
				struct series *y = &c[0][op][nt - 1];

				x->v[x->n++] =
					par_pass(nt, d, -1, src, dst, order, n,
						 op, &y->v[y->n++]);
			}
			CHECK(memcmp(src, dst, n * PAGE_SIZE) == 0);
			store_close(d);
			if (zfd < 0)
				continue;
			zram_discard_all(zfd, n);
			for (op = 0; op < 2; op++) {
				struct series *x = &s[1][op][nt - 1];
				struct series *y = &c[1][op][nt - 1];

				x->v[x->n++] =
					par_pass(nt, NULL, zfd, src, dst, order,
						 n, op, &y->v[y->n++]);
			}
			CHECK(memcmp(src, dst, n * PAGE_SIZE) == 0);
		}
	printf("\nScaling: 1 and 2 threads on disjoint pages; wall ns per "
	       "page, and CPU ns per page summed over threads (user+sys), "
	       "medians:\n\n");
	printf("| | wall 1 thr | wall 2 thr | wall speedup | CPU 1 thr | CPU 2 "
	       "thr | CPU 2/1 |\n|---|---|---|---|---|---|---|\n");
	for (dev = 0; dev < (zfd < 0 ? 1 : 2); dev++)
		for (op = 0; op < 2; op++) {
			struct series *a = &s[dev][op][0], *b = &s[dev][op][1];
			struct series *x = &c[dev][op][0], *y = &c[dev][op][1];

			printf("| %s %s | %.0f | %.0f | %.2f | %.0f | %.0f | "
			       "%.2f |\n",
			       dev ? "kernel zram" : "ours",
			       op ? "load" : "store", med(a), med(b),
			       med(a) / med(b), med(x), med(y),
			       med(y) / med(x));
		}
}

static int do_scaling;

static void run(const char *name)
{
	size_t n, i;
	unsigned char *src = load_dataset(name, &n);
	unsigned char *dst = alloc_pages(n);
	uint32_t *order = malloc(n * sizeof(*order));
	struct series ost = {0}, old = {0}, zst = {0}, zld = {0}, zfloor = {0};
	struct series och = {0}, zch = {0};
	struct store_stats st = {0};
	struct zspool_usage u = {0};
	uint64_t mm[9] = {0}, seed = 99;
	double t;
	int zfd = -1, r;

	CHECK(order);
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) { /* one random order for both */
		size_t j = rnd_next(&seed) % (i + 1);
		uint32_t x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	if (zdev_path) {
		zfd = open(zdev_path, O_RDWR | O_DIRECT);
		if (zfd < 0) {
			perror(zdev_path);
			exit(1);
		}
	}
	for (r = 0; r < reps; r++) {
		struct store_dev *dev = open_dev("zram:lz4", n, 0);

		t = now_ns();
		for (i = 0; i < n; i++)
			CHECK_EQ(store_page(dev, i, src + i * PAGE_SIZE), 0);
		ost.v[ost.n++] = (now_ns() - t) / n;
		get_stats(dev, &st);
		zram_pool_usage(dev, &u);

		memset(dst, 1, n * PAGE_SIZE);
		t = now_ns();
		for (i = 0; i < n; i++)
			CHECK_EQ(load_page(dev, order[i],
					   dst + (size_t)order[i] * PAGE_SIZE),
				 0);
		old.v[old.n++] = (now_ns() - t) / n;
		CHECK(memcmp(src, dst, n * PAGE_SIZE) == 0);

		/* churn: each slot, in random order, gets another page */
		t = now_ns();
		for (i = 0; i < n; i++) {
			discard_slot(dev, order[i]);
			CHECK_EQ(store_page(dev, order[i],
					    src + (size_t)order[(i + 1) % n] *
							    PAGE_SIZE),
				 0);
		}
		och.v[och.n++] = (now_ns() - t) / n;
		store_close(dev);
		if (zfd < 0)
			continue;

		zram_discard_all(zfd, n);
		t = now_ns();
		for (i = 0; i < n; i++)
			CHECK(pwrite(zfd, src + i * PAGE_SIZE, PAGE_SIZE,
				     (off_t)i * PAGE_SIZE) == PAGE_SIZE);
		zst.v[zst.n++] = (now_ns() - t) / n;
		read_mmstat(mm);

		memset(dst, 1, n * PAGE_SIZE);
		t = now_ns();
		for (i = 0; i < n; i++)
			CHECK(pread(zfd, dst + (size_t)order[i] * PAGE_SIZE,
				    PAGE_SIZE,
				    (off_t)order[i] * PAGE_SIZE) == PAGE_SIZE);
		zld.v[zld.n++] = (now_ns() - t) / n;
		CHECK(memcmp(src, dst, n * PAGE_SIZE) == 0);

		/* churn: an overwrite frees the old object, stores the new */
		t = now_ns();
		for (i = 0; i < n; i++)
			CHECK(pwrite(zfd,
				     src + (size_t)order[(i + 1) % n] *
						     PAGE_SIZE,
				     PAGE_SIZE,
				     (off_t)order[i] * PAGE_SIZE) == PAGE_SIZE);
		zch.v[zch.n++] = (now_ns() - t) / n;

		/* the floor: pread of a discarded (empty) zram page */
		zram_discard_all(zfd, n);
		t = now_ns();
		for (i = 0; i < 4096 && i < n; i++)
			CHECK(pread(zfd, dst, PAGE_SIZE,
				    (off_t)order[i] * PAGE_SIZE) == PAGE_SIZE);
		zfloor.v[zfloor.n++] = (now_ns() - t) / i;
	}

	printf("\n### %s: %zu pages (%.1f MiB), %d repetitions\n\n", name, n,
	       n / 256.0, reps);
	printf("| | ours (zram:lz4) | kernel zram (lz4) | ours / zram |\n");
	printf("|---|---|---|---|\n");
	if (zfd >= 0) {
		printf("| store ns/page, median (min..max) | %.0f (%.0f..%.0f) "
		       "| %.0f (%.0f..%.0f) | %.2f |\n",
		       med(&ost), lo(&ost), hi(&ost), med(&zst), lo(&zst),
		       hi(&zst), med(&ost) / med(&zst));
		printf("| load ns/page, median (min..max) | %.0f (%.0f..%.0f) "
		       "| %.0f (%.0f..%.0f) | %.2f |\n",
		       med(&old), lo(&old), hi(&old), med(&zld), lo(&zld),
		       hi(&zld), med(&old) / med(&zld));
		printf("| churn ns/page: discard + store of another page, "
		       "random slots (zram: overwrite) | %.0f (%.0f..%.0f) | "
		       "%.0f (%.0f..%.0f) | %.2f |\n",
		       med(&och), lo(&och), hi(&och), med(&zch), lo(&zch),
		       hi(&zch), med(&och) / med(&zch));
		printf("| zram empty-page read (syscall + block layer floor) "
		       "| | %.0f (%.0f..%.0f) | |\n",
		       med(&zfloor), lo(&zfloor), hi(&zfloor));
		printf("| orig_data_size | %lu | %lu | %.4f |\n",
		       st.orig_data_size, mm[0],
		       (double)st.orig_data_size / mm[0]);
		printf("| compr_data_size | %lu | %lu | %.4f |\n",
		       st.compr_data_size, mm[1],
		       (double)st.compr_data_size / mm[1]);
		printf("| **mem_used_total** | %lu | %lu | **%.4f** |\n",
		       st.mem_used_total, mm[2],
		       (double)st.mem_used_total / mm[2]);
		printf("| same_pages / huge_pages | %lu / %lu | %lu / %lu | "
		       "|\n",
		       st.same_pages, st.huge_pages, mm[5], mm[7]);
		printf("| mem_used_total - compr_data_size | %lu | %lu | %.3f "
		       "|\n",
		       st.mem_used_total - st.compr_data_size, mm[2] - mm[1],
		       (double)(st.mem_used_total - st.compr_data_size) /
			       (mm[2] - mm[1]));
		printf("| ... ours: rounding to class / free objects / zspage "
		       "tails | %lu / %lu / %lu | | |\n",
		       u.obj_bytes - st.compr_data_size, u.free_bytes,
		       u.tail_bytes);
		printf("| ... zram: 8-byte handle in each object | | %lu | |\n",
		       8 * (mm[0] / PAGE_SIZE - mm[5] - mm[7]));
		printf("| bookkeeping outside mem_used_total | %lu | (not "
		       "reported) | |\n",
		       st.meta_bytes);
		zram_discard_all(zfd, n);
	} else {
		printf("| store ns/page | %.0f (%.0f..%.0f) | | |\n", med(&ost),
		       lo(&ost), hi(&ost));
		printf("| load ns/page | %.0f (%.0f..%.0f) | | |\n", med(&old),
		       lo(&old), hi(&old));
		printf("| compr / mem_used_total | %lu / %lu | | |\n",
		       st.compr_data_size, st.mem_used_total);
	}
	if (do_scaling)
		scaling(src, dst, order, n, zfd);
	if (zfd >= 0) {
		zram_discard_all(zfd, n);
		close(zfd);
	}
	fflush(stdout);
	munmap(src, n * PAGE_SIZE);
	munmap(dst, n * PAGE_SIZE);
	free(order);
}

int main(int argc, char **argv)
{
	int c;

	while ((c = getopt(argc, argv, "r:z:m:s")) != -1) {
		switch (c) {
		case 's':
			do_scaling = 1;
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'z':
			zdev_path = optarg;
			break;
		case 'm':
			mmstat_path = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || reps < 1 || reps > MAXREPS ||
	    !zdev_path != !mmstat_path)
		goto usage;
	for (; optind < argc; optind++)
		run(argv[optind]);
	return 0;
usage:
	fprintf(stderr,
		"usage: %s [-r REPS (1..%d)] [-z BLOCKDEV -m MM_STAT] "
		"DATASET...\n",
		argv[0], MAXREPS);
	return 2;
}
