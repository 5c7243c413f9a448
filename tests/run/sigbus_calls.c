/*
 * Run under `uswap run --sigbus` (sigbus_calls.sh): the system calls of
 * src/preload/fill.c, select, pselect, preadv2, pwritev2 and setsockopt
 * (io.c) and the waits, getsockopt and queue receives of
 * src/preload/bounce.c write into
 * (setsockopt: read from) heap pages that are not in memory and get it
 * right.
 *
 * In the in-thread mode the kernel's copy into a page of a region that is
 * not in memory fails with EFAULT, a never-touched page included.  Each
 * call here writes into a fresh page of a heap area nobody touched
 * (fresh(): the failure without the wrappers is certain, not a race), and
 * its answer is compared with the same call's into the stack.  A second
 * round takes pages the program wrote and then pushed out (a churn of 4 x
 * the budget between the calls).  The waits (waitpid, wait, wait3, wait4,
 * waitid), sigtimedwait, getsockopt(SO_ERROR), msgrcv and mq_receive
 * take what they return before they write it: without a wrapper the
 * child's status, the signal, the socket's error or the message is gone.
 *
 * Exit 0 pass, 1 fail; the first failing calls are named with errno.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE  4096UL
#define FRESH (64UL << 20) /* pages handed out untouched */
#define APART (1UL << 20)  /* between two: no fault fills the next */
#define CHURN (32UL << 20) /* 4 x the script's 8M budget */

static unsigned char *fresh_area, *churn_area, *cold_area;
static size_t fresh_next;
static unsigned long failures, checked;
static int round_cold; /* 0: fresh pages, 1: pushed-out ones */

static void fail(const char *what, const char *why)
{
	if (failures++ < 20)
		fprintf(stderr, "FAIL %s (%s pages): %s (errno %d: %s)\n", what,
			round_cold ? "pushed-out" : "fresh", why, errno,
			strerror(errno));
}

static void churn(void)
{
	for (size_t o = 0; o < CHURN; o += PAGE)
		churn_area[o]++;
}

/*
 * buffer - @len bytes (at most 64 pages) for one call: in the first
 * round never touched, in the second written and then pushed out.
 */
static void *buffer(size_t len)
{
	static size_t cold_next;
	size_t pages = (len + PAGE - 1) / PAGE;
	unsigned char *p;

	if (!round_cold) {
		if (fresh_next + pages * PAGE > FRESH) {
			fprintf(stderr, "fresh area used up\n");
			exit(1);
		}
		p = fresh_area + fresh_next;
		fresh_next += (pages * PAGE + APART - 1) / APART * APART;
		return p;
	}
	p = cold_area + cold_next;
	cold_next = (cold_next + pages * PAGE) % (64 * PAGE * 16);
	memset(p, 0x5a, pages * PAGE);
	churn();
	return p;
}

static void check(const char *what, int ok, const char *why)
{
	checked++;
	if (!ok)
		fail(what, why);
}

static void stats(void)
{
	struct stat want, *got;
	struct statx wantx, *gotx;
	struct statfs wantf, *gotf;
	int fd = open("/etc/passwd", O_RDONLY);
	int (*xstat)(int, const char *, struct stat *) =
		(int (*)(int, const char *, struct stat *))dlsym(RTLD_DEFAULT,
								 "__xstat");

	if (fd < 0 || stat("/etc/passwd", &want) ||
	    statx(AT_FDCWD, "/etc/passwd", 0, STATX_BASIC_STATS, &wantx) ||
	    statfs("/etc/passwd", &wantf)) {
		perror("reference stat");
		exit(1);
	}
	got = buffer(sizeof(*got));
	check("stat",
	      stat("/etc/passwd", got) == 0 && got->st_ino == want.st_ino &&
		      got->st_size == want.st_size,
	      "wrong");
	got = buffer(sizeof(*got));
	check("lstat",
	      lstat("/etc/passwd", got) == 0 && got->st_ino == want.st_ino,
	      "wrong");
	got = buffer(sizeof(*got));
	check("fstat", fstat(fd, got) == 0 && got->st_ino == want.st_ino,
	      "wrong");
	got = buffer(sizeof(*got));
	check("fstatat",
	      fstatat(AT_FDCWD, "/etc/passwd", got, 0) == 0 &&
		      got->st_ino == want.st_ino,
	      "wrong");
	got = buffer(sizeof(*got));
	check("__xstat",
	      xstat && xstat(1, "/etc/passwd", got) == 0 &&
		      got->st_ino == want.st_ino,
	      "wrong");
	gotx = buffer(sizeof(*gotx));
	check("statx",
	      statx(AT_FDCWD, "/etc/passwd", 0, STATX_BASIC_STATS, gotx) == 0 &&
		      gotx->stx_ino == wantx.stx_ino,
	      "wrong");
	gotf = buffer(sizeof(*gotf));
	check("statfs",
	      statfs("/etc/passwd", gotf) == 0 && gotf->f_type == wantf.f_type,
	      "wrong");
	gotf = buffer(sizeof(*gotf));
	check("fstatfs", fstatfs(fd, gotf) == 0 && gotf->f_type == wantf.f_type,
	      "wrong");
	close(fd);
}

