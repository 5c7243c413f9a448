/*
 * Replay of fallback's stale in-flight row (src/mm/swapin.c, inflight_del;
 * fixed in 9376429, seen before only under TSan, 2 stress runs in 30).
 * The fallback winner of an entry lists (entry, its private folio) in the
 * first free row of mm->inflight, frees the slot in swapcache_clear, and
 * only then takes its row out.  If a swap-out reuses the slot meanwhile
 * and the new page's winner lists the same entry in a row before ours,
 * taking out "the first row with our entry" takes the other winner's row
 * and leaves ours, whose folio we then free: the next loser on the entry
 * finds that row and takes a reference on a free folio.
 *
 * Three pages: Q, X and P.  The device has two usable slots, so that once
 * Q holds one and X's is pinned, P's swap-out can only reuse X's.
 *
 * usage: replay_fallback_rows fallback [--expect-loss] [--by-entry]
 *
 *   0  Q and X are written and swapped out: Q to E_C, X to E; P written,
 *      stays present
 *   1  C  TQ reads Q: handler C wins E_C, lists (E_C, fC) in row 0, reads,
 *         is held after its read (MM_HOOK_SWAPIN_AFTER_READ)
 *   2  A  TX reads X: handler A wins E, lists (E, fA) in row 1 (row 0 is
 *         C's), reads, is held after its read
 *   3  C  released: installs Q, frees E_C, takes row 0 out.  Q is swapped
 *         out again: E_C (E is pinned by A)
 *   4  A  released: installs X; swapcache_clear frees E; held there,
 *         before its inflight_del (MM_HOOK_SWAPIN_CLEARED)
 *   5  R  P is swapped out: the only free slot is E
 *   6  B  T1 reads P: handler B wins E, lists (E, fB) in row 0, the first
 *         free one, before A's; reads, is held after its read
 *   7  A  released: inflight_del, swapin_finish frees fA.  The rows of E
 *         must now be row 0 alone, with fB.  By entry (--by-entry: the
 *         code before 9376429) A took row 0 out and left row 1 = (E, fA)
 *         with fA free (refcount 0): the replay reports it and stops short
 *         of step 8, whose folio_get would abort on it
 *   8  D  T2 writes v1 to P: handler D finds E pinned (loser), looks E up
 *         in the table and sleeps on fB's lock (fB's refcount goes to 2)
 *   9  B  released: installs P (v0), frees E; D wakes, finds the pte
 *         changed and wakes T2, which writes v1
 *   then Q, X and P are read back: v_Q, v_X and v1 (v0 by entry).
 */
#include "replay.h"

#ifndef USWAP_TEST_HOOKS
int main(void)
{
	fprintf(stderr, "SKIP: needs -Dtest_hooks=true (race-window hooks)\n");
	return 77;
}
#else

#define VQ    0x7171717171717171ULL
#define VX    0x7272727272727272ULL
#define V0    0x7373737373737373ULL
#define V1    0x7474747474747474ULL

#define NROWS (sizeof(((struct mm *)0)->inflight) / sizeof(struct inflight))

struct row {
	int i;
	struct folio *folio;
};

/* The rows of the in-flight table that hold @entry (at most @max). */
static int rows_of(uint64_t entry, struct row *rows, int max)
{
	struct mm *mm = uswap_mm(rp.u);
	int n = 0;

	pthread_mutex_lock(&mm->inflight_lock);
	for (size_t i = 0; i < NROWS; i++) {
		if (mm->inflight[i].entry.val != entry)
			continue;
		if (n < max)
			rows[n] = (struct row){(int)i, mm->inflight[i].folio};
		n++;
	}
	pthread_mutex_unlock(&mm->inflight_lock);
	return n;
}

static bool row_free(size_t i)
{
	struct mm *mm = uswap_mm(rp.u);
	bool free;

	pthread_mutex_lock(&mm->inflight_lock);
	free = swp_entry_none(mm->inflight[i].entry);
	pthread_mutex_unlock(&mm->inflight_lock);
	return free;
}

static int refcount(struct folio *folio)
{
	/* a free folio stays in the pool: type-stable, safe to read */
	return atomic_load(&folio->refcount);
}

/*
 * wait_refcount - wait until @folio's count is @n: a loser's folio_get
 * has no hook of its own after it.  Polls (yielding), bounded like every
 * wait of the harness.
 */
static void wait_refcount(struct folio *folio, int n, const char *what)
{
	struct timespec now, dl = rp_deadline(RP_TIMEOUT_S);

	while (refcount(folio) != n) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > dl.tv_sec) {
			fprintf(stderr,
				"FAIL: timed out (%d s) waiting for: [%s] "
				"(refcount %d)\n",
				RP_TIMEOUT_S, what, refcount(folio));
			rp_dump_log();
			_exit(1);
		}
		sched_yield();
	}
}

