/*
 * Run under `uswap run --sigbus` (sigbus_io.sh): every I/O call the shim
 * wraps (src/preload/io.c) moves the right bytes from and into heap pages
 * that are not in memory, swapped out or never touched, where the kernel
 * alone fails with EFAULT in the in-thread mode.  Built with
 * _FORTIFY_SOURCE=2 so that the reads into malloc'd buffers of known size
 * are __read_chk and friends.  Also: a bad address still gets EFAULT (not
 * a crash), no datagram is lost, and a buffer larger than the budget
 * moves to and from a regular file in one call; epoll and poll
 * arrays that are out; a SIGBUS handler the program installs with
 * sigaction goes behind uswap's, and threads that block every signal
 * survive their faults (src/preload/signals.c).  --kill: send ourselves
 * SIGBUS, which must end the process as without uswap.
 *
 * Each scenario takes its buffers from a heap of 6 x the script's budget,
 * filled before it, so that they are out by the time the call comes.
 * Exit 0 pass, 1 fail; the first failing call is named with its errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE   4096UL
#define CHUNK  (64 * 1024UL) /* one call's buffer: 16 pages */
#define HEAP   (48UL << 20)  /* 6 x the 8M budget */
#define NCHUNK (HEAP / CHUNK)

static unsigned char *heap; /* NCHUNK chunks; chunk c holds pattern(c) */
/*
 * CHUNK, unknown to the compiler: with the buffer's size known and the
 * length not, _FORTIFY_SOURCE calls __read_chk, __pread64_chk, __recv_chk
 * and __recvfrom_chk (a constant length that fits calls plain read).
 */
static volatile size_t chunk_len = CHUNK;
static unsigned long failures;
static char path[] = "/tmp/uswap-sigbus-io.XXXXXX";

/* pattern - the bytes of chunk @c, from its number alone */
static void pattern(unsigned char *p, size_t c)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t k = 0; k < CHUNK / 8; k++)
		w[k] = (c << 40) ^ (k * 0x9e3779b97f4a7c15ULL);
}

static unsigned char *chunk(size_t c)
{
	return heap + (c % NCHUNK) * CHUNK;
}

/* fill_heap - every chunk its pattern: the early ones are out after it */
static void fill_heap(void)
{
	for (size_t c = 0; c < NCHUNK; c++)
		pattern(chunk(c), c);
}

/* push_out - the same, but chunk @keep keeps what it holds (out after it) */
static void push_out(size_t keep)
{
	for (size_t c = 0; c < NCHUNK; c++)
		if (c != keep)
			pattern(chunk(c), c);
}

static void fail(const char *what, long got, long want)
{
	if (failures++ < 10)
		fprintf(stderr,
			"FAIL %s: returned %ld (want %ld), errno %d %s\n", what,
			got, want, errno, strerror(errno));
}

/* same - @p holds chunk @c's pattern */
static void same(const unsigned char *p, size_t c, const char *what)
{
	static unsigned char want[CHUNK];

	pattern(want, c);
	if (memcmp(p, want, CHUNK) && failures++ < 10)
		fprintf(stderr, "FAIL %s: wrong bytes for chunk %zu\n", what,
			c);
}

/*
 * fresh - a buffer never touched: its pages are not in memory either.
 * Inline, so that the compiler knows its size (malloc's alloc_size) and
 * fortifies the reads into it.
 */
static inline __attribute__((always_inline)) unsigned char *fresh(void)
{
	unsigned char *p = malloc(CHUNK);

	if (!p) {
		perror("malloc");
		exit(1);
	}
	return p;
}

