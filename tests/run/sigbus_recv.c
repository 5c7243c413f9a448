/*
 * Run under `uswap run --sigbus` (sigbus_recv.sh): nothing a receive takes
 * is lost while the reclaimer keeps pushing the receiving buffers out.
 *
 * In the in-thread mode the kernel's copy into a page that is not in
 * memory fails with EFAULT, and for these calls the kernel has taken what
 * it was copying by then: a datagram (unix_dgram_recvmsg, udp_recvmsg),
 * an eventfd's count (eventfd_read), a connection whose address cannot
 * be written (accept).  Touching the buffers before the call is not
 * enough: the receiver sleeps in the call until something comes, and the
 * page can leave meanwhile.  src/preload/bounce.c receives through plain
 * memory and copies out.
 *
 * A churn thread writes over a heap of 4 x the budget without pause, so
 * that the receiving buffers, in the heap (malloc: uswap memory under the
 * shim), are pushed out while the receiver waits.  The senders pause
 * now and then (pause_after), so that each kind of call waits in turn.
 * Three parts:
 *  - datagrams: NDGRAM numbered ones over a blocking unix datagram
 *    socket pair (a full queue makes the sender wait: the kernel drops
 *    none), taken by recv, recvfrom (the address in the heap or on the
 *    stack),
 *    recvmsg (iovec array, two buffers, address and an SCM_RIGHTS
 *    control buffer in the heap), read, readv, and recvmsg with only its
 *    msghdr in the heap, and recvmmsg, in turn (some sent by sendmmsg
 *    from an array in the heap), each checked
 *    for its number and bytes: a gap is a lost datagram, and so is one
 *    the sender sent that did not come in 10 s; one it has not sent yet
 *    is its stall, shown at once and a failure after 60 s;
 *  - an eventfd: NEVENT writes of 1, taken by read and readv into a heap
 *    word: the counts must add up to NEVENT.  It takes the descriptor
 *    number of a pipe read and closed just before (bounce.c remembers
 *    what a number is until it is closed);
 *  - connections: NCONN connects to a unix stream socket, taken by accept
 *    and accept4 with the address and its length in the heap; each client
 *    waits for a reply byte, and a connection the kernel closed gets none
 *    (a client's stall as a sender's).
 *
 * Exit 0 pass, 1 fail (the first failures are named).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define NDGRAM 3000
#define DGRAM  (24 * 1024UL) /* 6 pages */
#define HDRS   256	     /* pages for recvmsg's msghdr alone */
#define NEVENT 600
#define NCONN  600
#define HEAP   (32UL << 20) /* 4 x the script's 8M budget */

static int sv[2];
static atomic_bool done;
/*
 * The sender's progress, for a receive that waited 10 s in vain: what it
 * was doing with which datagram (stall_report).
 */
enum { AT_FILL = 1, AT_SEND, AT_PAUSE };
static const char *const at_name[] = {"starting", "filling", "sending",
				      "pausing after"};
static atomic_uint sender_at, sender_seq;
static atomic_int sender_tid;
/* datagrams whose send call returned */
static atomic_uint sender_sent;
/* receives that may time out while the sender has not sent: 60 s */
#define STALL_MAX 6
static unsigned long failures;
static unsigned char *heap; /* HEAP bytes, churned */

/*
 * pause_after - the senders' pauses: @long_us every @every-th time (53
 * and 17: each kind of call waits in turn), short ones between.
 */
static void pause_after(unsigned seq, unsigned every, unsigned long_us)
{
	if (seq % every == every - 1)
		usleep(long_us);
	else if (seq % 4 == 0)
		usleep(200);
}

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
	atomic_store(&sender_tid, gettid());
	for (uint32_t seq = 0; seq < NDGRAM; seq++) {
		atomic_store(&sender_seq, seq);
		atomic_store(&sender_at, AT_FILL);
		fill(buf, seq);
		atomic_store(&sender_at, AT_SEND);
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
		} else if (seq % 8 == 5) {
			/* sendmmsg, its array and iovec in the heap */
			struct mmsghdr *v = malloc(sizeof(*v));
			struct iovec *iov = malloc(sizeof(*iov));

			if (!v || !iov) {
				perror("malloc");
				exit(1);
			}
			*iov = (struct iovec){buf, DGRAM};
			*v = (struct mmsghdr){
				.msg_hdr = {.msg_iov = iov, .msg_iovlen = 1}};
			if (sendmmsg(sv[0], v, 1, 0) != 1 ||
			    v->msg_len != DGRAM) {
				perror("sendmmsg");
				exit(1);
			}
			free(v);
			free(iov);
		} else if (send(sv[0], buf, DGRAM, 0) != (ssize_t)DGRAM) {
			perror("send");
			exit(1);
		}
		atomic_store(&sender_sent, seq + 1);
		atomic_store(&sender_at, AT_PAUSE);
		pause_after(seq, 53, 20000);
	}
	return NULL;
}

