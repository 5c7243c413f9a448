/*
 * sigbus_stdio: stdio while the heap is pushed out, for `uswap run
 * --sigbus` (tests/run/sigbus_stdio.sh).  Between reads the program
 * touches a heap twice the budget, so that a stream's buffer, if it lay in
 * uswap memory, would be out when glibc reads into it, and its read(2)
 * would fail with EFAULT (src/preload/stdio.c).  Each scenario checks
 * every byte:
 *   lines   fprintf a file, read it back with fgets (fopen), getline
 *           (fdopen) and fscanf (freopen);
 *   stdin   fgets the lines sigbus_stdio.sh pipes in;
 *   popen   fgets the output of cat(1);
 *   blocks  fread and fwrite of a heap buffer larger than a stream's
 *           buffer (glibc moves those straight between file and buffer).
 * The churns come when a stream's buffer is used up (churn_due).
 * Without uswap it must pass too.  Usage: sigbus_stdio DIR < LINES;
 * sigbus_stdio --make LINES writes the lines stdin must carry.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHURN_BYTES \
	(40u << 20) /* 5x `--budget 8M`, past mimalloc's first segment */
#define LINES	    20000
#define CHURN_EVERY 2500
#define BLOCK	    (1u << 20)

static char *heap;
static unsigned long churns;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, " (errno %d: %s)\n", errno,          \
				strerror(errno));                            \
			exit(1);                                             \
		}                                                            \
	} while (0)

/* churn - write every page of the heap: everything older goes out */
static void churn(void)
{
	for (size_t i = 0; i < CHURN_BYTES; i += 4096)
		heap[i] = (char)(i >> 12) + (char)churns;
	churns++;
}

/*
 * churn_due - after every CHURN_EVERY lines, at the first moment the
 * stream's buffer is used up (glibc's FILE), so that its next read(2)
 * refills a buffer the churn pushed out: a line read first would bring
 * the buffer in through the program's own access.
 */
static bool churn_due(FILE *f, unsigned i, unsigned *next)
{
	if (i < *next || f->_IO_read_ptr < f->_IO_read_end)
		return false;
	*next = i + CHURN_EVERY;
	return true;
}

static void line_of(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "line %u of the file: %08x\n", i, i * 2654435761u);
}

static void write_lines(const char *path)
{
	FILE *f = fopen(path, "w");
	char want[64];

	CHECK(f, "fopen %s", path);
	for (unsigned i = 0; i < LINES; i++) {
		line_of(i, want, sizeof(want));
		CHECK(fputs(want, f) >= 0, "fputs line %u", i);
		if (i % CHURN_EVERY == 0)
			churn();
	}
	CHECK(fclose(f) == 0, "fclose %s", path);
}

static void read_fgets(FILE *f, const char *what)
{
	char got[64], want[64];
	unsigned next = 0;

	for (unsigned i = 0; i < LINES; i++) {
		if (churn_due(f, i, &next))
			churn();
		line_of(i, want, sizeof(want));
		CHECK(fgets(got, sizeof(got), f), "%s: fgets line %u: %s", what,
		      i, ferror(f) ? "error" : "end of file");
		CHECK(!strcmp(got, want), "%s: line %u reads '%s'", what, i,
		      got);
	}
	CHECK(!fgets(got, sizeof(got), f) && feof(f), "%s: more lines", what);
}

static void lines(const char *dir)
{
	char path[4096], want[64], *line = NULL;
	size_t cap = 0;
	unsigned i, n, h, next;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/lines", dir);
	write_lines(path);
	f = fopen(path, "r");
	CHECK(f, "fopen %s", path);
	read_fgets(f, "fopen+fgets");
	CHECK(fclose(f) == 0, "fclose");

	fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "open %s", path);
	f = fdopen(fd, "r");
	CHECK(f, "fdopen");
	for (i = 0, next = 0; getline(&line, &cap, f) > 0; i++) {
		if (churn_due(f, i, &next))
			churn();
		line_of(i, want, sizeof(want));
		CHECK(!strcmp(line, want), "getline: line %u reads '%s'", i,
		      line);
	}
	CHECK(i == LINES && !ferror(f), "getline: %u lines of %u, %s", i, LINES,
	      ferror(f) ? "error" : "end of file");

	f = freopen(path, "r", f);
	CHECK(f, "freopen %s", path);
	for (i = 0, next = 0;
	     fscanf(f, "line %u of the file: %x\n", &n, &h) == 2; i++) {
		if (churn_due(f, i, &next))
			churn();
		CHECK(n == i && h == i * 2654435761u, "fscanf: line %u", i);
	}
	CHECK(i == LINES && !ferror(f), "fscanf: %u lines of %u, %s", i, LINES,
	      ferror(f) ? "error" : "end of file");
	CHECK(fclose(f) == 0, "fclose");
	free(line);
}

static void from_popen(const char *dir)
{
	char cmd[4200];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cat '%s/lines'", dir);
	f = popen(cmd, "r");
	CHECK(f, "popen %s", cmd);
	read_fgets(f, "popen+fgets");
	CHECK(pclose(f) == 0, "pclose");
}

static void blocks(const char *dir)
{
	char path[4096];
	uint32_t *buf = malloc(BLOCK), *back = malloc(BLOCK);
	FILE *f;
	int fd;

	CHECK(buf && back, "malloc");
	for (size_t i = 0; i < BLOCK / 4; i++)
		buf[i] = (uint32_t)(i * 2654435761u);
	snprintf(path, sizeof(path), "%s/block", dir);
	f = fopen(path, "w");
	CHECK(f, "fopen %s", path);
	churn(); /* buf goes out: fwrite's write(2) reads it */
	CHECK(fwrite(buf, 1, BLOCK, f) == BLOCK, "fwrite");
	CHECK(fclose(f) == 0, "fclose");
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, back, BLOCK) == BLOCK, "read back");
	close(fd);
	CHECK(!memcmp(buf, back, BLOCK), "fwrite: the file differs");

	memset(back, 0, BLOCK);
	f = fopen(path, "r");
	CHECK(f, "fopen %s", path);
	churn(); /* back goes out: fread's read(2) writes it */
	CHECK(fread(back, 4, BLOCK / 4, f) == BLOCK / 4, "fread: %s",
	      ferror(f) ? "error" : "short");
	CHECK(fclose(f) == 0, "fclose");
	CHECK(!memcmp(buf, back, BLOCK), "fread: the buffer differs");
	free(buf);
	free(back);
}

int main(int argc, char **argv)
{
	heap = malloc(CHURN_BYTES);
	CHECK(heap, "malloc");
	if (argc == 3 && !strcmp(argv[1], "--make")) {
		write_lines(argv[2]); /* stdin's lines */
		return 0;
	}
	CHECK(argc == 2, "usage: sigbus_stdio DIR < LINES, or --make LINES");
	lines(argv[1]);
	read_fgets(stdin, "stdin+fgets");
	from_popen(argv[1]);
	blocks(argv[1]);
	printf("sigbus_stdio: every byte read back (%lu churns of %u MiB)\n",
	       churns, CHURN_BYTES >> 20);
	return 0;
}
