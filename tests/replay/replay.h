/*
 * Deterministic race replay (issue 5): a small scripting harness on top of
 * the pager's race-window hooks (src/mm/mm.h, enum mm_hook_point).
 *
 * The races of kernel-swap-history.md section 2 need two or three threads
 * to interleave in one exact order.  The stress tier (tests/mm/stress.c)
 * waits for that order to happen by chance; these tests force it:
 *
 *   - a *hold* is armed on a set of hook points (and optionally an entry and
 *     a thread): the next handler thread that reaches one of them records
 *     its arrival, wakes the script and blocks there until the script
 *     releases it;
 *   - every hook call is logged (thread, point, entry), so the script can
 *     wait for "thread B finished its swap-in" or "someone lost the race"
 *     without holding anyone;
 *   - *touchers* are application threads that read or write one word of a
 *     page (and so fault); the script waits until their access returned.
 *
 * Every wait is on an explicit event (a condition variable broadcast by
 * the hook or the toucher), never a sleep; a generous timeout only guards
 * against a hang and fails the test with the event log.
 *
 * One scenario per program, the policy in argv[1]; `--expect-loss` inverts
 * the verdict for `unsafe` (the test passes only when the loss is caught).
 *
 * Context: the hook runs on handler threads and takes rp.lock only; the
 * script thread never holds rp.lock while it calls into the pager.
 */
#ifndef USWAP_TESTS_REPLAY_REPLAY_H
#define USWAP_TESTS_REPLAY_REPLAY_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

#include "../mm/mmtest.h"
#include "api/options.h"

#ifdef USWAP_TEST_HOOKS /* mm_set_hook exists in test builds only */

/* script waits: hang guard only (the slowest legitimate wait is a tick) */
#define RP_TIMEOUT_S 5
/* a held thread waits at most this long for its release */
#define RP_HOLD_TIMEOUT_S 20

#define PBIT(p)		  (1u << (p))
#define LOSER_POINTS \
	(PBIT(MM_HOOK_SWAPIN_LOSER) | PBIT(MM_HOOK_SWAPIN_FOLIO_WAIT))

static const char *const rp_point_names[] = {
	[MM_HOOK_SWAPIN_CACHE_MISS] = "cache-miss",
	[MM_HOOK_SWAPIN_AFTER_READ] = "after-read",
	[MM_HOOK_SWAPIN_BEFORE_PTE_LOCK] = "before-pte-lock",
	[MM_HOOK_SWAPIN_AFTER_INSTALL] = "after-install",
	[MM_HOOK_RECLAIM_AFTER_UNMAP] = "reclaim-after-unmap",
	[MM_HOOK_RECLAIM_BEFORE_STORE] = "reclaim-before-store",
	[MM_HOOK_SWAPIN_LOSER] = "loser",
	[MM_HOOK_SWAPIN_FOLIO_WAIT] = "folio-wait",
	[MM_HOOK_SWAPIN_DONE] = "swapin-done",
	[MM_HOOK_EVENTS_READ] = "events-read",
	[MM_HOOK_SWAPIN_CLEARED] = "cleared",
};

static inline const char *rp_point_name(unsigned p)
{
	return p < MM_HOOK_NR && rp_point_names[p] ? rp_point_names[p] : "?";
}

struct rp_event {
	pid_t tid;
	unsigned point;
	uint64_t entry;
};

/* A hold: see the file comment.  All fields: rp.lock. */
struct rp_hold {
	const char *name;
	unsigned mask;	/* PBIT()s of the points it catches */
	uint64_t entry; /* 0: any entry */
	pid_t tid;	/* 0: any thread */
	bool armed, arrived, released;
	pid_t by;	/* the thread that arrived */
	unsigned at;	/* the point it arrived at */
	size_t log_pos; /* its arrival in the log */
};

/* An application thread that touches one word of a page once. */
struct toucher {
	const char *name;
	_Atomic uint64_t *word;
	bool write;
	uint64_t wval; /* written (write) */
	uint64_t rval; /* read (both: a write reads first) */
	bool done;     /* rp.lock */
	pid_t tid;     /* rp.lock */
	pthread_t th;
};

