/*
 * Scenario: in the SIGBUS mode uswap's own threads share one CPU, and the
 * program's threads keep theirs (mm.h, mm_params.colocate).
 *
 * Opened with USWAP_F_SIGBUS, every thread of ours (named uswap-*) may run
 * on exactly one CPU, the same for all, the last this thread may use; this
 * thread's own set is what it was.  With USWAP_F_NO_COLOCATE too, and
 * without USWAP_F_SIGBUS, they may run wherever this thread may.  Pages 4x
 * the budget first, so that the reclaimer is up and the pages go through
 * it, and reads them back.  A child forked in the SIGBUS mode serves with
 * handler threads (fork.c), and they may run wherever this thread may.
 * Skipped (77) when this thread may run on one CPU only: nothing to
 * choose then.
 */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../fail.h"
#include "uswap.h"

#define BUDGET (4u << 20)
#define SIZE   (4 * BUDGET)

/* The CPUs thread @tid may use, from its /proc status line. */
static void thread_cpus(const char *tid, char *list, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	f = fopen(path, "r");
	CHECK(f, "open %s", path);
	list[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Cpus_allowed_list: %63s", list) == 1)
			break;
	fclose(f);
	CHECK(list[0], "no Cpus_allowed_list in %s", path);
}

/*
 * scan_ours - how many uswap-* threads there are; the first one that may
 * not use exactly @want (a Cpus_allowed_list) described in @bad ("" if
 * none).
 */
static int scan_ours(const char *want, char *bad, size_t badlen)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	CHECK(d, "opendir /proc/self/task");
	while ((e = readdir(d))) {
		char path[300], comm[32] = "", cpus[64];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* exited meanwhile */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "uswap-fault", 11) != 0 &&
		    strncmp(comm, "uswap-reclaim", 13) != 0)
			continue;
		comm[strcspn(comm, "\n")] = 0;
		thread_cpus(e->d_name, cpus, sizeof(cpus));
		if (strcmp(cpus, want) && !bad[0])
			snprintf(bad, badlen, "%s runs on CPUs %s, want %s",
				 comm, cpus, want);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * check_ours - scan_ours until there are @least threads of uswap and
 * each may use exactly @want, for up to 10 s; return how many there are.
 * Why wait: a new thread of ours names itself, then pins itself, in its
 * own start routine (reclaim.c, fault.c), and on a loaded machine it may
 * not have run yet when the paging is over.  Until it names itself its
 * name is its creator's (seen in 1 of 29 runs beside a full suite:
 * "1 uswap threads found").
 */
static int check_ours(const char *want, int least, const char *what)
{
	char bad[200];
	int n;

	for (int tries = 0;; tries++) {
		bad[0] = 0;
		n = scan_ours(want, bad, sizeof(bad));
		if ((n >= least && !bad[0]) || tries == 1000)
			break;
		usleep(10000);
	}
	CHECK(!bad[0], "%s: %s", what, bad);
	CHECK(n >= least,
	      "%s: %d uswap threads found, want the handler(s) and "
	      "the reclaimer",
	      what, n);
	return n;
}

/*
 * run - page 4x the budget through @flags's instance; check its threads
 * against @want, and if @child_want, a forked child's against that.
 */
static void run(unsigned flags, const char *want, const char *child_want,
		const char *what)
{
	struct uswap_config cfg = {.budget = BUDGET, .flags = flags};
	char mine[64], after[64], self[32];
	struct uswap *u;
	unsigned char *p;
	int n;

	snprintf(self, sizeof(self), "%d", gettid());
	thread_cpus(self, mine, sizeof(mine));
	CHECK(uswap_open(&cfg, &u) == 0, "%s: uswap_open", what);
	p = uswap_map(u, SIZE);
	CHECK(p, "%s: uswap_map", what);
	for (size_t i = 0; i < SIZE; i += 4096)
		p[i] = (unsigned char)(i / 4096);
	for (size_t i = 0; i < SIZE; i += 4096)
		CHECK(p[i] == (unsigned char)(i / 4096),
		      "%s: page %zu reads %u", what, i / 4096, p[i]);
	n = check_ours(want, 2, what);
	thread_cpus(self, after, sizeof(after));
	CHECK(!strcmp(after, mine), "%s: this thread's CPUs went from %s to %s",
	      what, mine, after);
	printf("%s: %d threads of uswap on CPUs %s, this one on %s\n", what, n,
	       want, after);
	if (child_want) {
		pid_t pid;
		int status;

		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			char label[64];

			snprintf(label, sizeof(label), "%s, forked child",
				 what);
			for (size_t i = 0; i < SIZE; i += 4096)
				CHECK(p[i] == (unsigned char)(i / 4096),
				      "%s: page %zu reads %u", label, i / 4096,
				      p[i]);
			n = check_ours(child_want, 2, label);
			printf("%s: %d threads of uswap on CPUs %s\n", label, n,
			       child_want);
			fflush(stdout);
			_exit(0);
		}
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			      WEXITSTATUS(status) == 0,
		      "%s: the forked child failed", what);
	}
	uswap_close(u);
}

int main(void)
{
	cpu_set_t set;
	char all[64], self[32], last[16];
	int cpu = -1;

	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0,
	      "sched_getaffinity");
	if (CPU_COUNT(&set) < 2) {
		printf("SKIP: this thread may run on one CPU only\n");
		return 77;
	}
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpu = i;
	snprintf(last, sizeof(last), "%d", cpu);
	snprintf(self, sizeof(self), "%d", gettid());
	thread_cpus(self, all, sizeof(all));

	/* a forked child leaves the mode for handler threads (fork.c) */
	run(USWAP_F_SIGBUS, last, all, "sigbus");
	run(USWAP_F_SIGBUS | USWAP_F_NO_COLOCATE, all, NULL,
	    "sigbus no_colocate");
	run(0, all, NULL, "handler threads");
	printf("PASS\n");
	return 0;
}
