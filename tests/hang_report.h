/*
 * hang_report_install - when the test is killed for taking too long
 * (meson's timeout sends SIGTERM; a test's own alarm(2) raises SIGALRM),
 * write on stderr what each of its threads was doing first, then die of
 * the same signal: a hang in CI leaves evidence, not only "TIMEOUT".
 *
 * Per thread: its id and name, its wait channel, its system call line
 * (number and arguments, or -1 with the stack and user pc; the pc is an
 * address the executable mappings at the end turn into library+offset),
 * its stat line, and its kernel stack (root only); then the same for its
 * child processes, and theirs, three levels down (a fork child has the
 * parent's mappings: they are given once).
 *
 * Not a signal handler: a handled signal is not fatal, and a thread in a
 * killable wait (madvise waiting for a userfaultfd event to be read: the
 * very hang) would never run the handler nor die.  So the calling thread
 * (and the threads it creates afterwards) block SIGTERM and SIGALRM, a
 * watcher thread takes them with sigwait, reports, and raises the signal
 * again with its default action, unblocked in the watcher: fatal, it
 * ends every thread, those in killable waits too.  A fork child has no
 * watcher: it gets them unblocked and default again (pthread_atfork).
 * Call it before creating threads.
 */
#ifndef USWAP_TESTS_HANG_REPORT_H
#define USWAP_TESTS_HANG_REPORT_H

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void hang_puts(const char *s)
{
	(void)!write(2, s, strlen(s));
}

/* hang_line - one line, after @indent, when it holds @only (NULL: any) */
static inline void hang_line(const char *line, const char *indent,
			     const char *only)
{
	if (only && !strstr(line, only))
		return;
	hang_puts(indent);
	hang_puts(line);
	hang_puts("\n");
}

/*
 * hang_cat - @path's lines that hold @only (NULL: all), each after
 * @indent; a line longer than 1 KiB is cut.
 */
static inline void hang_cat(const char *path, const char *indent,
			    const char *only)
{
	char buf[4096], line[1024];
	size_t len = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < r; k++) {
			if (buf[k] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[k];
				continue;
			}
			line[len] = 0;
			hang_line(line, indent, only);
			len = 0;
		}
	}
	close(fd);
	if (len) {
		line[len] = 0;
		hang_line(line, indent, only);
	}
}

#define HANG_MAX_CHILDREN 16 /* processes reported below each one */

/*
 * hang_threads - each thread of the process at @proc ("/proc/self" or
 * "/proc/PID"), then, @depth levels down, each of its children's: a hang
 * may lie in a fork child (a fork test's child waiting on a handler it
 * restarted), whose parent only waits for it.
 */
static inline void hang_threads(const char *proc, int depth)
{
	/* per thread: its lines, then its kernel stack */
	static const char *const files[] = {"comm", "wchan", "syscall", "stat",
					    "stack"};
	char dents[4096], path[128];
	long kids[HANG_MAX_CHILDREN];
	int nkids = 0;
	long n;
	int dir;

	snprintf(path, sizeof(path), "%s/task", proc);
	dir = open(path, O_RDONLY | O_DIRECTORY);
	while (dir >= 0 &&
	       (n = syscall(SYS_getdents64, dir, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n;) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen;
			const char *name = dents + off + 19;
			char buf[512];
			int fd;

			memcpy(&reclen, dents + off + 16, 2);
			off += reclen;
			if (name[0] < '0' || name[0] > '9')
				continue;
			hang_puts("thread ");
			hang_puts(name);
			hang_puts(":\n");
			for (int k = 0; k < 5; k++) {
				snprintf(path, sizeof(path), "%s/task/%s/%s",
					 proc, name, files[k]);
				if (k < 4) {
					hang_puts("  ");
					hang_puts(files[k]);
					hang_puts(": ");
				}
				hang_cat(path, k < 4 ? "" : "    ", NULL);
			}
			/* its children: pids separated by spaces */
			snprintf(path, sizeof(path), "%s/task/%s/children",
				 proc, name);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			ssize_t r = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			for (char *p = buf, *end;
			     r > 0 && nkids < HANG_MAX_CHILDREN; p = end) {
				long pid;

				buf[r] = 0;
				pid = strtol(p, &end, 10);
				if (end == p)
					break;
				kids[nkids++] = pid;
			}
		}
	}
	if (dir >= 0)
		close(dir);
	for (int i = 0; i < nkids && depth > 0; i++) {
		char sub[32];

		snprintf(sub, sizeof(sub), "/proc/%ld", kids[i]);
		snprintf(path, sizeof(path),
			 "=== hang report: child process %ld\n", kids[i]);
		hang_puts(path);
		hang_threads(sub, depth - 1);
	}
}

/* hang_report - the report (see the file comment) */
static inline void hang_report(void)
{
	hang_puts("=== hang report: the test's threads\n");
	hang_threads("/proc/self", 3);
	hang_puts("executable mappings:\n");
	hang_cat("/proc/self/maps", "  ", " r-xp ");
}

static sigset_t hang_signals;

static inline void *hang_watch(void *arg)
{
	int sig;

	(void)arg;
	if (sigwait(&hang_signals, &sig))
		return NULL;
	hang_report();
	signal(sig, SIG_DFL);
	pthread_kill(pthread_self(), sig);
	pthread_sigmask(SIG_UNBLOCK, &hang_signals, NULL);
	return NULL; /* not reached: the signal is fatal */
}

static inline void hang_child(void)
{
	pthread_sigmask(SIG_UNBLOCK, &hang_signals, NULL);
}

static inline void hang_report_install(void)
{
	static atomic_flag once = ATOMIC_FLAG_INIT;
	pthread_t th;

	if (atomic_flag_test_and_set(&once))
		return;
	sigemptyset(&hang_signals);
	sigaddset(&hang_signals, SIGTERM);
	sigaddset(&hang_signals, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &hang_signals, NULL);
	if (pthread_create(&th, NULL, hang_watch, NULL) == 0)
		pthread_detach(th);
	else
		hang_child(); /* no watcher: as before */
	pthread_atfork(NULL, NULL, hang_child);
}

#endif /* USWAP_TESTS_HANG_REPORT_H */