#define RP_MAX_HOLDS 16
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* any change: arrival, event, toucher done */
	struct rp_hold holds[RP_MAX_HOLDS];
	int nholds;
	struct rp_event *log; /* every hook call, in order */
	size_t nlog, cap;
	bool expect_loss;
	long problems; /* losses and corruptions seen */
	enum swapin_policy policy;
	struct uswap *u;
	char *page;
	uint64_t entry; /* the entry of the replay, swp_entry_t.val */
} rp = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static inline void rp_dump_log(void)
{
	fprintf(stderr,
		"event log (%zu events; the first 40 and the last "
		"100 of the others):\n",
		rp.nlog);
	for (size_t i = 0; i < rp.nlog; i++) {
		if (i == 40 && rp.nlog > 140)
			fprintf(stderr, "  ...\n");
		if (i >= 40 && i + 100 < rp.nlog)
			continue;
		fprintf(stderr, "  %6zu tid %d %-20s entry %#llx\n", i,
			rp.log[i].tid, rp_point_name(rp.log[i].point),
			(unsigned long long)rp.log[i].entry);
	}
}

static inline struct timespec rp_deadline(int s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += s;
	return ts;
}

/* The hook: log, wake the script, and block if a hold catches us. */
static void rp_hook(enum mm_hook_point point, swp_entry_t entry)
{
	pid_t tid = gettid();
	struct timespec dl;

	pthread_mutex_lock(&rp.lock);
	if (rp.nlog == rp.cap) {
		rp.cap = rp.cap ? 2 * rp.cap : 1024;
		rp.log = realloc(rp.log, rp.cap * sizeof(*rp.log));
		if (!rp.log) {
			fprintf(stderr, "replay: out of memory\n");
			_exit(1);
		}
	}
	rp.log[rp.nlog++] = (struct rp_event){tid, point, entry.val};
	pthread_cond_broadcast(&rp.cond);
	for (int i = 0; i < rp.nholds; i++) {
		struct rp_hold *h = &rp.holds[i];

		if (!h->armed || h->arrived || !(h->mask & PBIT(point)) ||
		    (h->entry && h->entry != entry.val) ||
		    (h->tid && h->tid != tid))
			continue;
		h->arrived = true;
		h->by = tid;
		h->at = point;
		h->log_pos = rp.nlog - 1;
		dl = rp_deadline(RP_HOLD_TIMEOUT_S);
		while (!h->released) {
			if (pthread_cond_timedwait(&rp.cond, &rp.lock, &dl) ==
			    ETIMEDOUT) {
				fprintf(stderr,
					"replay: hold %s never released\n",
					h->name);
				_exit(1);
			}
		}
		break;
	}
	pthread_mutex_unlock(&rp.lock);
}

/* rp_hold - arm a hold; the next matching arrival is caught. */
static inline struct rp_hold *rp_hold(const char *name, unsigned mask,
				      uint64_t entry, pid_t tid)
{
	struct rp_hold *h;

	pthread_mutex_lock(&rp.lock);
	CHECK(rp.nholds < RP_MAX_HOLDS, "too many holds");
	h = &rp.holds[rp.nholds++];
	*h = (struct rp_hold){.name = name,
			      .mask = mask,
			      .entry = entry,
			      .tid = tid,
			      .armed = true};
	pthread_mutex_unlock(&rp.lock);
	return h;
}

/* rp_release - let a held thread go (or disarm a hold nobody took). */
static inline void rp_release(struct rp_hold *h)
{
	pthread_mutex_lock(&rp.lock);
	h->armed = false;
	h->released = true;
	pthread_cond_broadcast(&rp.cond);
	pthread_mutex_unlock(&rp.lock);
}

/* ---- conditions the script waits for ---- */

enum rp_cond_kind { RP_ARRIVED, RP_EVENTS, RP_TOUCHED };

struct rp_cond {
	enum rp_cond_kind kind;
	struct rp_hold *hold; /* RP_ARRIVED */
	unsigned mask;	      /* RP_EVENTS: points */
	uint64_t entry;	      /* RP_EVENTS: this entry; 0: rp.entry */
	pid_t tid, not_tid;   /* RP_EVENTS: by this thread / not by it */
	size_t from;	      /* RP_EVENTS: log position to count from */
	unsigned n;	      /* RP_EVENTS: at least n events */
	struct toucher *t;    /* RP_TOUCHED */
	const char *what;
};

static inline struct rp_cond rp_arrived(struct rp_hold *h)
{
	return (struct rp_cond){.kind = RP_ARRIVED, .hold = h, .what = h->name};
}

static inline struct rp_cond rp_touched(struct toucher *t)
{
	return (struct rp_cond){.kind = RP_TOUCHED, .t = t, .what = t->name};
}

