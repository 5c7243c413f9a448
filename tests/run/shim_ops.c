/*
 * Run under `uswap run` (shim_ops.sh): the calls the shim routes, on pages
 * that were swapped out, must leave exactly the contents Linux gives
 * without uswap: MADV_DONTNEED reads as zeros afterwards, MADV_FREE as
 * zeros or the old contents (zeros under the shim, which does it as
 * MADV_DONTNEED),
 * mremap keeps the contents (and a grown tail is zero), munmap of a middle
 * piece leaves both sides intact; write(2) from and read(2) into
 * swapped-out pages move the right bytes; threads with malloc'd memory
 * (mimalloc's per-thread heaps, over uswap) while a timer signal keeps
 * interrupting them see their own bytes; a forked child finds its FILEs
 * (malloc'd by fopen, then swapped out) and the heap around them intact;
 * a child forked after setlocale(3), its data swapped out, does not hang,
 * nor does a fork after getpwnam(3); a SIGTERM sent to the process while
 * it blocks it waits for sigtimedwait(2).  Run with handler threads and
 * in the in-thread mode (shim_ops.sh).  Exit 0 pass, 1 fail.
 */
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE  4096UL
#define NPAGE (48UL << 20) / PAGE /* 48M: 6 x the script's budget */

static unsigned long errors;

/* fill - page @i of @p gets generation @gen everywhere. */
static void fill(unsigned char *p, size_t i, uint64_t gen)
{
	uint64_t *w = (uint64_t *)(p + i * PAGE);

	for (size_t k = 0; k < PAGE / 8; k++)
		w[k] = (i << 32) ^ (gen << 16) ^ k;
}

/* check - page @i of @p holds generation @gen (0 = all zero). */
static void check(const unsigned char *p, size_t i, uint64_t gen,
		  const char *what)
{
	const uint64_t *w = (const uint64_t *)(p + i * PAGE);

	for (size_t k = 0; k < PAGE / 8; k++) {
		uint64_t want = gen ? (i << 32) ^ (gen << 16) ^ k : 0;

		if (w[k] != want) {
			if (errors++ < 10)
				fprintf(stderr,
					"%s: page %zu word %zu: got %#llx, "
					"want %#llx\n",
					what, i, k, (unsigned long long)w[k],
					(unsigned long long)want);
			return;
		}
	}
}

#define NTHREAD 4
#define CHUNK	(64 * 1024)
#define NCHUNK	128 /* 8M per thread */

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

/* worker - malloc NCHUNK chunks, fill, verify twice, free. */
static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	unsigned long bad = 0;
	uint32_t *c[NCHUNK];

	for (size_t k = 0; k < NCHUNK; k++) {
		c[k] = malloc(CHUNK);
		if (!c[k])
			return (void *)1;
		for (size_t w = 0; w < CHUNK / 4; w++)
			c[k][w] = (uint32_t)(id << 24 ^ k << 12 ^ w);
	}
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < NCHUNK; k++)
			for (size_t w = 0; w < CHUNK / 4; w++)
				bad += c[k][w] !=
				       (uint32_t)(id << 24 ^ k << 12 ^ w);
	for (size_t k = 0; k < NCHUNK; k++)
		free(c[k]);
	return (void *)(uintptr_t)bad;
}

