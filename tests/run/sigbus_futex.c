/*
 * sigbus_futex: pairs of threads take turns through glibc's waits (a
 * condition variable, plain and timed; semaphores; a barrier; a read-write
 * lock; a timed mutex lock; futex(2) through syscall(3), as C++20's
 * std::atomic::wait does) whose objects lie in malloc'd pages, while the
 * main thread churns a heap several times the budget, so that uswap keeps
 * pushing those pages out.
 *
 * With "maps", two more threads map and unmap memory (uswap's region lock
 * taken for writing) and two read a pipe into heap buffers (the shim's
 * read looks the buffer up under that lock, for reading): the shim's own
 * locks must not go through its wrappers (a wrapper's lookup took that
 * read lock again, recursively, and the process died of SIGSEGV).  Not
 * always: they slow the churn down, and the waits' pages are pushed out
 * less.  Under `uswap run --sigbus` a wait whose page
 * is out when its futex(2) reads it gets EFAULT, and glibc aborts ("The
 * futex facility returned an unexpected error code."): src/preload/futex.c
 * keeps those pages in memory.
 *
 * Usage: run_sigbus_futex [SECONDS [HEAP_MIB [maps]]]   (8 s, 64 MiB)
 * Prints "ok: N rounds" and exits 0, or says what went wrong and exits 1.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAIRS 4

struct box {
	pthread_mutex_t m;
	pthread_cond_t c;
	int turn, quit;
	long rounds[2];
	sem_t s[2];
	pthread_barrier_t b;
	pthread_rwlock_t l;
	long x, y; /* l: written together */
	pthread_mutex_t tm;
	long tm_count; /* tm */
};

static struct box *boxes[PAIRS];
static atomic_int stop;
/* the futex pairs' words, each in a page of its own: whose turn (0, 1), 2 = quit */
static _Atomic uint32_t *words[PAIRS];
static long word_rounds[PAIRS][2];

/* die - report @what (and @err, if not 0) and exit 1 */
static void die(const char *what, int err)
{
	fprintf(stderr, "sigbus_futex: %s%s%s\n", what, err ? ": " : "",
		err ? strerror(err) : "");
	exit(1);
}

static struct timespec later(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += 60;
	return t;
}

/* take_turn - wait for our turn, pass it on; both sides learn quit. */
static int take_turn(struct box *b, int me, int timed)
{
	int quit, err;

	pthread_mutex_lock(&b->m);
	while (b->turn != me) {
		if (timed) {
			struct timespec t = later(CLOCK_REALTIME);

			err = pthread_cond_timedwait(&b->c, &b->m, &t);
		} else {
			err = pthread_cond_wait(&b->c, &b->m);
		}
		if (err)
			die("pthread_cond_wait", err);
	}
	if (me == 0)
		b->quit = atomic_load(&stop);
	quit = b->quit;
	b->turn = !me;
	b->rounds[me]++;
	pthread_cond_signal(&b->c);
	pthread_mutex_unlock(&b->m);
	return quit;
}

static void *player(void *arg)
{
	long v = (long)arg;
	struct box *b = boxes[v >> 1];
	int me = v & 1, err;

	for (long i = 0; !take_turn(b, me, i & 1); i++) {
		/* semaphores: each posts the other's, waits for its own */
		if (sem_post(&b->s[!me]))
			die("sem_post", errno);
		if (i & 1) {
			struct timespec t = later(CLOCK_REALTIME);

			while (sem_timedwait(&b->s[me], &t) && errno == EINTR)
				;
		} else {
			while (sem_wait(&b->s[me]) && errno == EINTR)
				;
		}
		err = pthread_barrier_wait(&b->b);
		if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
			die("pthread_barrier_wait", err);
		/* the read-write lock: one writes, the other checks */
		if (me == 0) {
			if ((err = pthread_rwlock_wrlock(&b->l)))
				die("pthread_rwlock_wrlock", err);
			b->x++;
			b->y++;
		} else {
			if ((err = pthread_rwlock_rdlock(&b->l)))
				die("pthread_rwlock_rdlock", err);
			if (b->x != b->y) {
				fprintf(stderr, "sigbus_futex: torn %ld %ld\n",
					b->x, b->y);
				exit(1);
			}
		}
		pthread_rwlock_unlock(&b->l);
		{
			struct timespec t = later(CLOCK_REALTIME);

			if ((err = pthread_mutex_timedlock(&b->tm, &t)))
				die("pthread_mutex_timedlock", err);
			b->tm_count++;
			pthread_mutex_unlock(&b->tm);
		}
	}
	return NULL;
}