/* @n events at @mask for the replay's entry, from log position @from. */
static inline struct rp_cond rp_events(const char *what, unsigned mask,
				       pid_t tid, pid_t not_tid, size_t from,
				       unsigned n)
{
	return (struct rp_cond){.kind = RP_EVENTS,
				.mask = mask,
				.tid = tid,
				.not_tid = not_tid,
				.from = from,
				.n = n,
				.what = what};
}

/* rp_events for @entry, when a replay involves more than its own. */
static inline struct rp_cond rp_events_on(uint64_t entry, const char *what,
					  unsigned mask, pid_t tid,
					  pid_t not_tid, size_t from,
					  unsigned n)
{
	struct rp_cond c = rp_events(what, mask, tid, not_tid, from, n);

	c.entry = entry;
	return c;
}

static inline size_t rp_log_pos(void)
{
	size_t n;

	pthread_mutex_lock(&rp.lock);
	n = rp.nlog;
	pthread_mutex_unlock(&rp.lock);
	return n;
}

/* Count events matching @c (rp.lock held). */
static inline unsigned rp_count_locked(const struct rp_cond *c, pid_t *last)
{
	unsigned n = 0;

	for (size_t i = c->from; i < rp.nlog; i++) {
		const struct rp_event *e = &rp.log[i];

		if (!(c->mask & PBIT(e->point)) ||
		    e->entry != (c->entry ? c->entry : rp.entry) ||
		    (c->tid && e->tid != c->tid) ||
		    (c->not_tid && e->tid == c->not_tid))
			continue;
		n++;
		if (last)
			*last = e->tid;
	}
	return n;
}

static inline bool rp_true_locked(const struct rp_cond *c)
{
	switch (c->kind) {
	case RP_ARRIVED:
		return c->hold->arrived;
	case RP_TOUCHED:
		return c->t->done;
	case RP_EVENTS:
		return rp_count_locked(c, NULL) >= c->n;
	}
	return false;
}

/*
 * rp_wait_any - wait until one of @conds holds; return its index.  Fails
 * the test (with the log) after RP_TIMEOUT_S: a hang is a failure.
 */
static inline int rp_wait_any(int n, const struct rp_cond *conds)
{
	struct timespec dl = rp_deadline(RP_TIMEOUT_S);
	int hit = -1;

	pthread_mutex_lock(&rp.lock);
	for (;;) {
		for (int i = 0; i < n && hit < 0; i++)
			if (rp_true_locked(&conds[i]))
				hit = i;
		if (hit >= 0)
			break;
		if (pthread_cond_timedwait(&rp.cond, &rp.lock, &dl) ==
		    ETIMEDOUT) {
			fprintf(stderr, "FAIL: timed out (%d s) waiting for:",
				RP_TIMEOUT_S);
			for (int i = 0; i < n; i++)
				fprintf(stderr, " [%s]", conds[i].what);
			fprintf(stderr, "\n");
			rp_dump_log();
			fflush(stderr);
			_exit(1);
		}
	}
	pthread_mutex_unlock(&rp.lock);
	return hit;
}

static inline void rp_wait(struct rp_cond c)
{
	rp_wait_any(1, &c);
}

/* Whether @c holds right now (no waiting). */
static inline bool rp_now(struct rp_cond c)
{
	bool ok;

	pthread_mutex_lock(&rp.lock);
	ok = rp_true_locked(&c);
	pthread_mutex_unlock(&rp.lock);
	return ok;
}

/* ---- touchers ---- */

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	pid_t tid = gettid();
	uint64_t v;

	pthread_mutex_lock(&rp.lock);
	t->tid = tid;
	pthread_mutex_unlock(&rp.lock);
	/* one access: this faults if the page is not present */
	v = atomic_load_explicit(t->word, memory_order_relaxed);
	if (t->write)
		atomic_store_explicit(t->word, t->wval, memory_order_relaxed);
	pthread_mutex_lock(&rp.lock);
	t->rval = v;
	t->done = true;
	pthread_cond_broadcast(&rp.cond);
	pthread_mutex_unlock(&rp.lock);
	return NULL;
}

/*
 * touch_at - start @t on word 0 of @page: read it, and write @wval when
 * @write.  A write reads first, so that a write fault is also a read of
 * the value (the kernel sends one fault for the access either way).
 */
static inline void touch_at(struct toucher *t, const char *name, void *page,
			    bool write, uint64_t wval)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->word = (_Atomic uint64_t *)page;
	t->write = write;
	t->wval = wval;
	CHECK(pthread_create(&t->th, NULL, toucher_main, t) == 0,
	      "pthread_create");
}

/* touch - touch_at on the replay's page. */
static inline void touch(struct toucher *t, const char *name, bool write,
			 uint64_t wval)
{
	touch_at(t, name, rp.page, write, wval);
}