/* where_pc - the mapping of this process holding @pc, as FILE+OFFSET */
static void where_pc(unsigned long pc, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], file[400];
	unsigned long lo, hi, off;

	snprintf(out, len, "%#lx", pc);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		file[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %399s", &lo, &hi,
			   &off, file) >= 3 &&
		    pc >= lo && pc < hi) {
			snprintf(out, len, "%s+%#lx", file[0] ? file : "[anon]",
				 pc - lo + off);
			break;
		}
	}
	fclose(f);
}

/* show - the first line of /proc/self/task/@tid/@what, or "?" */
static void show(const char *tid, const char *what, char *out, size_t len)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, what);
	snprintf(out, len, "?");
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(out, (int)len, f))
		snprintf(out, len, "?");
	out[strcspn(out, "\n")] = 0;
	fclose(f);
}

/*
 * stall_report - a receive waited 10 s for a datagram: say what the
 * sender was doing, then, for every thread, its state, the system call
 * it is in (number ... pc, the pc as FILE+OFFSET) and its kernel stack.
 * Taken at once, not at the harness's timeout: by then the sender may
 * have gone on and be waiting for a receiver that stopped.  A CI run of
 * 2026-11-28 failed so, with nothing to say where the sender was.
 */
static void stall_report(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	fprintf(stderr, "the sender (thread %d) was %s datagram %u\n",
		atomic_load(&sender_tid), at_name[atomic_load(&sender_at)],
		atomic_load(&sender_seq));
	while (d && (e = readdir(d))) {
		char comm[64], stat[512], wchan[64], sc[256], pc[480],
			path[320];
		const char *state = "?", *last;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		show(e->d_name, "comm", comm, sizeof(comm));
		show(e->d_name, "stat", stat, sizeof(stat));
		show(e->d_name, "wchan", wchan, sizeof(wchan));
		show(e->d_name, "syscall", sc, sizeof(sc));
		if (strrchr(stat, ')'))
			state = strrchr(stat, ')') + 2;
		last = strrchr(sc, ' ');
		pc[0] = 0;
		if (last && strncmp(sc, "running", 7))
			where_pc(strtoul(last + 1, NULL, 16), pc, sizeof(pc));
		fprintf(stderr,
			"  thread %s %s state %.1s wchan %s syscall %s %s\n",
			e->d_name, comm, state, wchan, sc, pc);
		snprintf(path, sizeof(path), "/proc/self/task/%s/stack",
			 e->d_name);
		if ((f = fopen(path, "r"))) {
			char line[256];

			while (fgets(line, sizeof(line), f))
				fprintf(stderr, "    %s", line);
			fclose(f);
		}
	}
	if (d)
		closedir(d);
	sleep(1);
	fprintf(stderr, "a second later the sender was %s datagram %u\n",
		at_name[atomic_load(&sender_at)], atomic_load(&sender_seq));
}

static void *churn(void *arg)
{
	(void)arg;
	for (unsigned round = 0; !atomic_load(&done); round++)
		for (size_t o = 0; o < HEAP && !atomic_load(&done); o += 4096)
			heap[o] = (unsigned char)round;
	return NULL;
}

