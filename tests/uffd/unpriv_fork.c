/*
 * Scenario: an unprivileged process (uid 65534, after dropping root in a
 * child) asking for EVENT_FORK with UFFD_USER_MODE_ONLY gets a uffd
 * without it: u.refused has EVENT_FORK, u.features has the rest.  Skips
 * when not run as root (it cannot drop to another user) or when the
 * kernel refuses even USER_MODE_ONLY.
 */
#include <grp.h>
#include <sys/wait.h>

#include "uffd_test.h"

static int child(void)
{
	struct uffd u;
	int ret;

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534)) {
		perror("drop privileges");
		return 1;
	}
	ret = uffd_open(&u,
			UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_THREAD_ID |
				UFFD_FEATURE_MOVE,
			UFFD_OPEN_USER_ONLY);
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: no USER_MODE_ONLY uffd: %d\n", ret);
		return 77;
	}
	CHECK(ret == 0);
	CHECK(u.refused == UFFD_FEATURE_EVENT_FORK);
	CHECK(u.features == (UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MOVE));
	uffd_close(&u);
	return 0;
}

int main(void)
{
	int status;
	pid_t pid;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root to drop to uid 65534\n");
		return 77;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child());
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	return WEXITSTATUS(status);
}