static inline void touch_join(struct toucher *t)
{
	rp_wait(rp_touched(t));
	pthread_join(t->th, NULL);
}

/* ---- the script's narration and verdicts ---- */

static int rp_step_no;

__attribute__((format(printf, 1, 2))) static inline void step(const char *fmt,
							      ...)
{
	va_list ap;

	printf("step %2d: ", ++rp_step_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * problem - the protocol lost or corrupted something.  Under --expect-loss
 * that is the point of the run; otherwise it fails the test (at the end,
 * so that the whole replay is printed).
 */
__attribute__((format(printf, 1, 2))) static inline void
problem(const char *fmt, ...)
{
	va_list ap;

	printf("PROBLEM: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	rp.problems++;
}

/* ---- the pager instance of a replay ---- */

static inline int rp_parse_policy(const char *name, enum swapin_policy *p)
{
	for (int i = 0; i < SWAPIN_NR_POLICIES; i++) {
		if (!strcmp(swapin_policy_name((enum swapin_policy)i), name)) {
			*p = (enum swapin_policy)i;
			return 0;
		}
	}
	return -1;
}

static inline uint64_t rp_pte(void)
{
	uint64_t pte = 0;

	CHECK(mm_page_pte(uswap_mm(rp.u), rp.page, &pte, NULL) == 0,
	      "mm_page_pte");
	return pte;
}

static inline bool rp_pte_is_entry(void)
{
	uint64_t pte = rp_pte();

	return pte_is_swap(pte) && pte_to_swp_entry(pte).val == rp.entry;
}

/*
 * rp_evict - swap the page out to the device (compressed at once, its
 * folio leaves the swap cache).  Return: pages evicted (0 or 1).
 */
static inline long rp_evict(void)
{
	long n = mm_evict_range(uswap_mm(rp.u), rp.page, PAGE_SIZE, true);

	CHECK(n >= 0, "mm_evict_range: %ld", n);
	return n;
}

/* Slots in use right now (no quiesce: a held handler is in flight). */
static inline uint64_t rp_inuse(void)
{
	struct swap_usage us;

	swap_get_usage(uswap_swap_info(rp.u), &us);
	return us.inuse;
}

/*
 * rp_setup - parse argv, open a pager whose device has ONE usable slot (so
 * a freed slot is reused by the next swap-out: the reuse of the ABA is
 * forced, as the model's NSLOTS=1), 3 handler threads reading one event
 * each (each fault message goes to its own handler), no reclaimer, no
 * fault-around or readahead; map one page holding @v0 and swap it out.
 * rp.entry is then its entry E.
 */
static inline void rp_setup(int argc, char **argv, const char *scenario,
			    uint64_t v0)
{
	struct mt_conf c = {.budget_pages = 64,
			    .nslots = 2,
			    .threads = 3,
			    .cache_pages = 0,
			    .no_reclaimer = true,
			    .read_batch = 1};
	uint64_t pte;

	if (argc < 2 || rp_parse_policy(argv[1], &c.policy))
		FAIL("usage: %s POLICY [--expect-loss [--unfenced]]", argv[0]);
	rp.expect_loss = argc > 2 && !strcmp(argv[2], "--expect-loss");
	/* without the remove fence (tests/replay/dontneed.c) */
	c.unfenced_installs = argc > 3 && !strcmp(argv[3], "--unfenced");
	rp.policy = c.policy;
	printf("replay %s: policy %s%s\n", scenario,
	       swapin_policy_name(c.policy),
	       rp.expect_loss ? " (expecting the loss to be caught)" : "");
	rp.u = mt_open(&c);
	rp.page = uswap_map(rp.u, PAGE_SIZE);
	CHECK(rp.page, "uswap_map: %s", strerror(errno));
	((uint64_t *)rp.page)[0] = v0;
	CHECK(rp_evict() == 1, "first swap-out did not evict the page");
	pte = rp_pte();
	CHECK(pte_is_swap(pte), "pte %#llx after swap-out",
	      (unsigned long long)pte);
	rp.entry = pte_to_swp_entry(pte).val;
	mm_set_hook(rp_hook);
	step("page written (%#llx) and swapped out to entry E=%#llx",
	     (unsigned long long)v0, (unsigned long long)rp.entry);
}

static inline bool rp_bypass_retries(void)
{
	return rp.policy == SWAPIN_RETRY || rp.policy == SWAPIN_SLEEP ||
	       rp.policy == SWAPIN_WAITQUEUE;
}

/* The point where this policy's loser stops (its "loser event"). */
static inline unsigned rp_loser_point(void)
{
	return rp.policy == SWAPIN_UNIFIED ? MM_HOOK_SWAPIN_FOLIO_WAIT
					   : MM_HOOK_SWAPIN_LOSER;
}

/*
 * rp_read_and_hold - the opening of most replays: T1 (@t1) reads the page;
 * its handler A misses the swap cache, reads E from the device and is held
 * right after the read (MM_HOOK_SWAPIN_AFTER_READ).
 * Return: the hold; A is its ->by.
 */
static inline struct rp_hold *rp_read_and_hold(struct toucher *t1)
{
	struct rp_hold *h =
		rp_hold("A after its read", PBIT(MM_HOOK_SWAPIN_AFTER_READ),
			rp.entry, 0);

	touch(t1, "T1 (read)", false, 0);
	rp_wait(rp_arrived(h));
	step("T1 faulted; handler A (tid %d) missed the swap cache, read E "
	     "and is held before its install",
	     h->by);
	return h;
}

/*
 * rp_release_and_finish - release the hold of thread @tid and wait until its
 * swap-in is done.  Return: whether it installed a page.
 */
static inline bool rp_release_and_finish(struct rp_hold *h, pid_t tid)
{
	size_t pos = rp_log_pos();

	rp_release(h);
	rp_wait(rp_events("swap-in done", PBIT(MM_HOOK_SWAPIN_DONE), tid, 0,
			  pos, 1));
	return rp_now(rp_events("installed", PBIT(MM_HOOK_SWAPIN_AFTER_INSTALL),
				tid, 0, pos, 1));
}

/*
 * rp_finish - release every hold, check the page holds @want, then the
 * quiet-point checks: swap_validate clean; after unmap no slot in use.
 * Return: the exit code (0 pass, 1 fail) according to --expect-loss.
 */
static inline int rp_finish(uint64_t want)
{
	struct uswap_stats st;
	struct toucher t;
	char report[2048] = "";
	uint64_t inuse;
	int v;

	pthread_mutex_lock(&rp.lock);
	for (int i = 0; i < rp.nholds; i++) {
		rp.holds[i].armed = false;
		rp.holds[i].released = true;
	}
	pthread_cond_broadcast(&rp.cond);
	pthread_mutex_unlock(&rp.lock);

	touch(&t, "final read", false, 0);
	touch_join(&t);
	if (t.rval != want)
		problem("the page reads %#llx, the last value written was "
			"%#llx%s",
			(unsigned long long)t.rval, (unsigned long long)want,
			t.rval == 0 ? " (zeros: a discarded slot was installed)"
				    : " (a stale copy was installed)");
	else
		step("final read: %#llx, the last value written",
		     (unsigned long long)t.rval);
	mm_quiesce(uswap_mm(rp.u));
	mm_set_hook(NULL);
	uswap_stats(rp.u, &st);
	v = swap_validate(uswap_swap_info(rp.u), report, sizeof(report));
	if (v)
		problem("swap_validate: %d violations:\n%s", v, report);
	CHECK(uswap_unmap(rp.u, rp.page, PAGE_SIZE) == 0, "unmap");
	inuse = mt_slots_inuse(rp.u);
	if (inuse)
		problem("%llu slots still in use after unmap",
			(unsigned long long)inuse);
	printf("stats: faults %llu major %llu minor %llu repeated %llu "
	       "swapins %llu swapouts %llu; slots in use after unmap %llu; "
	       "swap_validate %d\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.faults_major,
	       (unsigned long long)st.faults_minor,
	       (unsigned long long)st.faults_repeat,
	       (unsigned long long)st.swapins, (unsigned long long)st.swapouts,
	       (unsigned long long)inuse, v);
	uswap_close(rp.u);
	free(rp.log);
	if (rp.expect_loss) {
		if (rp.problems) {
			printf("PASS: the replay caught policy %s losing "
			       "data\n",
			       swapin_policy_name(rp.policy));
			return 0;
		}
		printf("FAIL: the replay no longer reproduces the loss under "
		       "policy %s\n",
		       swapin_policy_name(rp.policy));
		return 1;
	}
	if (rp.problems) {
		printf("FAIL: policy %s lost or corrupted data (%ld "
		       "problems)\n",
		       swapin_policy_name(rp.policy), rp.problems);
		return 1;
	}
	printf("PASS\n");
	return 0;
}

#endif /* USWAP_TEST_HOOKS */
#endif /* USWAP_TESTS_REPLAY_REPLAY_H */
