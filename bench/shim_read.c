/*
 * The cost of a read(2) under the preload shim: a writer thread sends
 * 64-byte messages over a pipe or a unix stream socket, and this thread
 * reads them one read(2) each into a heap buffer (uswap memory under
 * `uswap run`).  Prints the nanoseconds per read.  In the in-thread mode
 * every read into uswap memory goes through src/preload/io.c and
 * bounce.c's wrappers; run two builds' `uswap run --sigbus` side by side,
 * interleaved, several times (docs/BENCHMARKS.md, "The shim's read"):
 *
 *   for i in 1 2 3 4 5; do for u in A/tools/uswap B/tools/uswap; do
 *     $u run --budget 64M --sigbus -- build-rel/bench/shim_read pipe
 *   done; done
 *
 * usage: shim_read [pipe|stream] [reads]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static int fds[2]; /* [0] read, [1] write */
static long reads = 400000;

static void *writer(void *arg)
{
	static char msg[MSG];

	(void)arg;
	for (long i = 0; i < reads; i++)
		if (write(fds[1], msg, MSG) != MSG) {
			perror("write");
			exit(1);
		}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "pipe";
	char *buf = malloc(MSG);
	struct timespec t0, t1;
	long got = 0;
	pthread_t t;

	if (argc > 2)
		reads = atol(argv[2]);
	if (!buf || reads <= 0) {
		fprintf(stderr, "usage: shim_read [pipe|stream] [reads]\n");
		return 2;
	}
	if (!strcmp(kind, "pipe") ? pipe(fds)
				  : socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
		perror(kind);
		return 1;
	}
	memset(buf, 0, MSG);
	if (pthread_create(&t, NULL, writer, NULL)) {
		perror("pthread_create");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < MSG * reads) {
		ssize_t n = read(fds[0], buf, MSG);

		if (n <= 0) {
			perror("read");
			return 1;
		}
		got += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(t, NULL);
	printf("shim_read %s: %.0f ns per read\n", kind,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		(double)(t1.tv_nsec - t0.tv_nsec)) /
		       (double)reads);
	return 0;
}
