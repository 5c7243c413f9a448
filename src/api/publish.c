/*
 * The statistics publisher (publish.h).
 *
 * Locks: publishers_lock (a leaf outside the pager's locks) protects the
 * list of publishers and every publisher's @stop, and is held by a
 * publisher thread while it refreshes its record.  The fork handlers hold it
 * across fork(2): no publisher is mid-refresh in the copy, and
 * mm_get_stats reads only atomics and the store's counters.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "api/publish.h"
#include "lib/alloc.h"
#include "lib/thread.h"

struct publisher {
	struct uswap *u;
	int fd;			     /* the memfd */
	struct uswap_published *rec; /* its shared mapping */
	pthread_t thread;
	pthread_cond_t cond;	/* with publishers_lock: stop */
	bool stop;		/* publishers_lock */
	struct publisher *next; /* publishers_lock */
	char device[64], policy[16];
};

static pthread_mutex_t publishers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct publisher *publishers; /* publishers_lock */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Context: publishers_lock held (one writer per record). */
static void refresh_locked(struct publisher *p)
{
	struct uswap_published *r = p->rec;
	struct uswap_stats st;

	uswap_stats(p->u, &st);
	atomic_fetch_add_explicit(&r->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r->st = st;
	r->updated_ns = realtime_ns();
	atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);
}

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	struct timespec until;

	pthread_setname_np(pthread_self(), "uswap-publish");
	pthread_mutex_lock(&publishers_lock);
	while (!p->stop) {
		refresh_locked(p);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += PUBLISH_INTERVAL_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &publishers_lock, &until);
	}
	pthread_mutex_unlock(&publishers_lock);
	return NULL;
}

/* The memfd, its record and the thread.  Context: publishers_lock held. */
static int publisher_begin_locked(struct publisher *p)
{
	pthread_condattr_t ca;
	int ret;

	p->fd = memfd_create(PUBLISH_NAME, MFD_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	if (ftruncate(p->fd, sizeof(*p->rec)) < 0) {
		ret = -errno;
		goto fail_fd;
	}
	p->rec = mmap(NULL, sizeof(*p->rec), PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->fd, 0);
	if (p->rec == MAP_FAILED) {
		ret = -errno;
		goto fail_fd;
	}
	p->rec->magic = PUBLISH_MAGIC;
	p->rec->version = PUBLISH_VERSION;
	p->rec->size = sizeof(*p->rec);
	p->rec->pid = (uint64_t)getpid();
	p->rec->interval_ns = PUBLISH_INTERVAL_NS;
	snprintf(p->rec->device, sizeof(p->rec->device), "%s", p->device);
	snprintf(p->rec->policy, sizeof(p->rec->policy), "%s", p->policy);
	/*
	 * The first numbers now, not at the thread's first turn: the record
	 * is visible in /proc/PID/fd from here on, and under load the thread
	 * ran late enough for `uswap stat` to show budget 0 (api-publish in
	 * CI, stop 15).  Our caller holds publishers_lock, as refresh wants.
	 */
	refresh_locked(p);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->stop = false;
	ret = -thread_start(&p->thread, publisher_main, p);
	if (ret < 0)
		goto fail_map;
	return 0;
fail_map:
	pthread_cond_destroy(&p->cond);
	munmap(p->rec, sizeof(*p->rec));
fail_fd:
	close(p->fd);
	return ret;
}

static void publish_fork_prepare(void)
{
	pthread_mutex_lock(&publishers_lock);
}

static void publish_fork_parent(void)
{
	pthread_mutex_unlock(&publishers_lock);
}

/*
 * The child: its publishers' threads are gone and their records are the
 * parent's (a shared mapping).  Leave those to the parent and publish
 * afresh.  A publisher that cannot restart stays silent (its @rec is NULL);
 * the program itself is not disturbed.
 */
static void publish_fork_child(void)
{
	for (struct publisher *p = publishers; p; p = p->next) {
		munmap(p->rec, sizeof(*p->rec));
		close(p->fd);
		p->rec = NULL;
		p->fd = -1;
		if (publisher_begin_locked(p) < 0) {
			p->rec = NULL;
			p->fd = -1;
		}
	}
	pthread_mutex_unlock(&publishers_lock);
}

static void publish_atfork_register(void)
{
	pthread_atfork(publish_fork_prepare, publish_fork_parent,
		       publish_fork_child);
}

int publish_start(struct uswap *u, const char *device, const char *policy,
		  struct publisher **out)
{
	struct publisher *p;
	int ret;

	pthread_once(&atfork_once, publish_atfork_register);
	p = priv_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->u = u;
	snprintf(p->device, sizeof(p->device), "%s", device);
	snprintf(p->policy, sizeof(p->policy), "%s", policy);
	pthread_mutex_lock(&publishers_lock);
	ret = publisher_begin_locked(p);
	if (ret == 0) {
		p->next = publishers;
		publishers = p;
	}
	pthread_mutex_unlock(&publishers_lock);
	if (ret < 0) {
		priv_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void publish_stop(struct publisher *p)
{
	struct publisher **pp;
	bool running;

	if (!p)
		return;
	pthread_mutex_lock(&publishers_lock);
	for (pp = &publishers; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	running = p->rec != NULL;
	p->stop = true;
	if (running)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&publishers_lock);
	if (running) {
		pthread_join(p->thread, NULL);
		pthread_cond_destroy(&p->cond);
		munmap(p->rec, sizeof(*p->rec));
		close(p->fd);
	}
	priv_free(p);
}

int publish_read(int fd, struct uswap_published *out)
{
	const struct uswap_published *r;
	struct uswap_published copy;
	int ret = -EAGAIN;

	r = mmap(NULL, sizeof(*r), PROT_READ, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return -errno;
	if (r->magic != PUBLISH_MAGIC || r->version != PUBLISH_VERSION ||
	    r->size != sizeof(*r)) {
		ret = -EINVAL;
		goto out;
	}
	for (int tries = 0; tries < 1000; tries++) {
		uint64_t s1, s2;

		s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
		if (s1 == 0)
			break; /* being created: no numbers yet */
		if (s1 & 1) {
			usleep(100);
			continue;
		}
		memcpy(&copy, (const void *)r, sizeof(copy));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
		if (s1 == s2) {
			*out = copy;
			ret = 0;
			break;
		}
	}
out:
	munmap((void *)r, sizeof(*r));
	return ret;
}