static void buffers(void)
{
	char want[PATH_MAX], *got;
	ssize_t n, m;
	unsigned char *rnd;
	size_t zero = 0;
	int dfd;

	/* 1 MiB of random bytes: a short count is legal, loop as callers do */
	rnd = buffer(1 << 20);
	for (n = 0; n < (1 << 20); n += m) {
		m = getrandom(rnd + n, (1 << 20) - (size_t)n, 0);
		if (m <= 0)
			break;
	}
	for (size_t i = 0; i < (1 << 20); i++)
		zero += !rnd[i];
	check("getrandom", n == (1 << 20) && zero < 8192, "short or zeros");
	rnd = buffer(256);
	check("getentropy", getentropy(rnd, 256) == 0, "failed");

	n = readlink("/proc/self/exe", want, sizeof(want));
	got = buffer(PATH_MAX);
	check("readlink",
	      n > 0 && readlink("/proc/self/exe", got, PATH_MAX) == n &&
		      !memcmp(got, want, (size_t)n),
	      "wrong");
	got = buffer(PATH_MAX);
	check("readlinkat",
	      n > 0 &&
		      readlinkat(AT_FDCWD, "/proc/self/exe", got, PATH_MAX) ==
			      n &&
		      !memcmp(got, want, (size_t)n),
	      "wrong");

	if (!getcwd(want, sizeof(want))) {
		perror("reference getcwd");
		exit(1);
	}
	got = buffer(PATH_MAX);
	check("getcwd", getcwd(got, PATH_MAX) == got && !strcmp(got, want),
	      "wrong");
	/*
	 * glibc mallocs this one itself (PATH_MAX bytes) and the kernel
	 * fills it: blocks of that size are written, freed and pushed out
	 * first, so that its malloc takes one of them.
	 */
	for (int i = 0; i < 10; i++) {
		char *blocks[64], *cwd;

		for (int b = 0; b < 64; b++)
			if ((blocks[b] = malloc(PATH_MAX)))
				memset(blocks[b], 1, PATH_MAX);
		for (int b = 0; b < 64; b++)
			free(blocks[b]);
		churn();
		cwd = getcwd(NULL, 0);
		check("getcwd(NULL)", cwd && !strcmp(cwd, want), "wrong");
		free(cwd);
	}

	/* a directory's entries: as many into the heap as into the stack */
	dfd = open("/usr/bin", O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		static char sbuf[1 << 16];
		long want_n = 0, got_n = 0;

		while ((n = getdents64(dfd, sbuf, sizeof(sbuf))) > 0)
			want_n += n;
		lseek(dfd, 0, SEEK_SET);
		got = buffer(1 << 16);
		while ((n = getdents64(dfd, got, 1 << 16)) > 0)
			got_n += n;
		check("getdents64", n == 0 && got_n == want_n,
		      "fewer bytes of entries");
		close(dfd);
	}
}