/* write side: write, pwrite, writev, pwritev from swapped-out chunks */
static int files(void)
{
	int fd = mkstemp(path);
	struct iovec iov[2];
	ssize_t n;

	if (fd < 0) {
		perror("mkstemp");
		return -1;
	}
	unlink(path);
	/* file layout: chunks 0..3 at offsets 0..3 */
	if ((n = write(fd, chunk(0), CHUNK)) != (ssize_t)CHUNK)
		fail("write", n, CHUNK);
	if ((n = pwrite(fd, chunk(1), CHUNK, CHUNK)) != (ssize_t)CHUNK)
		fail("pwrite", n, CHUNK);
	iov[0] = (struct iovec){chunk(2), CHUNK};
	iov[1] = (struct iovec){chunk(3), CHUNK};
	if ((n = pwritev(fd, iov, 2, 2 * CHUNK)) != (ssize_t)(2 * CHUNK))
		fail("pwritev", n, 2 * CHUNK);
	fill_heap();
	if (lseek(fd, 4 * CHUNK, SEEK_SET) < 0)
		perror("lseek");
	iov[0] = (struct iovec){chunk(0), CHUNK};
	iov[1] = (struct iovec){chunk(1), CHUNK};
	if ((n = writev(fd, iov, 2)) != (ssize_t)(2 * CHUNK))
		fail("writev", n, 2 * CHUNK);
	return fd;
}

/* read side: read, pread, readv, preadv into fresh and swapped-out pages */
static void reads(int fd)
{
	unsigned char *a = fresh(), *b = fresh();
	struct iovec iov[2];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		perror("lseek");
	if ((n = read(fd, a, chunk_len)) != (ssize_t)CHUNK)
		fail("read into a fresh buffer", n, CHUNK);
	same(a, 0, "read into a fresh buffer");
	fill_heap();
	if ((n = pread(fd, b, chunk_len, 0)) != (ssize_t)CHUNK)
		fail("pread into a fresh buffer", n, CHUNK);
	same(b, 0, "pread into a fresh buffer");
	free(b);
	b = fresh();
	fill_heap();
	/* into chunk 10's place, which is out: chunk 1's bytes from the file */
	if ((n = pread(fd, chunk(10), CHUNK, CHUNK)) != (ssize_t)CHUNK)
		fail("pread into a swapped-out buffer", n, CHUNK);
	same(chunk(10), 1, "pread into a swapped-out buffer");
	fill_heap();
	if (lseek(fd, 2 * CHUNK, SEEK_SET) < 0)
		perror("lseek");
	iov[0] = (struct iovec){chunk(11), CHUNK};
	iov[1] = (struct iovec){b, CHUNK};
	if ((n = readv(fd, iov, 2)) != (ssize_t)(2 * CHUNK))
		fail("readv", n, 2 * CHUNK);
	same(chunk(11), 2, "readv");
	same(b, 3, "readv");
	fill_heap();
	iov[0] = (struct iovec){chunk(12), CHUNK};
	iov[1] = (struct iovec){chunk(13), CHUNK};
	if ((n = preadv(fd, iov, 2, 4 * CHUNK)) != (ssize_t)(2 * CHUNK))
		fail("preadv", n, 2 * CHUNK);
	same(chunk(12), 0, "preadv");
	same(chunk(13), 1, "preadv");
	free(a);
	free(b);
}

/*
 * Sockets: datagrams (a failed copy would drop one), and a stream with
 * sendmsg/recvmsg, their iovec arrays and addresses in the heap too.  What
 * is received was sent before (MSG_DONTWAIT: a failed send fails the
 * receive too, instead of hanging it).
 */