/* a futex pair: wait while the word says the other's turn */
static void *futex_player(void *arg)
{
	_Atomic uint32_t *word = words[(long)arg >> 1];
	long *rounds = word_rounds[(long)arg >> 1];
	uint32_t me = (uint32_t)(long)arg & 1, v;

	for (;;) {
		while ((v = atomic_load(word)) == !me) {
			/* some work between the check and the wait (a
			 * program's bookkeeping): a wider window for an
			 * eviction to drop the page in */
			for (volatile int k = 0; k < 2000; k++)
				;
			if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, !me,
				    NULL, NULL, 0) &&
			    errno != EAGAIN && errno != EINTR)
				die("futex(FUTEX_WAIT)", errno);
		}
		if (v == 2)
			return NULL;
		rounds[me]++;
		atomic_store(word, me == 0 && atomic_load(&stop) ? 2 : !me);
		if (syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
			    0) < 0)
			die("futex(FUTEX_WAKE)", errno);
	}
}

/*
 * The wrappers try an object before they keep its page: the results must
 * stay glibc's.  A bad timeout or clock is refused before anything is
 * taken, and sem_wait is a cancellation point even when it need not wait.
 * (Checked without uswap first by the script: this is glibc's behaviour.)
 */
static void *cancelled_waiter(void *arg)
{
	pthread_cancel(pthread_self());
	sem_wait(arg); /* available: glibc acts on the cancellation first */
	return arg;
}

static void check_semantics(void)
{
	struct timespec bad = {.tv_sec = 0, .tv_nsec = 2000000000L};
	struct timespec good = later(CLOCK_REALTIME);
	sem_t *s = malloc(sizeof(*s));
	pthread_mutex_t *m = malloc(sizeof(*m));
	pthread_rwlock_t *l = malloc(sizeof(*l));
	const clockid_t no_clock = 12345;
	pthread_t th;
	void *ret;
	int v;

	if (!s || !m || !l)
		die("malloc", errno);
	sem_init(s, 0, 1);
	pthread_mutex_init(m, NULL);
	pthread_rwlock_init(l, NULL);
	errno = 0;
	if (sem_timedwait(s, &bad) != -1 || errno != EINVAL ||
	    sem_getvalue(s, &v) || v != 1)
		die("sem_timedwait with a bad timeout took the semaphore", 0);
	errno = 0;
	if (sem_clockwait(s, no_clock, &good) != -1 || errno != EINVAL ||
	    sem_getvalue(s, &v) || v != 1)
		die("sem_clockwait with a bad clock took the semaphore", 0);
	if (pthread_mutex_clocklock(m, no_clock, &good) != EINVAL ||
	    pthread_mutex_trylock(m) != 0)
		die("pthread_mutex_clocklock with a bad clock", 0);
	pthread_mutex_unlock(m);
	if (pthread_rwlock_clockwrlock(l, no_clock, &good) != EINVAL ||
	    pthread_rwlock_trywrlock(l) != 0)
		die("pthread_rwlock_clockwrlock with a bad clock", 0);
	pthread_rwlock_unlock(l);
	if (pthread_create(&th, NULL, cancelled_waiter, s) ||
	    pthread_join(th, &ret) || ret != PTHREAD_CANCELED)
		die("sem_wait of an available semaphore was no cancellation "
		    "point",
		    0);
}

