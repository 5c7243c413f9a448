/*
 * The cost of an uncontended pthread_mutex_lock + unlock under the preload
 * shim, which wraps pthread_mutex_lock (src/preload/futex.c: a contended
 * lock keeps the mutex's page in memory in the in-thread mode).  In the
 * same process and run, alternating rounds: the lock through the program's
 * own reference (the shim's wrapper when it is preloaded, glibc's
 * otherwise) and through glibc's function itself (looked up in libc.so.6,
 * which no preload changes).  The mutex is in the heap (uswap memory
 * under `uswap run`).  Prints ns per lock + unlock pair, median (min-max)
 * of the rounds for each, and their ratio:
 *
 *   build-rel/tools/uswap run --sigbus -- build-rel/bench/shim_lock
 *   build-rel/bench/shim_lock          # no shim: the two should match
 *
 * usage: shim_lock [rounds [pairs per round]]
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n, const char *unit)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%-28s %6.2f%s (%.2f-%.2f)\n", what, v[n / 2], unit, v[0],
	       v[n - 1]);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 9;
	long pairs = argc > 2 ? atol(argv[2]) : 20000000;
	int (*libc_lock)(pthread_mutex_t *);
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	pthread_mutex_t *m = malloc(sizeof(*m));
	double *own, *direct, *ratio;

	if (rounds < 1 || pairs < 1 || !libc || !m) {
		fprintf(stderr, "usage: shim_lock [rounds [pairs]] (%s)\n",
			libc ? "bad number" : dlerror());
		return 2;
	}
	*(void **)&libc_lock = dlsym(libc, "pthread_mutex_lock");
	own = calloc((size_t)rounds, sizeof(double));
	direct = calloc((size_t)rounds, sizeof(double));
	ratio = calloc((size_t)rounds, sizeof(double));
	if (!libc_lock || !own || !direct || !ratio)
		return 2;
	pthread_mutex_init(m, NULL);
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();

		for (long i = 0; i < pairs; i++) {
			pthread_mutex_lock(m);
			pthread_mutex_unlock(m);
		}
		own[r] = (now_ns() - t0) / pairs;
		t0 = now_ns();
		for (long i = 0; i < pairs; i++) {
			libc_lock(m);
			pthread_mutex_unlock(m);
		}
		direct[r] = (now_ns() - t0) / pairs;
	}
	for (int r = 0; r < rounds; r++)
		ratio[r] = own[r] / direct[r];
	report("pthread_mutex_lock (own ref)", own, rounds, " ns");
	report("glibc's, looked up", direct, rounds, " ns");
	report("ratio (per round)", ratio, rounds, "x");
	return 0;
}
