/*
 * `uswap run [OPTIONS] [--] PROGRAM [ARGS...]`: run an unmodified,
 * dynamically linked program with its memory paged by uswap.
 *
 * The options are the option table's (src/api/options.c): each is
 * validated here with uswap_options_set and handed to the shim as its
 * USWAP_* variable, which the shim's uswap_open reads with the same
 * parser.  Then LD_PRELOAD gets the shim and mimalloc in front (the
 * user's own preloads stay, after them), and PROGRAM is exec'd in place.
 *
 * Everything that would make the run silently unpaged or fail later is
 * checked first, loudly, with what to do about it: PROGRAM not found, a
 * static or 32-bit binary (PT_INTERP, ELF class), a set-id binary, the
 * shim or mimalloc missing, and a trial uswap_open with the options
 * (userfaultfd not permitted, a budget too small to start).
 *
 * Exit status when PROGRAM did not start: 125 (bad option, uswap cannot
 * start), 126 (PROGRAM cannot run under uswap), 127 (not found).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/options.h"
#include "commands.h"
#include "uswap.h"

#ifndef USWAP_PRELOAD_INSTALLED
#define USWAP_PRELOAD_INSTALLED "/usr/local/lib/uswap/libuswap-preload.so"
#endif
#ifndef USWAP_MIMALLOC
#define USWAP_MIMALLOC "libmimalloc.so.2"
#endif
#define SHIM_NAME	"libuswap-preload.so"

#define EXIT_BAD_OPTION 125
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND	127
#define MAX_SET_OPTIONS 64

/* An option given on the command line: its variable and value. */
struct setting {
	const char *env;
	const char *value;
};

static void run_usage(FILE *f)
{
	const struct uswap_option_info *o;

	fprintf(f,
		"usage: uswap run [OPTIONS] [--] PROGRAM [ARGS...]\n"
		"\n"
		"Runs PROGRAM (dynamically linked) with its heap and private "
		"anonymous\nmappings paged by uswap: only the budget stays "
		"resident, colder pages\nare compressed in RAM.  The shim "
		"(" SHIM_NAME ") and mimalloc are\npreloaded; programs PROGRAM "
		"starts inherit them (each its own budget).\n"
		"\n"
		"options (each also from its USWAP_* variable; the command "
		"line wins):\n");
	for (size_t i = 0; (o = uswap_option_get(i)); i++)
		fprintf(f, "  --%s%s%-*s %s [%s]\n", o->name,
			o->is_flag ? "" : " ",
			o->is_flag ? (int)(14 - strlen(o->name))
				   : (int)(13 - strlen(o->name)),
			o->is_flag ? "" : "V", o->help, o->env);
	fprintf(f,
		"  --stats-file F   append the statistics to F instead of "
		"stderr (implies\n"
		"                   --stats) [USWAP_STATS_FILE]\n"
		"  -h, --help       this text\n"
		"\n"
		"With --stats each process prints its statistics at exit "
		"(uswap[PID COMM]:\nfaults, swapins, swapouts, sizes, and "
		"how many mappings the shim routed).\n"
		"Exit status: PROGRAM's; when it did not start, 125 (bad "
		"option, uswap\ncannot start), 126 (PROGRAM cannot run under "
		"uswap) or 127 (not found).\n"
		"See uswap(1).\n");
}

