/*
 * `uswap stat [--watch SECONDS] [--bytes] [PID...]`: the statistics of
 * running programs, zramctl-like, one line per uswap instance.
 *
 * A program publishes them when it runs with USWAP_F_PUBLISH (`uswap run`
 * sets it): a memfd named "uswap-stats" (src/api/publish.h).  We find it
 * among /proc/PID/fd; the kernel lets the program's user and root open it.
 * Without PIDs every process we can see is scanned.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/publish.h"
#include "commands.h"
#include "fmt.h"

static bool show_bytes;

static void stat_usage(FILE *f)
{
	fprintf(f,
		"usage: uswap stat [--watch SECONDS] [--bytes] [PID...]\n"
		"\n"
		"Statistics of programs running under uswap (`uswap run`, or "
		"the library\nwith the publish option), one line per "
		"instance.  Without PIDs, every\nprocess this user may "
		"inspect.  Columns:\n"
		"  BUDGET    resident memory the regions may hold\n"
		"  RESIDENT  bytes present in the process\n"
		"  CACHED    bytes in the swap cache, not yet compressed\n"
		"  STORED    bytes of pages on the device (original size)\n"
		"  COMPR     their compressed size\n"
		"  RATIO     STORED / COMPR\n"
		"  HELD      all memory uswap holds for data\n"
		"  FAULTS    fault messages handled (MAJOR: read from the "
		"device)\n"
		"  SWAPIN / SWAPOUT  pages read from / written to the device\n"
		"\n"
		"  --watch SECONDS  repeat every SECONDS until interrupted\n"
		"  --bytes          sizes in bytes\n");
}

static const char *size_col(uint64_t b, char *buf, size_t len)
{
	if (show_bytes) {
		snprintf(buf, len, "%" PRIu64, b);
		return buf;
	}
	return fmt_size(b, buf, len);
}

static void print_header(void)
{
	printf("%-8s %-15s %9s %9s %9s %9s %9s %6s %9s %10s %10s %10s %10s\n",
	       "PID", "COMMAND", "BUDGET", "RESIDENT", "CACHED", "STORED",
	       "COMPR", "RATIO", "HELD", "FAULTS", "MAJOR", "SWAPIN",
	       "SWAPOUT");
}

static void print_row(pid_t pid, const char *comm,
		      const struct uswap_published *r)
{
	const struct uswap_stats *st = &r->st;
	char b[7][32], ratio[16];

	if (st->compressed)
		snprintf(ratio, sizeof(ratio), "%.2f",
			 (double)st->stored / (double)st->compressed);
	else
		snprintf(ratio, sizeof(ratio), "-");
	printf("%-8d %-15s %9s %9s %9s %9s %9s %6s %9s %10" PRIu64 " %10" PRIu64
	       " %10" PRIu64 " %10" PRIu64 "\n",
	       (int)pid, comm, size_col(st->budget, b[0], sizeof(b[0])),
	       size_col(st->resident, b[1], sizeof(b[1])),
	       size_col(st->cached, b[2], sizeof(b[2])),
	       size_col(st->stored, b[3], sizeof(b[3])),
	       size_col(st->compressed, b[4], sizeof(b[4])), ratio,
	       size_col(st->held, b[5], sizeof(b[5])), st->faults,
	       st->faults_major, st->swapins, st->swapouts);
}

static void read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(comm, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(comm, (int)len, f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

/*
 * show_pid - print every uswap instance of @pid.
 * Return: instances shown; -errno for the process (ENOENT: no such
 * process; EACCES: not ours to read), with the reason in @why.
 */
static int show_pid(pid_t pid, const char **why)
{
	char dir[64], path[320], link[128], comm[64];
	int shown = 0, denied = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d) {
		*why = errno == ENOENT ? "no such process"
				       : "permission denied: only the "
					 "program's user or root can read "
					 "its statistics";
		return errno == ENOENT ? -ENOENT : -EACCES;
	}
	read_comm(pid, comm, sizeof(comm));
	while ((de = readdir(d))) {
		struct uswap_published rec;
		ssize_t n;
		int fd, ret;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		if (strncmp(link, "/memfd:" PUBLISH_NAME,
			    strlen("/memfd:" PUBLISH_NAME)))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			denied++;
			continue;
		}
		ret = publish_read(fd, &rec);
		close(fd);
		if (ret < 0 || rec.pid != (uint64_t)pid)
			continue; /* another version, or a parent's record */
		print_row(pid, comm, &rec);
		shown++;
	}
	closedir(d);
	if (!shown) {
		*why = denied ? "permission denied: only the program's user "
				"or root can read its statistics"
			      : "not running under uswap (no published "
				"statistics: start it with `uswap run`, or "
				"set USWAP_PUBLISH=1)";
		return denied ? -EACCES : -ESRCH;
	}
	return shown;
}

static int show_all(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int shown = 0;

	if (!d) {
		perror("uswap stat: /proc");
		return -1;
	}
	while ((de = readdir(d))) {
		const char *why;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int n;

		if (*end || pid <= 0)
			continue;
		n = show_pid((pid_t)pid, &why);
		if (n > 0)
			shown += n;
	}
	closedir(d);
	return shown;
}

int stat_main(int argc, char **argv)
{
	double watch = 0;
	int first = -1, failed = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			stat_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--bytes")) {
			show_bytes = true;
		} else if (!strcmp(argv[i], "--watch")) {
			char *end;

			if (i + 1 >= argc) {
				fprintf(stderr, "uswap stat: --watch needs "
						"SECONDS\n");
				return 2;
			}
			watch = strtod(argv[++i], &end);
			if (*end || !(watch > 0) || watch > 86400) {
				fprintf(stderr,
					"uswap stat: --watch %s: not a number "
					"of seconds (0 < s <= 86400)\n",
					argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-') {
			fprintf(stderr,
				"uswap stat: unknown option '%s' (see uswap "
				"stat --help)\n",
				argv[i]);
			return 2;
		} else {
			char *end;
			long pid = strtol(argv[i], &end, 10);

			if (*end || pid <= 0 || pid > 0x3fffffff) {
				fprintf(stderr,
					"uswap stat: '%s': not a process id\n",
					argv[i]);
				return 2;
			}
			if (first < 0)
				first = i;
		}
	}
	for (;;) {
		print_header();
		failed = 0;
		if (first < 0) {
			if (show_all() == 0) {
				fprintf(stderr, "uswap stat: no program with "
						"published uswap statistics "
						"is visible\n");
				failed = 1;
			}
		}
		for (int i = first < 0 ? argc : first; i < argc; i++) {
			const char *why = "";
			long pid;

			if (argv[i][0] == '-') {
				if (!strcmp(argv[i], "--watch"))
					i++;
				continue;
			}
			pid = strtol(argv[i], NULL, 10);
			if (show_pid((pid_t)pid, &why) < 0) {
				fprintf(stderr, "uswap stat: %ld: %s\n", pid,
					why);
				failed = 1;
			}
		}
		fflush(stdout);
		if (!watch)
			break;
		{
			struct timespec ts = {
				.tv_sec = (time_t)watch,
				.tv_nsec =
					(long)((watch - (time_t)watch) * 1e9),
			};

			nanosleep(&ts, NULL);
		}
	}
	return failed;
}
