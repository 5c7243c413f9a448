/*
 * Run under `uswap run --sigbus` (sigbus_dgram.sh): no datagram is lost
 * while the reclaimer keeps pushing the receiving buffers out.
 *
 * In the in-thread mode the kernel's copy of a datagram into a page that
 * is not in memory fails with EFAULT, and the kernel then drops the
 * datagram (udp_recvmsg, unix_dgram_recvmsg): there is nothing to call
 * again for.  Touching the buffer before the call is not enough: the
 * receiver sleeps in the call until a datagram comes, and the page can
 * leave meanwhile.  src/preload/io.c receives through a buffer of plain
 * memory and copies out.
 *
 * A sender thread sends NDGRAM numbered datagrams over a blocking unix
 * datagram socket pair (a full queue makes it wait: the kernel drops
 * none), from memory uswap does not hold; a churn thread writes over a
 * heap of 4 x the budget without pause, so the receiving buffers in the
 * heap (malloc: uswap memory under the shim) are pushed out while the
 * receiver waits.  The receiver takes them with recv, recvfrom (the
 * address in the heap too), recvmsg (iovec array, two buffers, address
 * and an SCM_RIGHTS control buffer in the heap), read and readv, in
 * turn, and checks each one's number and bytes.  A gap is a lost
 * datagram.
 *
 * Exit 0 pass, 1 fail (the first failures are named).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define NDGRAM 3000
#define DGRAM  (24 * 1024UL) /* 6 pages */
#define HEAP   (32UL << 20)  /* 4 x the script's 8M budget */

static int sv[2];
static atomic_bool done;
static unsigned long failures;

/* fill - datagram @seq's bytes: its number first, then a pattern */
static void fill(unsigned char *p, uint32_t seq)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t k = 0; k < DGRAM / 8; k++)
		w[k] = ((uint64_t)seq << 32) ^ (k * 0x9e3779b97f4a7c15ULL);
	memcpy(p, &seq, sizeof(seq));
}

static void *sender(void *arg)
{
	static unsigned char buf[DGRAM]; /* .bss: not uswap memory */

	(void)arg;
	for (uint32_t seq = 0; seq < NDGRAM; seq++) {
		fill(buf, seq);
		/* every 8th carries a descriptor, for recvmsg's control */
		if (seq % 8 == 2) {
			char cbuf[CMSG_SPACE(sizeof(int))];
			struct iovec iov = {buf, DGRAM};
			struct msghdr m = {.msg_iov = &iov,
					   .msg_iovlen = 1,
					   .msg_control = cbuf,
					   .msg_controllen = sizeof(cbuf)};
			struct cmsghdr *c = CMSG_FIRSTHDR(&m);
			int fd = 1;

			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(fd));
			if (sendmsg(sv[0], &m, 0) != (ssize_t)DGRAM) {
				perror("sendmsg");
				exit(1);
			}
		} else if (send(sv[0], buf, DGRAM, 0) != (ssize_t)DGRAM) {
			perror("send");
			exit(1);
		}
		/*
		 * Pauses: the receiver waits in its call meanwhile, and in
		 * the long ones the churn pushes the whole budget out.
		 */
		if (seq % 53 == 52) /* 53: each kind of call in turn waits */
			usleep(20000);
		else if (seq % 4 == 0)
			usleep(200);
	}
	return NULL;
}

static void *churn(void *arg)
{
	unsigned char *heap = arg;

	for (unsigned round = 0; !atomic_load(&done); round++)
		for (size_t o = 0; o < HEAP && !atomic_load(&done); o += 4096)
			heap[o] = (unsigned char)round;
	return NULL;
}

static void failed(const char *how, uint32_t seq, const char *what)
{
	if (failures++ < 10)
		fprintf(stderr, "FAIL %s, datagram %u: %s\n", how, seq, what);
}

/*
 * check_fd - recvmsg's control for the datagram in @buf: a descriptor
 * exactly when the sender sent one.  Return: whether one came (closed).
 */