static void descriptors(void)
{
	int *fds = buffer(2 * sizeof(int));
	struct sockaddr_storage *ss;
	socklen_t *len;
	char c = 'x';

	check("pipe",
	      pipe(fds) == 0 && write(fds[1], &c, 1) == 1 &&
		      read(fds[0], &c, 1) == 1,
	      "no pipe");
	close(fds[0]);
	close(fds[1]);
	fds = buffer(2 * sizeof(int));
	check("pipe2",
	      pipe2(fds, O_CLOEXEC) == 0 && write(fds[1], &c, 1) == 1 &&
		      read(fds[0], &c, 1) == 1,
	      "no pipe");
	close(fds[0]);
	close(fds[1]);
	fds = buffer(2 * sizeof(int));
	check("socketpair",
	      socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0 &&
		      write(fds[1], &c, 1) == 1 && read(fds[0], &c, 1) == 1,
	      "no pair");
	ss = buffer(sizeof(*ss));
	len = buffer(sizeof(*len));
	*len = sizeof(*ss);
	check("getsockname",
	      getsockname(fds[0], (struct sockaddr *)ss, len) == 0 &&
		      ss->ss_family == AF_UNIX,
	      "wrong");
	ss = buffer(sizeof(*ss));
	len = buffer(sizeof(*len));
	*len = sizeof(*ss);
	check("getpeername",
	      getpeername(fds[0], (struct sockaddr *)ss, len) == 0 &&
		      ss->ss_family == AF_UNIX,
	      "wrong");
	close(fds[0]);
	close(fds[1]);
}

/*
 * sockopts - getsockopt(SO_ERROR) takes the socket's pending error (here
 * a connected UDP socket's ECONNREFUSED, from the port-unreachable its
 * datagram met) before it writes it: without the wrapper the error is
 * gone.  SO_TYPE into a value longer than bounce.c's local (io.c's way);
 * setsockopt reads its value from a page not in memory.
 */
static void sockopts(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a), *len;
	int closed = socket(AF_INET, SOCK_DGRAM, 0);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct pollfd pf = {.fd = u, .events = 0};
	int *v;

	/* a port nobody listens on: bound, then closed */
	if (closed < 0 || u < 0 ||
	    bind(closed, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(closed, (struct sockaddr *)&a, &alen) ||
	    close(closed) || connect(u, (struct sockaddr *)&a, sizeof(a)) ||
	    send(u, "x", 1, 0) != 1 || poll(&pf, 1, 5000) != 1 ||
	    !(pf.revents & POLLERR)) {
		perror("sockopts: no pending error to take");
		exit(1);
	}
	v = buffer(sizeof(*v));
	len = buffer(sizeof(*len));
	*len = sizeof(*v);
	check("getsockopt(SO_ERROR)",
	      getsockopt(u, SOL_SOCKET, SO_ERROR, v, len) == 0 &&
		      *v == ECONNREFUSED && *len == sizeof(*v),
	      "the pending error is lost");
	v = buffer(PAGE);
	len = buffer(sizeof(*len));
	*len = PAGE;
	check("getsockopt(SO_TYPE), a long value",
	      getsockopt(u, SOL_SOCKET, SO_TYPE, v, len) == 0 &&
		      *v == SOCK_DGRAM && *len == sizeof(*v),
	      "wrong");
	v = buffer(sizeof(*v));
	alen = sizeof(*v);
	check("getsockopt(SO_TYPE), the length on the stack",
	      getsockopt(u, SOL_SOCKET, SO_TYPE, v, &alen) == 0 &&
		      *v == SOCK_DGRAM && alen == sizeof(*v),
	      "wrong");
	/* read from a page of zeros, or of buffer()'s 0x5a pushed out */
	v = buffer(sizeof(struct linger));
	check("setsockopt(SO_LINGER)",
	      setsockopt(u, SOL_SOCKET, SO_LINGER, v, sizeof(struct linger)) ==
		      0,
	      "refused");
	close(u);
}

/* a SysV message; its text also takes mq_receive's (mq_msgsize) */
struct qmsg {
	long type;
	char text[128];
};

static int churn_queue;

static void on_alarm(int sig)
{
	(void)sig;
}

/* churn_then_send - push the receiver's buffer out while it waits, send */
static void *churn_then_send(void *arg)
{
	churn();
	if (msgsnd(churn_queue, arg, sizeof(((struct qmsg *)arg)->text), 0))
		perror("msgsnd");
	return NULL;
}

/*
 * queues - msgrcv and mq_receive take the message off its queue before
 * they copy it: without the wrappers it is gone.  And a msgrcv that waits
 * while a thread pushes its buffer (touched before the call) out: a touch
 * before the call does not save that one.  msgsnd and mq_send read
 * messages pushed out.
 */