static char *map_page(uint64_t v)
{
	char *page = uswap_map(rp.u, PAGE_SIZE);

	CHECK(page, "uswap_map: %s", strerror(errno));
	((uint64_t *)page)[0] = v;
	return page;
}

/* evict - swap @page out (compressed at once).  Return: its entry. */
static uint64_t evict(char *page)
{
	uint64_t pte = 0;
	long n = mm_evict_range(uswap_mm(rp.u), page, PAGE_SIZE, true);

	CHECK(n == 1, "mm_evict_range: %ld", n);
	CHECK(mm_page_pte(uswap_mm(rp.u), page, &pte, NULL) == 0,
	      "mm_page_pte");
	CHECK(pte_is_swap(pte), "pte %#llx after swap-out",
	      (unsigned long long)pte);
	return pte_to_swp_entry(pte).val;
}

/* read_back - read word 0 of @page; a problem unless it is @want. */
static void read_back(char *page, const char *name, uint64_t want)
{
	struct toucher t;

	touch_at(&t, name, page, false, 0);
	touch_join(&t);
	if (t.rval != want)
		problem("%s reads %#llx, not %#llx", name,
			(unsigned long long)t.rval, (unsigned long long)want);
	else
		step("%s reads %#llx", name, (unsigned long long)t.rval);
}

static void setup(int argc, char **argv)
{
	struct mt_conf c = {.budget_pages = 64,
			    .nslots = 3, /* slot 0 is reserved */
			    .threads = 4,
			    .cache_pages = 0,
			    .no_reclaimer = true,
			    .read_batch = 1};

	if (argc < 2 || rp_parse_policy(argv[1], &c.policy) ||
	    c.policy != SWAPIN_FALLBACK)
		FAIL("usage: %s fallback [--expect-loss] [--by-entry]",
		     argv[0]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--expect-loss"))
			rp.expect_loss = true;
		else if (!strcmp(argv[i], "--by-entry"))
			c.inflight_del_by_entry = true;
		else
			FAIL("unknown option %s", argv[i]);
	}
	rp.policy = c.policy;
	printf("replay fallback rows: policy %s%s%s\n",
	       swapin_policy_name(c.policy),
	       c.inflight_del_by_entry ? ", inflight_del by entry" : "",
	       rp.expect_loss ? " (expecting the stale row to be caught)" : "");
	rp.u = mt_open(&c);
}