static void sockets(void)
{
	int sv[2];
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)) {
		perror("socketpair");
		failures++;
		return;
	}
	/* 8 datagrams of 8K, each a chunk's head (the queue holds 10) */
	for (size_t c = 20; c < 28; c++) {
		fill_heap();
		if ((n = send(sv[0], chunk(c), 8192, 0)) != 8192)
			fail("send", n, 8192);
	}
	for (size_t c = 20; c < 28; c++) {
		unsigned char *f = fresh(), *dst = c < 24 ? f : chunk(c + 100);
		static unsigned char want[CHUNK];

		fill_heap();
		if (c < 24) /* the fortified ones: f's size is known */
			n = c & 1 ? recv(sv[1], f, chunk_len, MSG_DONTWAIT)
				  : recvfrom(sv[1], f, chunk_len, MSG_DONTWAIT,
					     NULL, NULL);
		else
			n = c & 1 ? recv(sv[1], dst, CHUNK, MSG_DONTWAIT)
				  : recvfrom(sv[1], dst, CHUNK, MSG_DONTWAIT,
					     NULL, NULL);
		if (n != 8192)
			fail(c & 1 ? "recv" : "recvfrom", n, 8192);
		pattern(want, c);
		if (memcmp(dst, want, 8192) && failures++ < 10)
			fprintf(stderr, "FAIL datagram %zu: wrong bytes\n", c);
		free(f);
	}
	close(sv[0]);
	close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		failures++;
		return;
	}
	struct iovec *iov = malloc(2 * sizeof(*iov));
	struct msghdr *msg = malloc(sizeof(*msg));

	for (int round = 0; round < 4; round++) {
		fill_heap();
		iov[0] = (struct iovec){chunk(40), 4096};
		iov[1] = (struct iovec){chunk(41), 4096};
		*msg = (struct msghdr){.msg_iov = iov, .msg_iovlen = 2};
		fill_heap();
		if ((n = sendmsg(sv[0], msg, 0)) != 8192)
			fail("sendmsg", n, 8192);
		if ((n = sendto(sv[0], chunk(42), 4096, 0, NULL, 0)) != 4096)
			fail("sendto", n, 4096);
		fill_heap();
		iov[0] = (struct iovec){chunk(140), 4096};
		iov[1] = (struct iovec){chunk(141), 8192};
		*msg = (struct msghdr){.msg_iov = iov, .msg_iovlen = 2};
		fill_heap();
		n = recvmsg(sv[1], msg, MSG_DONTWAIT);
		if (n != 12288)
			fail("recvmsg", n, 12288);
		static unsigned char want[CHUNK];

		pattern(want, 40);
		if (memcmp(chunk(140), want, 4096) && failures++ < 10)
			fprintf(stderr, "FAIL recvmsg: wrong bytes (1)\n");
		pattern(want, 41);
		if (memcmp(chunk(141), want, 4096) && failures++ < 10)
			fprintf(stderr, "FAIL recvmsg: wrong bytes (2)\n");
		pattern(want, 42);
		if (memcmp(chunk(141) + 4096, want, 4096) && failures++ < 10)
			fprintf(stderr, "FAIL recvmsg: wrong bytes (3)\n");
	}
	free(iov);
	free(msg);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A buffer larger than the budget can never be in memory whole: the kernel
 * moves what it can reach (a short count), and for a regular file the
 * wrapper calls again for the rest, so one call moves it all, as programs
 * expect of a regular file.  Chunks 0..BIG of the heap go to the file at
 * 8 chunks in and come back into a fresh buffer, with pwrite and pread,
 * then with write and read.
 */
#define BIG (12UL << 20) /* 1.5 x the budget */

static void big(int fd)
{
	unsigned char *dst = malloc(BIG);
	ssize_t n;

	fill_heap();
	n = pwrite(fd, heap, BIG, 8 * CHUNK);
	if (n != (ssize_t)BIG)
		fail("pwrite of 1.5 x the budget to a file", n, BIG);
	n = pread(fd, dst, BIG, 8 * CHUNK);
	if (n != (ssize_t)BIG)
		fail("pread of 1.5 x the budget from a file", n, BIG);
	for (size_t c = 0; c < BIG / CHUNK; c++)
		same(dst + c * CHUNK, c, "pread of 1.5 x the budget");
	free(dst);

	dst = malloc(BIG);
	fill_heap();
	if (lseek(fd, 8 * CHUNK, SEEK_SET) < 0)
		perror("lseek");
	n = write(fd, heap, BIG);
	if (n != (ssize_t)BIG)
		fail("write of 1.5 x the budget to a file", n, BIG);
	if (lseek(fd, 8 * CHUNK, SEEK_SET) < 0)
		perror("lseek");
	n = read(fd, dst, BIG);
	if (n != (ssize_t)BIG)
		fail("read of 1.5 x the budget from a file", n, BIG);
	for (size_t c = 0; c < BIG / CHUNK; c++)
		same(dst + c * CHUNK, c, "read of 1.5 x the budget");
	free(dst);
}