/* find_program - PROGRAM as execvp would find it, into @out. */
static int find_program(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(prog, '/')) {
		snprintf(out, len, "%s", prog);
		return access(out, F_OK) == 0 ? 0 : -ENOENT;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; p; p = *end ? end + 1 : NULL) {
		struct stat st;

		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		snprintf(out, len, "%.*s%s%s", (int)(end - p), p,
			 end == p ? "" : "/", prog);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/*
 * check_binary - @path can take the shim: a 64-bit dynamically linked ELF
 * (it has PT_INTERP), or a script whose interpreter is one.  Prints why
 * not.  Return: 0, or the exit status.
 */
static int check_binary(const char *path, int depth)
{
	unsigned char buf[256];
	Elf64_Ehdr eh;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "uswap run: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
		fprintf(stderr, "uswap run: %s: not an executable file\n",
			path);
		close(fd);
		return EXIT_CANNOT_RUN;
	}
	if ((st.st_mode & (S_ISUID | S_ISGID)) && geteuid() != 0) {
		fprintf(stderr,
			"uswap run: %s is set-user-ID or set-group-ID: the "
			"dynamic loader ignores LD_PRELOAD for it, so uswap "
			"could not page it.\n",
			path);
		close(fd);
		return EXIT_CANNOT_RUN;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n >= 2 && buf[0] == '#' && buf[1] == '!' && depth == 0) {
		char *p = (char *)buf + 2, *e;

		close(fd);
		buf[n] = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = p; *e && *e != ' ' && *e != '\t' && *e != '\n'; e++)
			;
		*e = 0;
		if (!*p)
			return 0; /* let exec say what is wrong */
		return check_binary(p, 1);
	}
	if (n < (ssize_t)sizeof(eh) || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		close(fd);
		return 0; /* not ELF: exec decides (binfmt_misc...) */
	}
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
		fprintf(stderr,
			"uswap run: %s is a 32-bit program: the uswap shim "
			"is 64-bit, so it could not be loaded into it.\n",
			path);
		close(fd);
		return EXIT_CANNOT_RUN;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP) {
			close(fd);
			return 0;
		}
	}
	close(fd);
	fprintf(stderr,
		"uswap run: %s is statically linked: uswap run needs a "
		"dynamically linked program (LD_PRELOAD cannot load the shim "
		"into a static one).  Link it dynamically, or link it with "
		"libuswap and map its large buffers with uswap_map().\n",
		path);
	return EXIT_CANNOT_RUN;
}

/*
 * find_shim - libuswap-preload.so next to this binary in the build tree
 * (BUILD/tools/uswap -> BUILD/src/preload/), else the installed one.
 */
static int find_shim(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			if (snprintf(out, len, "%s/../src/preload/%s", self,
				     SHIM_NAME) < (int)len &&
			    access(out, R_OK) == 0) {
				char real[PATH_MAX];

				if (realpath(out, real))
					snprintf(out, len, "%s", real);
				return 0;
			}
		}
	}
	snprintf(out, len, "%s", USWAP_PRELOAD_INSTALLED);
	if (access(out, R_OK) == 0)
		return 0;
	fprintf(stderr,
		"uswap run: cannot find the shim %s (looked next to this "
		"binary, ../src/preload/, and at %s): reinstall uswap.\n",
		SHIM_NAME, USWAP_PRELOAD_INSTALLED);
	return -ENOENT;
}

/* find_mimalloc - the allocator library is there (a path, or a name). */
static int find_mimalloc(const char *lib)
{
	static const char *const dirs[] = {"/lib/x86_64-linux-gnu",
					   "/usr/lib/x86_64-linux-gnu",
					   "/lib/aarch64-linux-gnu",
					   "/usr/lib/aarch64-linux-gnu",
					   "/usr/local/lib",
					   "/usr/lib64",
					   "/usr/lib",
					   "/lib64",
					   "/lib"};
	char p[PATH_MAX];

	if (strchr(lib, '/'))
		return access(lib, R_OK) == 0 ? 0 : -ENOENT;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dirs[i], lib);
		if (access(p, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/*
 * trial_start - open and close an instance with the run's options: the
 * program's own start would fail the same way, later and less clearly.
 */
static int trial_start(void)
{
	const char *stats = getenv("USWAP_STATS");
	char saved[16] = "";
	struct uswap *u;
	int ret;

	/* no statistics from the trial instance */
	if (stats) {
		snprintf(saved, sizeof(saved), "%s", stats);
		unsetenv("USWAP_STATS");
	}
	ret = uswap_open(NULL, &u);
	if (stats)
		setenv("USWAP_STATS", saved, 1);

	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr,
			"uswap run: userfaultfd is %s for this user, so "
			"uswap cannot page the program.\n"
			"  Grant it (as root) with one of:\n"
			"    sysctl vm.unprivileged_userfaultfd=1\n"
			"    chmod 0660 /dev/userfaultfd; chgrp SOMEGROUP "
			"/dev/userfaultfd (a group you are in)\n"
			"    setfacl -m u:$USER:rw /dev/userfaultfd\n",
			ret == -ENOSYS ? "not available (kernel built without "
					 "CONFIG_USERFAULTFD)"
				       : "not permitted");
		return EXIT_BAD_OPTION;
	}
	if (ret < 0) {
		fprintf(stderr,
			"uswap run: uswap cannot start with these options: "
			"%s%s\n",
			strerror(-ret),
			ret == -ENOMEM || ret == -EINVAL
				? " (is the budget too small to start? try "
				  "--budget 64M)"
				: "");
		return EXIT_BAD_OPTION;
	}
	uswap_close(u);
	return 0;
}

