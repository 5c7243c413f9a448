/*
 * Scenario: `uswap stat` reads a running program's statistics.
 *
 * usage: api_publish PATH-TO-uswap
 *
 * An instance opened with USWAP_F_PUBLISH pages 4 x its budget; `uswap stat
 * --bytes PID` must show one line for us with our budget and a swap-out
 * count between zero and what uswap_stats says now.  After fork the child
 * publishes its own record (its PID, not a copy of ours) and ours stays
 * ours.  As root, another user (uid 65534, nobody) is refused with a clear reason.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../fail.h"
#include "uswap.h"

#define BUDGET (4u << 20)
#define SIZE   (4 * BUDGET)

static const char *uswap_cmd;

struct row {
	long pid;
	uint64_t budget, swapouts;
};

/*
 * stat_rows - run `uswap stat --bytes @pid` (as @user when not NULL) and
 * parse its rows.  Return: the number of rows; *@status the exit status;
 * @err gets stderr's first line.
 */
static int stat_rows(pid_t pid, const char *user, struct row *rows, int max,
		     int *status, char *err, size_t errlen)
{
	char cmd[1024], line[512], errfile[] = "/tmp/uswap-stat-errXXXXXX";
	int n = 0, efd = mkstemp(errfile);
	FILE *f;

	CHECK(efd >= 0, "mkstemp: %s", strerror(errno));
	close(efd);
	if (user)
		snprintf(cmd, sizeof(cmd),
			 "setpriv --reuid=%s --regid=%s --clear-groups %s "
			 "stat --bytes %d 2>%s",
			 user, user, uswap_cmd, (int)pid, errfile);
	else
		snprintf(cmd, sizeof(cmd), "%s stat --bytes %d 2>%s", uswap_cmd,
			 (int)pid, errfile);
	f = popen(cmd, "r");
	CHECK(f, "popen %s: %s", cmd, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char comm[64], cols[5][32];
		uint64_t budget, faults, major, swapin, swapout;
		long p;

		if (!strncmp(line, "PID", 3))
			continue;
		CHECK(sscanf(line,
			     "%ld %63s %" SCNu64 " %31s %31s %31s %31s %31s "
			     "%*s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			     &p, comm, &budget, cols[0], cols[1], cols[2],
			     cols[3], cols[4], &faults, &major, &swapin,
			     &swapout) == 12,
		      "unparsable row: %s", line);
		if (n < max)
			rows[n] = (struct row){p, budget, swapout};
		n++;
	}
	*status = pclose(f);
	err[0] = 0;
	f = fopen(errfile, "r");
	if (f) {
		if (!fgets(err, (int)errlen, f))
			err[0] = 0;
		fclose(f);
	}
	unlink(errfile);
	return n;
}

/* Our own row, once the publisher has seen swap-outs (it refreshes 4/s). */
static struct row own_row(struct uswap *u)
{
	char err[512];
	struct row r[4];
	int status, n;

	for (int tries = 0; tries < 100; tries++) {
		struct uswap_stats st;

		n = stat_rows(getpid(), NULL, r, 4, &status, err, sizeof(err));
		CHECK(status == 0, "uswap stat %d: status %#x: %s",
		      (int)getpid(), status, err);
		CHECK(n == 1, "uswap stat %d: %d rows, want 1", (int)getpid(),
		      n);
		CHECK(r[0].pid == getpid(), "row of pid %ld", r[0].pid);
		CHECK(r[0].budget == BUDGET, "budget %" PRIu64 ", want %u",
		      r[0].budget, BUDGET);
		uswap_stats(u, &st);
		CHECK(r[0].swapouts <= st.swapouts,
		      "published swap-outs %" PRIu64 " > the current %" PRIu64,
		      r[0].swapouts, st.swapouts);
		if (r[0].swapouts > 0)
			return r[0];
		usleep(50000);
	}
	FAIL("the published swap-outs stayed 0");
}

int main(int argc, char **argv)
{
	struct uswap_config cfg = {.budget = BUDGET, .flags = USWAP_F_PUBLISH};
	char err[512];
	struct row r[4];
	struct uswap *u;
	int status, n, ret;
	pid_t child;
	char *a;

	CHECK(argc == 2, "usage: api_publish PATH-TO-uswap");
	uswap_cmd = argv[1];
	ret = uswap_open(&cfg, &u);
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: userfaultfd unavailable\n");
		return 77;
	}
	CHECK(ret == 0, "uswap_open: %s", strerror(-ret));
	a = uswap_map(u, SIZE);
	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t off = 0; off < SIZE; off += 4096)
		memset(a + off, (int)(off >> 12) | 1, 4096);
	own_row(u);
	printf("uswap stat shows our budget and swap-outs\n");

	/* fork: the child publishes its own record */
	child = fork();
	CHECK(child >= 0, "fork: %s", strerror(errno));
	if (child == 0) {
		n = stat_rows(getpid(), NULL, r, 4, &status, err, sizeof(err));
		if (status != 0 || n != 1 || r[0].pid != getpid()) {
			fprintf(stderr,
				"FAIL: child %d: status %#x, %d rows (first "
				"pid %ld): %s\n",
				(int)getpid(), status, n, n ? r[0].pid : 0L,
				err);
			_exit(1);
		}
		_exit(0);
	}
	CHECK(waitpid(child, &status, 0) == child, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x",
	      status);
	own_row(u);
	printf("after fork the child published its own record, ours is "
	       "ours\n");

	if (geteuid() == 0) {
		n = stat_rows(getpid(), "65534", r, 4, &status, err,
			      sizeof(err));
		CHECK(n == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "another user: %d rows, status %#x", n, status);
		CHECK(strstr(err, "permission denied"),
		      "another user: message '%s'", err);
		printf("another user is refused: %s", err);
	} else {
		printf("not root: the other-user check is skipped\n");
	}
	CHECK(uswap_unmap(u, a, SIZE) == 0, "unmap");
	uswap_close(u);
	return 0;
}
