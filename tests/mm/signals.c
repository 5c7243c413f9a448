/*
 * Scenario: a process-directed signal that the program's thread blocks is
 * not delivered to one of uswap's threads (fault handlers, reclaimer,
 * statistics publisher) behind its back: it stays pending until the
 * program unblocks it, and then its handler runs in the program's thread.
 * The same in a forked child, whose uswap threads the fork handler starts
 * again.  Why it matters: src/lib/thread.c (PostgreSQL's postmaster hung).
 *
 * The kernel gives a process-directed signal to any thread that does not
 * block it, so before thread_start the handler ran at once, on a uswap
 * thread: "SIGUSR1's handler ran on thread uswap-fault0 while the program
 * blocked it".
 * Usage: mm_signals [--sigbus] (faults served in the faulting thread).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../fail.h"
#include "uswap.h"

#define NPAGES 1024 /* 4 MiB over a 1 MiB budget: the threads are busy */

static atomic_int handled;
static atomic_long handled_tid;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&handled_tid, (long)syscall(SYS_gettid));
	atomic_fetch_add(&handled, 1);
}

static void thread_name(long tid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, (int)len, f))
		snprintf(buf, len, "%ld (gone)", tid);
	else
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

/* Touch and check every page: faults and reclaim keep uswap busy. */
static void churn(unsigned char *a, unsigned char seed)
{
	for (size_t i = 0; i < NPAGES; i++)
		a[i * 4096 + i % 4096] = (unsigned char)(seed + i);
	for (size_t i = 0; i < NPAGES; i++)
		CHECK(a[i * 4096 + i % 4096] == (unsigned char)(seed + i),
		      "page %zu: %d, want %d", i, a[i * 4096 + i % 4096],
		      (unsigned char)(seed + i));
}

static void check_blocked_signal(unsigned char *a, const char *who)
{
	const struct timespec ms = {.tv_nsec = 1000000};
	long self = (long)syscall(SYS_gettid);
	sigset_t usr1;
	char name[64];

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	atomic_store(&handled, 0);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	for (int round = 0; round < 20; round++) {
		kill(getpid(), SIGUSR1);
		churn(a, (unsigned char)round);
		nanosleep(&ms, NULL);
		if (atomic_load(&handled)) {
			thread_name(atomic_load(&handled_tid), name,
				    sizeof(name));
			FAIL("%s: SIGUSR1's handler ran on thread %s while "
			     "the program blocked it",
			     who, name);
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	/* pending: delivered on the way out of sigprocmask, here */
	CHECK(atomic_load(&handled) == 1,
	      "%s: SIGUSR1 handled %d times after unblocking, want 1", who,
	      atomic_load(&handled));
	thread_name(atomic_load(&handled_tid), name, sizeof(name));
	CHECK(atomic_load(&handled_tid) == self,
	      "%s: SIGUSR1's handler ran on thread %s, not the program's", who,
	      name);
}

int main(int argc, char **argv)
{
	struct uswap_config cfg = {
		.budget = 256 * 4096, .threads = 2, .flags = USWAP_F_PUBLISH};
	struct sigaction sa = {.sa_handler = on_usr1};
	struct uswap *u;
	unsigned char *a;
	int ret, status;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--sigbus"))
		cfg.flags |= USWAP_F_SIGBUS;
	ret = uswap_open(&cfg, &u);
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: userfaultfd unavailable (%s)\n",
			strerror(-ret));
		return 77;
	}
	CHECK(ret == 0, "uswap_open: %s", strerror(-ret));
	a = uswap_map(u, NPAGES * 4096);
	CHECK(a, "uswap_map: %s", strerror(errno));
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	churn(a, 7);

	check_blocked_signal(a, "parent");
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		check_blocked_signal(a, "child");
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child failed (status 0x%x)", status);
	check_blocked_signal(a, "parent after the fork");
	CHECK(uswap_unmap(u, a, NPAGES * 4096) == 0, "unmap");
	uswap_close(u);
	return 0;
}