static void failed(const char *how, uint32_t seq, const char *what)
{
	if (failures++ < 10)
		fprintf(stderr, "FAIL %s, %u: %s\n", how, seq, what);
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

static void datagrams(void)
{
	static const char *const how[] = {"recv",    "recvfrom",
					  "recvmsg", "read",
					  "readv",   "recvmsg (header only)",
					  "recvmmsg"};
	static unsigned char stack_buf[DGRAM + 4096]; /* not uswap memory */
	unsigned char *want = malloc(DGRAM);
	/* the receiving side, all of it in the heap */
	unsigned char *buf = malloc(DGRAM + 4096);
	struct sockaddr_un *addr = malloc(sizeof(*addr));
	socklen_t *alen = malloc(sizeof(*alen));
	struct iovec *iov = malloc(2 * sizeof(*iov));
	struct msghdr *msg = malloc(sizeof(*msg));
	/*
	 * case 5's, a cold page each time: uswap's aging keeps a page that
	 * keeps coming back (the other buffers, several pages each, leave
	 * all the same)
	 */
	unsigned char *hdrs = malloc(HDRS * 4096UL);
	char *cbuf = malloc(CMSG_SPACE(sizeof(int)));
	unsigned long lost = 0, fds = 0, by[7] = {0};
	struct mmsghdr *vec = malloc(sizeof(*vec));
	pthread_t st;
	uint32_t expect = 0;
	unsigned stalls = 0;
	struct timeval tmo = {.tv_sec = 10};

	if (!want || !buf || !addr || !alen || !iov || !msg || !hdrs || !cbuf ||
	    !vec) {
		perror("malloc");
		exit(1);
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) ||
	    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo))) {
		perror("socketpair");
		exit(1);
	}
	if (pthread_create(&st, NULL, sender, NULL)) {
		perror("pthread_create");
		exit(1);
	}
	for (unsigned i = 0; expect < NDGRAM; i++) {
		unsigned k = i % 7;
		uint32_t seq;
		ssize_t n;

		switch (k) {
		case 0:
			n = recv(sv[1], buf, DGRAM + 4096, 0);
			break;
		case 1:
			/* the address in the heap, or on the stack in turn */
			if (i / 7 % 2) {
				struct sockaddr_un sa;
				socklen_t sl = sizeof(sa);

				n = recvfrom(sv[1], buf, DGRAM + 4096, 0,
					     (struct sockaddr *)&sa, &sl);
				break;
			}
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
		case 6:
			/* one message: each datagram is checked in turn */
			iov[0] = (struct iovec){buf, DGRAM + 4096};
			*vec = (struct mmsghdr){
				.msg_hdr = {.msg_iov = iov, .msg_iovlen = 1}};
			n = recvmmsg(sv[1], vec, 1, 0, NULL);
			n = n == 1 ? (ssize_t)vec->msg_len : -1;
			break;
		case 4:
			iov[0] = (struct iovec){buf, 100};
			iov[1] = (struct iovec){buf + 100, DGRAM + 3996};
			n = readv(sv[1], iov, 2);
			break;
		default: {
			/*
			 * Only the msghdr in the heap: the kernel writes its
			 * msg_flags back after it took the datagram.
			 */
			struct msghdr *hdr =
				(struct msghdr *)(hdrs + i / 7 % HDRS * 4096);

			iov[0] = (struct iovec){stack_buf, sizeof(stack_buf)};
			*hdr = (struct msghdr){.msg_iov = iov, .msg_iovlen = 1};
			n = recvmsg(sv[1], hdr, 0);
			if (n > 0)
				memcpy(buf, stack_buf, (size_t)n);
			break;
		}
		}
		if (n < 0 && errno == EAGAIN) {
			/*
			 * Lost only if it was sent.  A sender that has not
			 * sent it yet is stalled: a loaded machine can do
			 * that, and so could a bug of uswap's, so the stall
			 * is shown at once and fails only if it lasts
			 * STALL_MAX receives.
			 */
			if (atomic_load(&sender_sent) > expect) {
				failed(how[k], expect,
				       "none came in 10 s: lost");
			} else if (++stalls < STALL_MAX) {
				fprintf(stderr,
					"note: datagram %u not sent in 10 s\n",
					expect);
				if (stalls == 1)
					stall_report();
				continue;
			} else {
				failed(how[k], expect,
				       "the sender stalled: not sent in 60 s");
			}
			stall_report();
			/*
			 * The sender may wait for room in the socket forever:
			 * joining it would hang until the harness kills us.
			 */
			fflush(stdout);
			_exit(1);
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
	pthread_join(st, NULL);
	printf("datagrams received %lu (recv %lu, recvfrom %lu, recvmsg %lu, "
	       "read %lu, readv %lu, recvmsg header only %lu, recvmmsg %lu), "
	       "%lu "
	       "descriptors, %lu lost\n",
	       by[0] + by[1] + by[2] + by[3] + by[4] + by[5] + by[6], by[0],
	       by[1], by[2], by[3], by[4], by[5], by[6], fds, lost);
	close(sv[0]);
	close(sv[1]);
	free(want);
	free(buf);
	free(addr);
	free(alen);
	free(iov);
	free(msg);
	free(hdrs);
	free(vec);
	free(cbuf);
}

static int efd;
static atomic_bool events_done;

/*
 * A write of SENTINEL ends the reading: it comes after the last count,
 * again every second until the reader saw one (it too could be lost).
 */
#define SENTINEL (1ULL << 32)

static void *event_writer(void *arg)
{
	static const uint64_t one = 1, end = SENTINEL; /* not uswap memory */

	(void)arg;
	for (unsigned i = 0; i < NEVENT; i++) {
		if (write(efd, &one, sizeof(one)) != sizeof(one)) {
			perror("eventfd write");
			exit(1);
		}
		/* one page: it leaves less often than a datagram's six */
		pause_after(i, 17, 50000);
	}
	for (int tries = 0; !atomic_load(&events_done); tries++) {
		usleep(20000);
		if (tries == 5) {
			/* the reader waits for a count it lost: say so */
			fprintf(stderr, "FAIL eventfd: no sentinel arrived in "
					"5 tries: counts lost\n");
			_exit(1);
		}
		if (write(efd, &end, sizeof(end)) != sizeof(end)) {
			perror("eventfd write");
			exit(1);
		}
		for (int i = 0; i < 50 && !atomic_load(&events_done); i++)
			usleep(20000);
	}
	return NULL;
}

/*
 * events - NEVENT writes of 1 to an eventfd, read into a heap word of its
 * own page by read and readv in turn, blocking: the reader waits in them.
 */
static void events(void)
{
	uint64_t *count = malloc(4096), sum = 0;
	struct iovec *iov = malloc(sizeof(*iov));
	unsigned long reads[2] = {0};
	pthread_t wt;
	int p[2], was;

	/*
	 * The eventfd takes the number of a pipe read into the heap just
	 * before and closed: what the shim knew of that number (a pipe
	 * keeps what a failed copy did not take) must go with the close.
	 */
	if (!count || pipe(p) || write(p[1], "x", 1) != 1 ||
	    read(p[0], count, 1) != 1) {
		perror("pipe");
		exit(1);
	}
	was = p[0];
	close(p[0]);
	close(p[1]);
	if (!iov || (efd = eventfd(0, 0)) < 0) {
		perror("eventfd");
		exit(1);
	}
	if (efd != was)
		fprintf(stderr, "note: the eventfd is %d, not the pipe's %d\n",
			efd, was);
	if (pthread_create(&wt, NULL, event_writer, NULL)) {
		perror("pthread_create");
		exit(1);
	}
	for (unsigned i = 0; sum < SENTINEL; i++) {
		ssize_t n;

		*iov = (struct iovec){count, sizeof(*count)};
		n = i & 1 ? readv(efd, iov, 1)
			  : read(efd, count, sizeof(*count));
		if (n != sizeof(*count)) {
			char what[64];

			snprintf(what, sizeof(what), "%s: %zd (errno %d: %s)",
				 i & 1 ? "readv" : "read", n, errno,
				 strerror(errno));
			failed("eventfd", (uint32_t)sum, what);
			continue;
		}
		sum += *count;
		reads[i & 1]++;
	}
	atomic_store(&events_done, true);
	pthread_join(wt, NULL);
	sum %= SENTINEL;
	printf("eventfd counted %llu of %u (read %lu, readv %lu)\n",
	       (unsigned long long)sum, NEVENT, reads[0], reads[1]);
	if (sum != NEVENT)
		failed("eventfd", (uint32_t)(NEVENT - sum), "counts lost");
	close(efd);
	free(count);
	free(iov);
}

static struct sockaddr_un listen_at;
static atomic_uint refused;   /* connections the server closed unanswered */
static atomic_uint connected; /* connects that returned */

static void *connecter(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < NCONN; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char c = 'q';

		if (fd < 0 || connect(fd, (struct sockaddr *)&listen_at,
				      sizeof(listen_at))) {
			perror("connect");
			exit(1);
		}
		atomic_fetch_add(&connected, 1);
		/* the server answers each connection it accepted */
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1 || c != 'a')
			atomic_fetch_add(&refused, 1);
		close(fd);
		pause_after(i, 53, 20000);
	}
	return NULL;
}