/* maps and unmaps a MiB again and again (a uswap region each time) */
static void *mapper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap", errno);
		memset(p, 1, 4096);
		munmap(p, 1 << 20);
	}
	return NULL;
}

/* a byte through a pipe into a heap buffer, again and again */
static void *reader(void *arg)
{
	char *buf = malloc(65536);
	int fd[2];

	(void)arg;
	if (!buf || pipe(fd))
		die("pipe", errno);
	while (!atomic_load(&stop)) {
		if (write(fd[1], "x", 1) != 1 || read(fd[0], buf, 1) != 1)
			die("pipe I/O", errno);
	}
	close(fd[0]);
	close(fd[1]);
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 8;
	size_t big = (size_t)(argc > 2 ? atol(argv[2]) : 64) << 20;
	int maps = argc > 3 && !strcmp(argv[3], "maps");
	pthread_t th[2 * PAIRS], ft[2 * PAIRS], io[4];
	unsigned long x = 1;
	char *heap;
	time_t end;
	long n = 0, nf = 0;

	check_semantics();
	for (int i = 0; i < PAIRS; i++) {
		struct box *b = malloc(1 << 20); /* pages of its own */

		if (!b)
			die("malloc", errno);
		memset(b, 0, sizeof(*b));
		pthread_mutex_init(&b->m, NULL);
		pthread_cond_init(&b->c, NULL);
		sem_init(&b->s[0], 0, 0);
		sem_init(&b->s[1], 0, 0);
		pthread_barrier_init(&b->b, NULL, 2);
		pthread_rwlock_init(&b->l, NULL);
		pthread_mutex_init(&b->tm, NULL);
		boxes[i] = b;
	}
	for (int i = 0; i < PAIRS; i++) {
		words[i] = malloc(1 << 20);
		if (!words[i])
			die("malloc", errno);
		atomic_store(words[i], 0);
	}
	heap = malloc(big);
	if (!heap)
		die("malloc", errno);
	memset(heap, 1, big);
	for (long i = 0; i < 2 * PAIRS; i++)
		if (pthread_create(&th[i], NULL, player, (void *)i))
			die("pthread_create", errno);
	for (long i = 0; i < 2 * PAIRS; i++)
		if (pthread_create(&ft[i], NULL, futex_player, (void *)i))
			die("pthread_create", errno);
	for (long i = 0; i < 4 && maps; i++)
		if (pthread_create(&io[i], NULL, i < 2 ? mapper : reader, NULL))
			die("pthread_create", errno);
	end = time(NULL) + secs;
	while (time(NULL) < end) /* churn: push the boxes out */
		for (int k = 0; k < 1000; k++) {
			x = x * 6364136223846793005ul + 1442695040888963407ul;
			heap[(x >> 20) % big]++;
		}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2 * PAIRS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2 * PAIRS; i++)
		pthread_join(ft[i], NULL);
	for (int i = 0; i < 4 && maps; i++)
		pthread_join(io[i], NULL);
	for (int i = 0; i < PAIRS; i++) {
		long *r = word_rounds[i];

		if (r[0] < r[1] || r[0] > r[1] + 1) {
			fprintf(stderr,
				"sigbus_futex: futex pair %d: rounds %ld/%ld\n",
				i, r[0], r[1]);
			return 1;
		}
		nf += r[0];
	}
	for (int i = 0; i < PAIRS; i++) {
		struct box *b = boxes[i];

		if (b->rounds[0] != b->rounds[1] || b->x != b->y ||
		    b->tm_count != 2 * b->x) {
			fprintf(stderr,
				"sigbus_futex: pair %d: rounds %ld/%ld, x %ld "
				"y %ld, timed locks %ld\n",
				i, b->rounds[0], b->rounds[1], b->x, b->y,
				b->tm_count);
			return 1;
		}
		n += b->rounds[0];
	}
	printf("ok: %ld rounds, %ld through futex(2)\n", n, nf);
	return 0;
}