static void queues(void)
{
	struct qmsg out = {.type = 7}, got, *m;
	struct mq_attr attr = {.mq_maxmsg = 4,
			       .mq_msgsize = sizeof(((struct qmsg *)0)->text)};
	struct timespec *abs;
	unsigned *prio;
	char name[64], *buf;
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	pthread_t th;
	size_t n;
	mqd_t q;

	snprintf(name, sizeof(name), "/uswap-test-%d", (int)getpid());
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
	mq_unlink(name);
	if (id < 0 || q == (mqd_t)-1) {
		perror("queues: msgget or mq_open");
		exit(1);
	}
	snprintf(out.text, sizeof(out.text), "message of round %d", round_cold);
	n = strlen(out.text) + 1;
	m = buffer(sizeof(*m));
	check("msgrcv",
	      msgsnd(id, &out, sizeof(out.text), 0) == 0 &&
		      msgrcv(id, m, sizeof(m->text), 0, IPC_NOWAIT) ==
			      (ssize_t)sizeof(m->text) &&
		      m->type == 7 && strcmp(m->text, out.text) == 0,
	      "message lost");
	m = buffer(sizeof(*m));
	memset(m, 0, sizeof(*m));
	churn_queue = id;
	if (pthread_create(&th, NULL, churn_then_send, &out)) {
		perror("pthread_create");
		exit(1);
	}
	/* a lost message would leave it waiting: 10 s, then EINTR */
	sigaction(SIGALRM, &(struct sigaction){.sa_handler = on_alarm}, NULL);
	alarm(10);
	check("msgrcv, waiting",
	      msgrcv(id, m, sizeof(m->text), 0, 0) ==
			      (ssize_t)sizeof(m->text) &&
		      m->type == 7 && strcmp(m->text, out.text) == 0,
	      "message lost");
	alarm(0);
	pthread_join(th, NULL);
	buf = buffer(attr.mq_msgsize);
	prio = buffer(sizeof(*prio));
	check("mq_receive",
	      mq_send(q, out.text, n, 3) == 0 &&
		      mq_receive(q, buf, attr.mq_msgsize, prio) == (ssize_t)n &&
		      *prio == 3 && strcmp(buf, out.text) == 0,
	      "message lost");
	/* the timeout too in the heap, pushed out */
	abs = buffer(sizeof(*abs));
	clock_gettime(CLOCK_REALTIME, abs);
	abs->tv_sec += 5;
	churn();
	buf = buffer(attr.mq_msgsize);
	check("mq_timedreceive",
	      mq_send(q, out.text, n, 4) == 0 &&
		      mq_timedreceive(q, buf, attr.mq_msgsize, NULL, abs) ==
			      (ssize_t)n &&
		      strcmp(buf, out.text) == 0,
	      "message lost");
	/* the senders read messages pushed out */
	m = buffer(sizeof(*m));
	*m = out;
	buf = buffer(attr.mq_msgsize);
	memcpy(buf, out.text, n);
	churn();
	check("msgsnd",
	      msgsnd(id, m, sizeof(m->text), 0) == 0 &&
		      msgrcv(id, &got, sizeof(got.text), 0, IPC_NOWAIT) ==
			      (ssize_t)sizeof(got.text) &&
		      strcmp(got.text, out.text) == 0,
	      "not sent");
	check("mq_send",
	      mq_send(q, buf, n, 5) == 0 &&
		      mq_receive(q, got.text, attr.mq_msgsize, NULL) ==
			      (ssize_t)n &&
		      strcmp(got.text, out.text) == 0,
	      "not sent");
	msgctl(id, IPC_RMID, NULL);
	mq_close(q);
}

static int wake_fd;

/* churn_then_wake - push the waiter's sets out while it waits, then wake */
static void *churn_then_wake(void *arg)
{
	(void)arg;
	churn();
	if (write(wake_fd, "x", 1) != 1)
		perror("write");
	return NULL;
}

/*
 * waiting and vectors: select and pselect wait on an empty pipe while a
 * thread pushes their sets out (the kernel writes the sets after the
 * wait), then writes to it; preadv2, pwritev2.
 */