/* set_preload - LD_PRELOAD = shim, mimalloc, then the user's own. */
static int set_preload(const char *shim, const char *mimalloc)
{
	const char *old = getenv("LD_PRELOAD");
	size_t len =
		strlen(shim) + strlen(mimalloc) + (old ? strlen(old) : 0) + 3;
	char *v = malloc(len);

	if (!v)
		return -ENOMEM;
	snprintf(v, len, "%s %s%s%s", shim, mimalloc, old && *old ? " " : "",
		 old && *old ? old : "");
	if (setenv("LD_PRELOAD", v, 1) < 0) {
		free(v);
		return -errno;
	}
	free(v);
	return 0;
}

/*
 * keep_thread_stacks - in the in-thread mode, glibc's cache of thread
 * stacks never trims (GLIBC_TUNABLES glibc.pthread.stack_cache_size, unless
 * the user set it).  A thread that exits with every signal blocked trims
 * the cache over its limit (40 MiB) by freeing old stacks' TLS, reading
 * their dtv, which is in the heap: a page of it not in memory is a SIGBUS
 * the kernel turns into a kill.  python3 starting 40 threads over a heap
 * pushed out died so in 4 runs of 4 (tests/run/python3.sh).  The stacks
 * themselves are plain memory, and glibc returns all but a little of
 * each exited thread's to the kernel; the cache holds at most as many as
 * the program ever ran at once.
 */
static int keep_thread_stacks(void)
{
	static const char tunable[] =
		"glibc.pthread.stack_cache_size=1099511627776";
	const char *old = getenv("GLIBC_TUNABLES");
	size_t len;
	char *v;
	int ret;

	if (old && strstr(old, "glibc.pthread.stack_cache_size="))
		return 0;
	len = (old ? strlen(old) + 1 : 0) + sizeof(tunable);
	v = malloc(len);
	if (!v)
		return -ENOMEM;
	snprintf(v, len, "%s%s%s", old && *old ? old : "",
		 old && *old ? ":" : "", tunable);
	ret = setenv("GLIBC_TUNABLES", v, 1) < 0 ? -errno : 0;
	free(v);
	return ret;
}

/*
 * parse_run_args - the options before PROGRAM.  Return: the index of
 * PROGRAM in @argv, 0 for --help shown, -1 on a bad option (printed).
 */