/* connections - NCONN connects, accepted with the address in the heap */
static void connections(void)
{
	struct sockaddr_un *addr = malloc(sizeof(*addr));
	socklen_t *alen = malloc(sizeof(*alen));
	unsigned long got[2] = {0};
	unsigned stalls = 0;
	struct timeval tmo = {.tv_sec = 10};
	pthread_t ct;
	int lfd;

	if (!addr || !alen) {
		perror("malloc");
		exit(1);
	}
	listen_at.sun_family = AF_UNIX;
	snprintf(listen_at.sun_path, sizeof(listen_at.sun_path),
		 "/tmp/uswap-sigbus-recv.%d", (int)getpid());
	unlink(listen_at.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&listen_at, sizeof(listen_at)) ||
	    listen(lfd, 16) ||
	    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo))) {
		perror("listen");
		exit(1);
	}
	if (pthread_create(&ct, NULL, connecter, NULL)) {
		perror("pthread_create");
		exit(1);
	}
	for (unsigned i = 0; got[0] + got[1] < NCONN; i++) {
		char c;
		int fd;

		*alen = sizeof(*addr);
		fd = i & 1 ? accept4(lfd, (struct sockaddr *)addr, alen,
				     SOCK_CLOEXEC)
			   : accept(lfd, (struct sockaddr *)addr, alen);
		if (fd < 0 && errno == EAGAIN) {
			/* as for a datagram: lost only if it connected */
			if (atomic_load(&connected) <= got[0] + got[1] &&
			    ++stalls < STALL_MAX) {
				fprintf(stderr, "note: no connect in 10 s\n");
				continue;
			}
			failed("accept", i,
			       atomic_load(&connected) > got[0] + got[1]
				       ? "none came in 10 s: some lost"
				       : "the client stalled: no connect in "
					 "60 s");
			break;
		}
		if (fd < 0) {
			char what[64];

			snprintf(what, sizeof(what), "errno %d: %s", errno,
				 strerror(errno));
			failed(i & 1 ? "accept4" : "accept", i, what);
			continue;
		}
		if (*alen < sizeof(sa_family_t) || addr->sun_family != AF_UNIX)
			failed(i & 1 ? "accept4" : "accept", i,
			       "a wrong address");
		c = 'a';
		if (read(fd, &c, 1) != 1 || write(fd, "a", 1) != 1)
			failed(i & 1 ? "accept4" : "accept", i,
			       "the client is gone");
		close(fd);
		got[i & 1]++;
	}
	pthread_join(ct, NULL);
	printf("connections accepted %lu (accept %lu, accept4 %lu), %u lost\n",
	       got[0] + got[1], got[0], got[1], atomic_load(&refused));
	if (atomic_load(&refused))
		failed("accept", atomic_load(&refused),
		       "connections closed by the kernel");
	close(lfd);
	unlink(listen_at.sun_path);
	free(addr);
	free(alen);
}

int main(void)
{
	pthread_t ct;

	/* a connection the kernel closed: EPIPE for its client, not death */
	signal(SIGPIPE, SIG_IGN);
	heap = malloc(HEAP);
	if (!heap) {
		perror("malloc");
		return 1;
	}
	memset(heap, 1, HEAP);
	if (pthread_create(&ct, NULL, churn, NULL)) {
		perror("pthread_create");
		return 1;
	}
	datagrams();
	events();
	connections();
	atomic_store(&done, true);
	pthread_join(ct, NULL);
	return failures ? 1 : 0;
}