/*
 * Waiting for events: epoll_wait writes the ready events into a swapped-out
 * array, poll reads and writes a pollfd array that is out.
 */
static void events(void)
{
	struct epoll_event one = {.events = EPOLLIN};
	struct epoll_event *ev = (struct epoll_event *)chunk(50);
	struct pollfd *pf = (struct pollfd *)chunk(51);
	int p[2], ep, n;

	if (pipe(p) || (ep = epoll_create1(0)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &one) ||
	    write(p[1], "x", 1) != 1) {
		perror("pipe/epoll");
		failures++;
		return;
	}
	fill_heap();
	n = epoll_wait(ep, ev, 16, 1000);
	if (n != 1 || !(ev[0].events & EPOLLIN))
		fail("epoll_wait into a swapped-out array", n, 1);
	fill_heap();
	n = epoll_pwait(ep, ev, 16, 1000, NULL);
	if (n != 1)
		fail("epoll_pwait into a swapped-out array", n, 1);
	pf[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
	push_out(51);
	n = poll(pf, 1, 1000);
	if (n != 1 || !(pf[0].revents & POLLIN))
		fail("poll of a swapped-out pollfd", n, 1);
	pf[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
	push_out(51);
	n = ppoll(pf, 1, NULL, NULL);
	if (n != 1 || !(pf[0].revents & POLLIN))
		fail("ppoll of a swapped-out pollfd", n, 1);
	close(ep);
	close(p[0]);
	close(p[1]);
}

/*
 * A SIGBUS handler of the program's (redis installs one): it must get the
 * SIGBUS that are not uswap's faults, never those, and read back as the
 * handler installed.
 */
static volatile sig_atomic_t own_sigbus;

static void own_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == BUS_ADRERR) {
		/* a fault of uswap's reached us: it would repeat forever */
		static const char msg[] = "FAIL a uswap fault reached the "
					  "program's SIGBUS handler\n";

		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(1);
	}
	own_sigbus++;
}

/*
 * own_plain_handler - the same without siginfo: a fault of uswap's reaching
 * it repeats for good (the access is retried), so many calls tell.
 */
static void own_plain_handler(int sig)
{
	(void)sig;
	if (++own_sigbus > 1000) {
		static const char msg[] = "FAIL uswap faults reach the "
					  "handler signal(2), sigset(3) or "
					  "sysv_signal(3) installed\n";

		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(1);
	}
}