static bool check_fd(const struct msghdr *msg, const unsigned char *buf)
{
	struct cmsghdr *c = msg->msg_controllen ? CMSG_FIRSTHDR(msg) : NULL;
	uint32_t seq;
	int fd;

	memcpy(&seq, buf, sizeof(seq));
	if (!c) {
		if (seq % 8 == 2)
			failed("recvmsg", seq, "its descriptor is missing");
		return false;
	}
	if (seq % 8 != 2 || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		failed("recvmsg", seq, "a control it was not sent");
		return false;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (fd < 0 || close(fd))
		failed("recvmsg", seq, "a bad descriptor");
	return true;
}

int main(void)
{
	static const char *const how[] = {"recv", "recvfrom", "recvmsg", "read",
					  "readv"};
	unsigned char *heap = malloc(HEAP), *want = malloc(DGRAM);
	/* the receiving side, all of it in the heap */
	unsigned char *buf = malloc(DGRAM + 4096);
	struct sockaddr_un *addr = malloc(sizeof(*addr));
	socklen_t *alen = malloc(sizeof(*alen));
	struct iovec *iov = malloc(2 * sizeof(*iov));
	struct msghdr *msg = malloc(sizeof(*msg));
	char *cbuf = malloc(CMSG_SPACE(sizeof(int)));
	unsigned long lost = 0, fds = 0, by[5] = {0};
	pthread_t st, ct;
	uint32_t expect = 0;
	struct timeval tmo = {.tv_sec = 10};

	if (!heap || !want || !buf || !addr || !alen || !iov || !msg || !cbuf) {
		perror("malloc");
		return 1;
	}
	memset(heap, 1, HEAP);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) ||
	    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo))) {
		perror("socketpair");
		return 1;
	}
	if (pthread_create(&ct, NULL, churn, heap) ||
	    pthread_create(&st, NULL, sender, NULL)) {
		perror("pthread_create");
		return 1;
	}
	for (unsigned i = 0; expect < NDGRAM; i++) {
		unsigned k = i % 5;
		uint32_t seq;
		ssize_t n;

		switch (k) {
		case 0:
			n = recv(sv[1], buf, DGRAM + 4096, 0);
			break;
		case 1:
			*alen = sizeof(*addr);
			n = recvfrom(sv[1], buf, DGRAM + 4096, 0,
				     (struct sockaddr *)addr, alen);
			break;
		case 2:
			/* two buffers: a page, then the rest */
			iov[0] = (struct iovec){buf, 4096};
			iov[1] = (struct iovec){buf + 4096, DGRAM};
			*msg = (struct msghdr){.msg_name = addr,
					       .msg_namelen = sizeof(*addr),
					       .msg_iov = iov,
					       .msg_iovlen = 2,
					       .msg_control = cbuf,
					       .msg_controllen =
						       CMSG_SPACE(sizeof(int))};
			n = recvmsg(sv[1], msg, 0);
			if (n > 0 &&
			    (msg->msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
				failed(how[k], expect, "truncated");
			if (n >= 4 && check_fd(msg, buf))
				fds++;
			break;
		case 3:
			n = read(sv[1], buf, DGRAM + 4096);
			break;
		default:
			iov[0] = (struct iovec){buf, 100};
			iov[1] = (struct iovec){buf + 100, DGRAM + 3996};
			n = readv(sv[1], iov, 2);
			break;
		}
		if (n < 0 && errno == EAGAIN) {
			failed(how[k], expect,
			       "none came in 10 s: the last lost");
			break;
		}
		if (n < 0) {
			char what[64];

			snprintf(what, sizeof(what), "error (errno %d: %s)",
				 errno, strerror(errno));
			failed(how[k], expect, what);
			continue;
		}
		if (n != (ssize_t)DGRAM) {
			failed(how[k], expect, "wrong length");
			continue;
		}
		memcpy(&seq, buf, sizeof(seq));
		if (seq < expect || seq >= NDGRAM) {
			failed(how[k], expect, "bad number");
			continue;
		}
		if (seq > expect) {
			char what[64];

			snprintf(what, sizeof(what), "%u lost before it",
				 seq - expect);
			failed(how[k], seq, what);
			lost += seq - expect;
		}
		fill(want, seq);
		if (memcmp(buf, want, DGRAM))
			failed(how[k], seq, "wrong bytes");
		by[k]++;
		expect = seq + 1;
	}
	atomic_store(&done, true);
	pthread_join(st, NULL);
	pthread_join(ct, NULL);
	printf("received %lu (recv %lu, recvfrom %lu, recvmsg %lu, read %lu, "
	       "readv %lu), %lu descriptors, %lu lost\n",
	       by[0] + by[1] + by[2] + by[3] + by[4], by[0], by[1], by[2],
	       by[3], by[4], fds, lost);
	return failures ? 1 : 0;
}