static void waiting(void)
{
	pthread_t th;
	int p[2];
	fd_set *set;
	struct timeval *tv;
	struct timespec ts = {.tv_sec = 5};
	struct iovec *iov;
	char want[512], *got;
	char path[] = "/tmp/uswap-sigbus-calls.XXXXXX";
	int fd;

	char c;

	for (int k = 0; k < 2; k++) {
		if (pipe(p)) {
			perror("pipe");
			exit(1);
		}
		wake_fd = p[1];
		set = buffer(sizeof(*set));
		tv = buffer(sizeof(*tv));
		FD_ZERO(set);
		FD_SET(p[0], set);
		*tv = (struct timeval){.tv_sec = 10};
		if (pthread_create(&th, NULL, churn_then_wake, NULL)) {
			perror("pthread_create");
			exit(1);
		}
		if (k == 0)
			check("select",
			      select(p[0] + 1, set, NULL, NULL, tv) == 1 &&
				      FD_ISSET(p[0], set),
			      "not ready");
		else
			check("pselect",
			      pselect(p[0] + 1, set, NULL, NULL, &ts, NULL) ==
					      1 &&
				      FD_ISSET(p[0], set),
			      "not ready");
		pthread_join(th, NULL);
		if (read(p[0], &c, 1) != 1)
			perror("read");
		close(p[0]);
		close(p[1]);
	}

	fd = open("/etc/passwd", O_RDONLY);
	if (fd < 0 || pread(fd, want, sizeof(want), 0) <= 0) {
		perror("/etc/passwd");
		exit(1);
	}
	iov = buffer(sizeof(*iov));
	got = buffer(sizeof(want));
	*iov = (struct iovec){got, sizeof(want)};
	check("preadv2",
	      preadv2(fd, iov, 1, 0, 0) == (ssize_t)sizeof(want) &&
		      !memcmp(got, want, sizeof(want)),
	      "wrong");
	close(fd);
	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	iov = buffer(sizeof(*iov));
	got = buffer(sizeof(want));
	memcpy(got, want, sizeof(want));
	if (round_cold)
		churn();
	*iov = (struct iovec){got, sizeof(want)};
	check("pwritev2",
	      pwritev2(fd, iov, 1, 0, 0) == (ssize_t)sizeof(want) &&
		      pread(fd, want, sizeof(want), 0) ==
			      (ssize_t)sizeof(want) &&
		      !memcmp(got, want, sizeof(want)),
	      "wrong");
	close(fd);
}

/* child - a process that exits with @code after a while */
static pid_t child(int code)
{
	pid_t pid = fork();

	if (pid == 0) {
		usleep(20000);
		_exit(code);
	}
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	return pid;
}

static void waits(void)
{
	int *st;
	struct rusage *ru;
	siginfo_t *si;
	sigset_t set;
	struct timespec ts = {.tv_sec = 5};
	pid_t pid;

	for (int k = 0; k < 4; k++) {
		const char *name[] = {"waitpid", "wait", "wait3", "wait4"};
		int code = 10 + k + 10 * round_cold;

		pid = child(code);
		st = buffer(sizeof(*st));
		ru = buffer(sizeof(*ru));
		switch (k) {
		case 0:
			pid = waitpid(pid, st, 0) == pid ? pid : -1;
			break;
		case 1:
			pid = wait(st) == pid ? pid : -1;
			break;
		case 2:
			pid = wait3(st, 0, ru) == pid ? pid : -1;
			break;
		default:
			pid = wait4(pid, st, 0, ru) == pid ? pid : -1;
			break;
		}
		check(name[k],
		      pid > 0 && WIFEXITED(*st) && WEXITSTATUS(*st) == code,
		      "status lost");
	}
	pid = child(40 + round_cold);
	si = buffer(sizeof(*si));
	check("waitid",
	      waitid(P_PID, (id_t)pid, si, WEXITED) == 0 && si->si_pid == pid &&
		      si->si_status == 40 + round_cold,
	      "status lost");

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	si = buffer(sizeof(*si));
	check("sigtimedwait",
	      sigtimedwait(&set, si, &ts) == SIGUSR1 && si->si_signo == SIGUSR1,
	      "signal lost");
	raise(SIGUSR1);
	si = buffer(sizeof(*si));
	check("sigwaitinfo",
	      sigwaitinfo(&set, si) == SIGUSR1 && si->si_signo == SIGUSR1,
	      "signal lost");
}

int main(void)
{
	fresh_area = malloc(FRESH);
	churn_area = malloc(CHURN);
	cold_area = malloc(64 * PAGE * 16);
	if (!fresh_area || !churn_area || !cold_area) {
		perror("malloc");
		return 1;
	}
	memset(churn_area, 1, CHURN);
	for (round_cold = 0; round_cold < 2; round_cold++) {
		stats();
		buffers();
		descriptors();
		sockopts();
		queues();
		waiting();
		waits();
	}
	printf("%lu calls checked, %lu failed\n", checked, failures);
	return failures ? 1 : 0;
}