/* sigset(3) is deprecated in glibc's header; programs still call it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static sighandler_t sigset_of_program(int sig, sighandler_t disp)
{
	return sigset(sig, disp);
}
#pragma GCC diagnostic pop

static void sigbus_handler_of_ours(void)
{
	struct sigaction sa, old;
	sighandler_t old_disp;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL)) {
		perror("sigaction");
		failures++;
		return;
	}
	fill_heap(); /* faults, all uswap's */
	fill_heap();
	if (sigaction(SIGBUS, NULL, &old) || old.sa_sigaction != own_handler)
		fail("sigaction(SIGBUS) reads back the program's handler", -1,
		     0);
	raise(SIGBUS);
	if (own_sigbus != 1)
		fail("a raised SIGBUS reaches the program's handler",
		     own_sigbus, 1);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = 0;
	if (sigaction(SIGBUS, &sa, NULL))
		perror("sigaction");
	fill_heap(); /* uswap's faults, still served */

	/* the same through signal(2), which glibc does without the PLT */
	own_sigbus = 0;
	if (signal(SIGBUS, own_plain_handler) == SIG_ERR) {
		perror("signal");
		failures++;
		return;
	}
	fill_heap();
	fill_heap();
	raise(SIGBUS);
	if (own_sigbus != 1)
		fail("a raised SIGBUS reaches the handler signal(2) installed",
		     own_sigbus, 1);
	if (signal(SIGBUS, SIG_DFL) != own_plain_handler)
		fail("signal(2) returns the handler it installed", -1, 0);
	fill_heap();

	/*
	 * and through the System V ones, glibc's too.  Their answers are
	 * checked where glibc alone gives the same (the test runs without
	 * uswap first): sysv_signal's handler is one-shot, which uswap's
	 * chain does not apply, and sigset's SIG_HOLD blocks, which uswap's
	 * mode must not (a fault with SIGBUS blocked is a kill).
	 */
	own_sigbus = 0;
	if (sysv_signal(SIGBUS, own_plain_handler) != SIG_DFL)
		fail("sysv_signal(3) returns the default it replaced", -1, 0);
	fill_heap();
	fill_heap();
	if (sysv_signal(SIGBUS, own_plain_handler) != own_plain_handler)
		fail("sysv_signal(3) returns the handler it installed", -1, 0);
	raise(SIGBUS);
	if (own_sigbus != 1)
		fail("a raised SIGBUS reaches the handler sysv_signal(3) "
		     "installed",
		     own_sigbus, 1);
	old_disp = sysv_signal(SIGBUS, SIG_DFL);
	if (old_disp != own_plain_handler && old_disp != SIG_DFL)
		fail("sysv_signal(3) returns its handler, or the default "
		     "its one shot left",
		     -1, 0);
	fill_heap();

	own_sigbus = 0;
	if (sigset_of_program(SIGBUS, own_plain_handler) != SIG_DFL)
		fail("sigset(3) returns the default it replaced", -1, 0);
	fill_heap();
	fill_heap();
	raise(SIGBUS);
	if (own_sigbus != 1)
		fail("a raised SIGBUS reaches the handler sigset(3) installed",
		     own_sigbus, 1);
	if (sigset_of_program(SIGBUS, SIG_DFL) != own_plain_handler)
		fail("sigset(3) returns the handler it installed", -1, 0);
	if (sigset_of_program(SIGBUS, SIG_HOLD) != SIG_DFL)
		fail("sigset(3) SIG_HOLD returns the disposition", -1, 0);
	fill_heap();
	old_disp = sigset_of_program(SIGBUS, SIG_DFL);
	if (old_disp != SIG_HOLD && old_disp != SIG_DFL)
		fail("sigset(3) after SIG_HOLD returns SIG_HOLD, or the "
		     "default where the hold blocked nothing",
		     -1, 0);
	fill_heap();
}

/*
 * Threads that block every signal (a library's background thread, the
 * sigwait pattern), started by a thread that blocks them too: in the
 * in-thread mode a fault with SIGBUS blocked is a kill, so the shim never
 * lets SIGBUS be blocked (src/preload/signals.c).
 */
static void *sum_chunks(void *arg)
{
	uint64_t s = 0;

	(void)arg;
	for (size_t c = 0; c < NCHUNK; c++)
		s += *(volatile uint64_t *)chunk(c);
	return (void *)(uintptr_t)s;
}

static void blocked_threads(void)
{
	sigset_t all, old;
	pthread_t th[2];

	sigfillset(&all);
	fill_heap();
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, sum_chunks, NULL)) {
			fail("pthread_create with every signal blocked", -1, 0);
			th[i] = 0;
		}
	for (int i = 0; i < 2; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* a bad address is still the kernel's EFAULT, not a crash */
static void bad_address(int fd)
{
	void *volatile bad = (void *)8; /* hidden from the compiler's checks */
	ssize_t n = pread(fd, bad, 16, 0);

	if (n != -1 || errno != EFAULT)
		fail("pread into address 8", n, -1);
	n = write(fd, bad, 16);
	if (n != -1 || errno != EFAULT)
		fail("write from address 8", n, -1);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc > 1 && !strcmp(argv[1], "--kill")) {
		/* sigbus_io.sh: a sent SIGBUS must end us, before any fault */
		kill(getpid(), SIGBUS);
		(void)!write(1, "survived\n", 9);
		return 0;
	}

	heap = malloc(HEAP);
	if (!heap) {
		perror("malloc");
		return 1;
	}
	fill_heap();
	fd = files();
	if (fd < 0)
		return 1;
	reads(fd);
	sockets();
	big(fd);
	events();
	sigbus_handler_of_ours();
	blocked_threads();
	bad_address(fd);
	close(fd);
	printf("%lu failures\n", failures);
	return failures ? 1 : 0;
}