/* threads - NTHREAD workers under a 1 ms interval timer. */
static void threads(void)
{
	struct itimerval it = {{0, 1000}, {0, 1000}};
	struct sigaction sa;
	pthread_t t[NTHREAD];
	void *ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (uintptr_t i = 0; i < NTHREAD; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREAD; i++) {
		pthread_join(t[i], &ret);
		if (ret) {
			fprintf(stderr, "thread %d: %lu words wrong\n", i,
				(unsigned long)(uintptr_t)ret);
			errors++;
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
}

#define NFILE	 64
#define NSMALL	 4096
#define NFILL	 40960 /* 40M of 1K blocks */
#define NSLEEPER 4

static void *fill_blocks[NFILL];
static int sleeper_pipe[2];

static void *sleeper(void *arg)
{
	char c;

	(void)arg;
	return read(sleeper_pipe[0], &c, 1) == 1 ? NULL : (void *)1;
}

/*
 * wait_child - the child's status, or -1 after 30 s (then it is killed):
 * a child that hangs in uswap's atfork handler is a failure, not a
 * timeout of the whole test.
 */
static int wait_child(pid_t pid)
{
	int status;

	for (int i = 0; i < 3000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* check_child - @pid (or a failed fork, < 0) must exit 0 within 30 s */
static void check_child(const char *who, pid_t pid)
{
	int rc = pid < 0 ? -2 : wait_child(pid);

	if (rc) {
		fprintf(stderr, "%s: the child %s\n", who,
			rc == -1 ? "hung for 30 s (killed)" : "failed");
		errors++;
	}
}

/*
 * push_out - map @len bytes and fill them with 0x5a: under the script's
 * budget this swaps out what was touched before.  NULL (counted) if the
 * mapping fails.
 */
static unsigned char *push_out(size_t len)
{
	unsigned char *b = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED) {
		perror("mmap");
		errors++;
		return NULL;
	}
	memset(b, 0x5a, len);
	return b;
}

/* files_out - how many of @f's FILEs start in a page that is not present */
static int files_out(FILE **f, int n)
{
	int out = 0;

	for (int i = 0; i < n; i++) {
		unsigned char vec = 1;

		if (mincore((void *)((uintptr_t)f[i] & ~(PAGE - 1)), PAGE,
			    &vec) == 0)
			out += !(vec & 1);
	}
	return out;
}

/*
 * fork_files - FILEs and small objects swapped out, then fork while
 * program threads sleep: the child finds the objects and FILEs, and
 * uswap's restart in it (threads created from its atfork handler, before
 * they can serve a fault) must not wait for a page nobody serves; a hung
 * child fails after 30 s.  In the child glibc resets every FILE's lock
 * before uswap's handlers run there: a FILE still swapped out then would
 * read as a zero page (src/mm/fork_libc.c, fork_files_fault_in; without
 * it the child dies of SIGSEGV).  Under uswap (USWAP_BUDGET set) at least one
 * FILE must be out at the fork, else this tests nothing.  (Here the
 * sleepers' dtv stay in pages the constructor touched, which are plain:
 * this does not catch uswap's threads reusing their stacks,
 * src/preload/shim.c SHIM_THREAD_STACK; run-redis does: BGSAVE hangs
 * without it.)
 */
static void fork_files(int nsleeper)
{
	static FILE *f[NFILE];
	static unsigned char *m[NSMALL];
	size_t big = 40UL << 20;
	pthread_t sl[NSLEEPER];
	unsigned char *b;
	void *ret;
	pid_t pid;

	/*
	 * mimalloc's first segment (mapped before uswap was up: adopted, its
	 * pages touched by then plain) takes small allocations first: fill
	 * it, so that what follows comes after
	 */
	for (int k = 0; k < NFILL; k++)
		fill_blocks[k] = malloc(1024);
	if (pipe(sleeper_pipe)) {
		perror("pipe");
		errors++;
		return;
	}
	for (int i = 0; i < nsleeper; i++)
		pthread_create(&sl[i], NULL, sleeper, NULL);
	for (int i = 0; i < NFILE; i++)
		if (!(f[i] = fopen("/dev/null", "w"))) {
			perror("fopen");
			errors++;
			return;
		}
	for (int k = 0; k < NSMALL; k++) {
		m[k] = malloc(100);
		memset(m[k], k & 0xff, 100);
	}
	/* push them out */
	if (!(b = push_out(big)))
		return;
	if (getenv("USWAP_BUDGET") && !files_out(f, NFILE)) {
		fprintf(stderr,
			"fork: no FILE was swapped out before the fork: "
			"this tests nothing\n");
		errors++;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		unsigned long bad = 0;

		for (int k = 0; k < NSMALL; k++)
			for (int j = 0; j < 100; j++)
				bad += m[k][j] != (k & 0xff);
		for (int i = 0; i < NFILE; i++)
			bad += fprintf(f[i], "child %d\n", i) < 0 ||
			       fclose(f[i]) != 0;
		if (bad)
			fprintf(stderr, "child: %lu bytes or FILEs wrong\n",
				bad);
		_exit(bad ? 1 : 0);
	}
	check_child("fork", pid);
	if (write(sleeper_pipe[1], "wake", nsleeper) != nsleeper)
		errors++;
	for (int i = 0; i < nsleeper; i++) {
		pthread_join(sl[i], &ret);
		errors += ret != NULL;
	}
	close(sleeper_pipe[0]);
	close(sleeper_pipe[1]);
	for (int i = 0; i < NFILE; i++)
		fclose(f[i]);
	for (int k = 0; k < NSMALL; k++)
		free(m[k]);
	for (int k = 0; k < NFILL; k++)
		free(fill_blocks[k]);
	munmap(b, big);
}

/*
 * fork_locale - setlocale(3) allocates the locale's data with malloc (the
 * heap: uswap memory), and every new thread reads the LC_CTYPE part at
 * birth, in glibc's start_thread (__ctype_init), before its start
 * routine.  In a fork child uswap's own new handler threads did too, and
 * with that data swapped out they waited for a fault only they could
 * serve: the child hung (src/mm/fault.c, mm_serve_until_handlers_up).
 * Under uswap the data must be out at the fork, else this tests nothing;
 * but in the in-thread mode (USWAP_SIGBUS) the shim keeps it in memory
 * (src/preload/locale.c: a new thread there would die reading it), so
 * there it must be in.
 */
static void fork_locale(void)
{
	size_t big = 40UL << 20;
	locale_t dup;
	uintptr_t data;
	unsigned char *b, vec = 1;
	pid_t pid;

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		fprintf(stderr, "fork_locale: no C.UTF-8 locale: skipped\n");
		return;
	}
	/* the global locale's LC_CTYPE data (shared with the copy) */
	dup = duplocale(LC_GLOBAL_LOCALE);
	if (!dup) {
		perror("duplocale");
		errors++;
		return;
	}
	data = (uintptr_t)dup->__locales[LC_CTYPE];
	if (!(b = push_out(big)))
		return;
	if (getenv("USWAP_BUDGET") &&
	    mincore((void *)(data & ~(PAGE - 1)), PAGE, &vec)) {
		perror("fork_locale: mincore");
		errors++;
	} else if (getenv("USWAP_BUDGET") && getenv("USWAP_SIGBUS")) {
		if (!(vec & 1)) {
			fprintf(stderr, "fork_locale: the locale data was "
					"swapped out in the in-thread mode: "
					"a new thread would die reading it\n");
			errors++;
		}
	} else if (getenv("USWAP_BUDGET") && (vec & 1)) {
		fprintf(stderr, "fork_locale: the locale data was not swapped "
				"out before the fork: this tests nothing\n");
		errors++;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(b[12345] == 0x5a ? 0 : 1);
	check_child("fork_locale", pid);
	freelocale(dup);
	munmap(b, big);
}

/*
 * fork_nss - after getpwnam(3), glibc keeps its NSS configuration state in
 * the heap, and its fork reads it after every prepare handler, uswap's
 * too, when the pager is parked: swapped out, the fork itself never
 * returned (src/mm/fork_libc.c, fork_nss_fault_in).  A fork that does not
 * return within 60 s ends the test (SIGALRM).  The state's address is not known
 * here, so nothing checks that it was out; measured: without
 * fork_nss_fault_in this hangs.
 */
static void fork_nss(void)
{
	struct passwd *pw = getpwnam("root");
	unsigned char *b;
	pid_t pid;

	if (!pw) {
		fprintf(stderr, "fork_nss: no user root: skipped\n");
		return;
	}
	if (!(b = push_out(40UL << 20)))
		return;
	fflush(stdout);
	alarm(60);
	pid = fork();
	if (pid == 0) {
		pw = getpwnam("root");
		_exit(pw && pw->pw_uid == 0 && b[12345] == 0x5a ? 0 : 1);
	}
	alarm(0);
	check_child("fork_nss", pid);
	munmap(b, 40UL << 20);
}

/*
 * blocked_signal - a daemon's pattern: block SIGTERM, take it later with
 * sigwait(3) (or a signalfd).  A process-directed SIGTERM must wait
 * pending for that, not go to a uswap thread that does not block it
 * (default action: the process dies, exit 143; so it did before
 * src/lib/thread.c).
 */
static void blocked_signal(void)
{
	const struct timespec wait = {.tv_sec = 5};
	sigset_t term;
	int sig;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	kill(getpid(), SIGTERM);
	usleep(100000); /* the uswap threads are up and running */
	sig = sigtimedwait(&term, NULL, &wait);
	if (sig != SIGTERM) {
		fprintf(stderr,
			"blocked_signal: sigtimedwait returned %d, "
			"not SIGTERM\n",
			sig);
		errors++;
	}
	sigprocmask(SIG_UNBLOCK, &term, NULL);
}

int main(void)
{
	static uint64_t gen[NPAGE];
	static bool freed[NPAGE];
	unsigned char *p, *q;
	size_t i;

	/*
	 * First: run last, after everything below, fork_files found the
	 * swap (8 x 8M) nearly full and none of its FILEs out; fork_locale
	 * run after fork_files found its page still resident in 2 runs of
	 * 10, even after three passes over 40M (not looked into)
	 */
	fork_locale();
	fork_files(NSLEEPER);
	fork_nss();
	blocked_signal();
	p = mmap(NULL, NPAGE * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; i < NPAGE; i++)
		fill(p, i, gen[i] = 1);
	/* most pages are swapped out now; discard some of them */
	for (i = 0; i < NPAGE; i += 7) {
		if (madvise(p + i * PAGE, PAGE, MADV_DONTNEED)) {
			perror("madvise(MADV_DONTNEED)");
			return 1;
		}
		gen[i] = 0;
	}
	for (i = 3; i < NPAGE; i += 11) {
		if (madvise(p + i * PAGE, 2 * PAGE, MADV_FREE)) {
			perror("madvise(MADV_FREE)");
			return 1;
		}
		freed[i] = freed[i + 1] = true;
	}
	for (i = 0; i < NPAGE; i++) {
		if (!freed[i]) {
			check(p, i, gen[i], "after madvise");
			continue;
		}
		/* MADV_FREE: zeros, or what was there */
		if (*(uint64_t *)(p + i * PAGE) == 0)
			check(p, i, 0, "after MADV_FREE");
		else
			check(p, i, gen[i], "after MADV_FREE");
		fill(p, i, ++gen[i]);
	}
	/* rewrite half, check all */
	for (i = 0; i < NPAGE; i += 2)
		fill(p, i, ++gen[i]);
	for (i = 0; i < NPAGE; i++)
		check(p, i, gen[i], "after rewrite");
	/* system calls: write every page out of uswap memory, read it back */
	{
		char path[] = "/tmp/uswap-shim-ops.XXXXXX";
		int fd = mkstemp(path);
		size_t len = NPAGE * PAGE;
		unsigned char *r;

		if (fd < 0) {
			perror("mkstemp");
			return 1;
		}
		unlink(path);
		r = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		/* r's pages are never touched by the program itself */
		if (write(fd, p, len) != (ssize_t)len ||
		    pread(fd, r, len, 0) != (ssize_t)len) {
			perror("write/pread");
			return 1;
		}
		close(fd);
		for (i = 0; i < NPAGE; i++)
			check(r, i, gen[i], "after write+pread");
		munmap(r, len);
	}
	/* grow, moving: contents follow, the tail is zero */
	q = mremap(p, NPAGE * PAGE, (NPAGE + 256) * PAGE, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		perror("mremap");
		return 1;
	}
	for (i = 0; i < NPAGE; i++)
		check(q, i, gen[i], "after mremap");
	for (i = NPAGE; i < NPAGE + 256; i++)
		check(q, i, 0, "mremap tail");
	/* a hole in the middle; both sides stay */
	if (munmap(q + (NPAGE / 2) * PAGE, 64 * PAGE)) {
		perror("munmap");
		return 1;
	}
	for (i = 0; i < NPAGE; i++)
		if (i < NPAGE / 2 || i >= NPAGE / 2 + 64)
			check(q, i, gen[i], "after munmap");
	/* shrink in place: the head stays */
	if (mremap(q, (NPAGE / 2) * PAGE, (NPAGE / 4) * PAGE, 0) != q) {
		perror("mremap shrink");
		return 1;
	}
	for (i = 0; i < NPAGE / 4; i++)
		check(q, i, gen[i], "after shrink");
	threads();
	printf("%lu mismatches\n", errors);
	return errors ? 1 : 0;
}