static int parse_run_args(int argc, char **argv, struct setting *set,
			  size_t *nset, const char **stats_file)
{
	static char names[MAX_SET_OPTIONS][32];
	struct uswap_config cfg = {0};
	const struct uswap_option_info *o;
	char err[256];
	int i;

	for (i = 0; i < argc; i++) {
		char *arg = argv[i], *name, *value = NULL, *eq;
		size_t k;

		if (!strcmp(arg, "--"))
			return i + 1 < argc ? i + 1 : -2;
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			run_usage(stdout);
			return 0;
		}
		if (arg[0] != '-')
			return i; /* PROGRAM */
		if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
			fprintf(stderr,
				"uswap run: unknown option '%s' (see uswap "
				"run --help)\n",
				arg);
			return -1;
		}
		if (*nset >= MAX_SET_OPTIONS) {
			fprintf(stderr, "uswap run: too many options\n");
			return -1;
		}
		name = names[*nset];
		snprintf(name, sizeof(names[0]), "%s", arg + 2);
		eq = strchr(arg + 2, '=');
		if (eq) {
			if ((size_t)(eq - arg - 2) < sizeof(names[0]))
				name[eq - arg - 2] = 0;
			value = eq + 1;
		}
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (!strcmp(name, "stats_file")) {
			if (!value && i + 1 < argc)
				value = argv[++i];
			if (!value || !*value) {
				fprintf(stderr, "uswap run: --stats-file "
						"needs a file name\n");
				return -1;
			}
			*stats_file = value;
			continue;
		}
		for (k = 0; (o = uswap_option_get(k)); k++)
			if (!strcmp(o->name, name))
				break;
		if (!o) {
			fprintf(stderr,
				"uswap run: unknown option --%s (see uswap "
				"run --help)\n",
				name);
			return -1;
		}
		if (!value && !o->is_flag) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"uswap run: --%s needs a value\n",
					name);
				return -1;
			}
			value = argv[++i];
		}
		if (uswap_options_set(&cfg, name, value, err, sizeof(err)) <
		    0) {
			fprintf(stderr, "uswap run: --%s\n", err);
			return -1;
		}
		if (o->is_flag) {
			/* normalised, as the shim's parser reads it */
			struct uswap_config one = {0};

			(void)uswap_options_set(&one, name, value, err,
						sizeof(err));
			value = one.flags ? "1" : "0";
		}
		set[*nset].env = o->env;
		set[(*nset)++].value = value;
	}
	return -2; /* no PROGRAM */
}

int run_main(int argc, char **argv)
{
	struct setting set[MAX_SET_OPTIONS];
	const char *stats_file = NULL;
	char prog[PATH_MAX], shim[PATH_MAX], err[256];
	struct uswap_options opt;
	size_t nset = 0;
	int first, ret;

	first = parse_run_args(argc, argv, set, &nset, &stats_file);
	if (first == 0)
		return 0;
	if (first == -2) {
		fprintf(stderr, "uswap run: no program given\n");
		run_usage(stderr);
		return EXIT_BAD_OPTION;
	}
	if (first < 0)
		return EXIT_BAD_OPTION;

	/* the command line wins over the environment: it becomes it */
	for (size_t i = 0; i < nset; i++)
		setenv(set[i].env, set[i].value, 1);
	if (stats_file) {
		setenv("USWAP_STATS_FILE", stats_file, 1);
		setenv("USWAP_STATS", "1", 1);
	}
	/*
	 * `uswap stat PID` works on every program uswap runs unless the user
	 * said --publish=0 (or USWAP_PUBLISH=0): one thread and one memfd
	 * per process.
	 */
	setenv("USWAP_PUBLISH", "1", 0);
	/* a bad USWAP_* the user had set is reported now, by name */
	if (uswap_options_resolve(NULL, &opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "uswap run: %s\n", err);
		return EXIT_BAD_OPTION;
	}

	if (find_program(argv[first], prog, sizeof(prog)) < 0) {
		fprintf(stderr, "uswap run: %s: command not found\n",
			argv[first]);
		return EXIT_NOT_FOUND;
	}
	ret = check_binary(prog, 0);
	if (ret)
		return ret;
	if (find_shim(shim, sizeof(shim)) < 0)
		return EXIT_CANNOT_RUN;
	if (find_mimalloc(USWAP_MIMALLOC) < 0) {
		fprintf(stderr,
			"uswap run: the allocator %s is missing: install "
			"Debian's libmimalloc2.0 (the program's heap is "
			"paged through it).\n",
			USWAP_MIMALLOC);
		return EXIT_CANNOT_RUN;
	}
	ret = trial_start();
	if (ret)
		return ret;
	if (set_preload(shim, USWAP_MIMALLOC) < 0 ||
	    ((opt.flags & USWAP_F_SIGBUS) && keep_thread_stacks() < 0)) {
		fprintf(stderr, "uswap run: out of memory\n");
		return EXIT_BAD_OPTION;
	}
	execv(prog, argv + first);
	fprintf(stderr, "uswap run: %s: %s\n", prog, strerror(errno));
	return errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