int main(int argc, char **argv)
{
	struct rp_hold *read_c, *read_a, *cleared_a, *read_b, *loser_d = NULL;
	struct toucher tq, tx, t1, t2;
	struct folio *fa, *fb;
	struct row rows[NROWS];
	char *q, *x, *p;
	uint64_t ec, e;
	bool stale = false;
	size_t pos;
	pid_t a, b, cc;
	int n;

	memset(rows, 0, sizeof(rows));
	setup(argc, argv);
	q = map_page(VQ);
	x = map_page(VX);
	p = map_page(V0);
	ec = evict(q);
	e = evict(x);
	rp.page = p;
	rp.entry = e;
	mm_set_hook(rp_hook);
	step("Q, X and P written; Q swapped out to E_C=%#llx, X to E=%#llx; "
	     "P stays resident",
	     (unsigned long long)ec, (unsigned long long)e);

	read_c = rp_hold("C after its read", PBIT(MM_HOOK_SWAPIN_AFTER_READ),
			 ec, 0);
	touch_at(&tq, "TQ (read Q)", q, false, 0);
	rp_wait(rp_arrived(read_c));
	cc = read_c->by;
	n = rows_of(ec, rows, 1);
	CHECK(n == 1 && rows[0].i == 0, "C's row: %d rows, the first %d", n,
	      rows[0].i);
	step("TQ faulted; handler C (tid %d) won E_C, listed it in row 0 "
	     "(folio %p), read it and is held",
	     cc, (void *)rows[0].folio);

	read_a = rp_hold("A after its read", PBIT(MM_HOOK_SWAPIN_AFTER_READ), e,
			 0);
	touch_at(&tx, "TX (read X)", x, false, 0);
	rp_wait(rp_arrived(read_a));
	a = read_a->by;
	n = rows_of(e, rows, 1);
	CHECK(n == 1 && rows[0].i == 1, "A's row: %d rows, the first %d", n,
	      rows[0].i);
	fa = rows[0].folio;
	step("TX faulted; handler A (tid %d) won E, listed it in row 1 (fA "
	     "%p), read it and is held",
	     a, (void *)fa);

	pos = rp_log_pos();
	rp_release(read_c);
	rp_wait(rp_events_on(ec, "C done", PBIT(MM_HOOK_SWAPIN_DONE), cc, 0,
			     pos, 1));
	touch_join(&tq);
	CHECK(tq.rval == VQ, "TQ read %#llx", (unsigned long long)tq.rval);
	CHECK(row_free(0), "row 0 still taken after C's swap-in");
	CHECK(evict(q) == ec, "Q did not get E_C back");
	step("C released: it installed Q (TQ read %#llx) and freed row 0; Q "
	     "swapped out again to E_C (E is pinned by A)",
	     (unsigned long long)tq.rval);

	cleared_a = rp_hold("A after its swapcache_clear",
			    PBIT(MM_HOOK_SWAPIN_CLEARED), e, a);
	rp_release(read_a);
	rp_wait(rp_arrived(cleared_a));
	touch_join(&tx);
	CHECK(tx.rval == VX, "TX read %#llx", (unsigned long long)tx.rval);
	step("A released: it installed X (TX read %#llx), swapcache_clear "
	     "freed E (slots in use: %llu) and A is held before its "
	     "inflight_del",
	     (unsigned long long)tx.rval, (unsigned long long)rp_inuse());

	CHECK(evict(p) == e, "P was not swapped out to E: the slot was not "
			     "reused");
	step("P swapped out: it got E, the only free slot");

	read_b = rp_hold("B after its read", PBIT(MM_HOOK_SWAPIN_AFTER_READ), e,
			 0);
	touch(&t1, "T1 (read P)", false, 0);
	rp_wait(rp_arrived(read_b));
	b = read_b->by;
	n = rows_of(e, rows, 2);
	CHECK(n == 2 && rows[0].i == 0 && rows[1].i == 1 && rows[1].folio == fa,
	      "the rows of E before A's inflight_del: %d", n);
	fb = rows[0].folio;
	step("T1 faulted; handler B (tid %d) won E, listed it in row 0 (fB "
	     "%p), before A's row 1 (fA %p); read it and is held",
	     b, (void *)fb, (void *)fa);

	pos = rp_log_pos();
	rp_release(cleared_a);
	rp_wait(rp_events("A done", PBIT(MM_HOOK_SWAPIN_DONE), a, 0, pos, 1));
	n = rows_of(e, rows, 2);
	if (n == 1 && rows[0].i == 0 && rows[0].folio == fb) {
		step("A released: it took its own row 1 out and freed fA; "
		     "row 0 (E, fB) is the only row of E");
	} else {
		stale = true;
		for (int i = 0; i < n && i < 2; i++)
			problem("after A's inflight_del row %d holds E with "
				"folio %p (%s, refcount %d%s)",
				rows[i].i, (void *)rows[i].folio,
				rows[i].folio == fa   ? "A's"
				: rows[i].folio == fb ? "B's"
						      : "whose?",
				refcount(rows[i].folio),
				refcount(rows[i].folio) ? ""
							: ": a free folio");
		if (!n)
			problem("after A's inflight_del no row holds E: B's "
				"row 0 was taken out");
		step("A released: its inflight_del took out the wrong row; a "
		     "loser on E would folio_get the first row of E left "
		     "(folio.c aborts on refcount 0): D is not started");
	}

	if (!stale) {
		loser_d = rp_hold("D at its loser's wait",
				  PBIT(MM_HOOK_SWAPIN_LOSER), e, 0);
		touch(&t2, "T2 (write v1)", true, V1);
		rp_wait(rp_arrived(loser_d));
		CHECK(loser_d->by != b, "B lost its own entry");
		rp_release(loser_d);
		wait_refcount(fb, 2, "D's reference on fB");
		step("T2 faulted; handler D (tid %d) lost E to B and sleeps on "
		     "fB's lock (fB refcount 2: B's and D's)",
		     loser_d->by);
	}

	pos = rp_log_pos();
	rp_release(read_b);
	rp_wait(rp_events("B done", PBIT(MM_HOOK_SWAPIN_DONE), b, 0, pos, 1));
	touch_join(&t1);
	/* T1 may read after T2's write: both run once B installed P */
	if (t1.rval != V0 && (stale || t1.rval != V1))
		problem("T1 read %#llx", (unsigned long long)t1.rval);
	if (!stale) {
		rp_wait(rp_events("D done", PBIT(MM_HOOK_SWAPIN_DONE),
				  loser_d->by, 0, pos, 1));
		touch_join(&t2);
		if (t2.rval != V0)
			problem("T2 read %#llx, not v0",
				(unsigned long long)t2.rval);
	}
	n = rows_of(e, rows, 2);
	if (n)
		problem("%d rows of E left after B's swap-in", n);
	step("B released: it installed P (T1 read %#llx)%s; no row of E left",
	     (unsigned long long)t1.rval,
	     stale ? "" : "; D woke after it and T2 wrote v1");

	read_back(q, "Q", VQ);
	read_back(x, "X", VX);
	CHECK(uswap_unmap(rp.u, q, PAGE_SIZE) == 0, "unmap Q");
	CHECK(uswap_unmap(rp.u, x, PAGE_SIZE) == 0, "unmap X");
	return rp_finish(stale ? V0 : V1);
}
#endif
