/*
 * swapin.pml - a formal model of uswap's swap-in protocol (DESIGN.md, "The
 * swap-in protocol") and of the older protocols kept as policies, checked
 * with spin (tests/model/spin-check.sh, docs/model.md).
 *
 * One page of one region, i.e. one pte.  It starts swapped out to slot 1.
 * Processes:
 *   fault(me)  NT faulting threads.  Each does OPS accesses; an access reads
 *              the page (and checks it holds the latest value written), then
 *              writes a new value (the writer of kernel-swap-history.md 2.1
 *              step 5).  When the pte is not present the access faults and
 *              the thread runs do_swap_page with the policy's swap-in, then
 *              touches the page again (a repeated fault if it is still not
 *              present).
 *   reclaim    the reclaimer: ROUNDS times, if the page is resident, swap it
 *              out again to a newly allocated slot.  The device has NSLOTS
 *              (1 or 2) slots, so a freed slot is soon allocated again: the
 *              slot reuse of the ABA is forced, not hoped for.
 *   device     the zram-style device discards a slot's data in the same
 *              step as the swap core frees the slot (src/store/device.h: the
 *              swap core calls discard_slot when a slot becomes free, never
 *              concurrently with a store or load of it).  A separate device
 *              process would only add a delay between the free and the
 *              discard, which the contract does not allow after the slot is
 *              allocated again; so the discard is a step of whoever frees.
 *
 * Policies (spin -DPOLICY=X): UNSAFE, RETRY, SLEEP, WAITQUEUE, FALLBACK,
 * UNIFIED (src/mm/policy.h).  SLEEP and WAITQUEUE differ from RETRY only in
 * how long the loser waits before it faults again; the model has no time, so
 * a bounded sleep adds no behaviour and removes none: the three are the same
 * state space and compile to the same model (docs/model.md).  FALLBACK: the
 * bypass with the pin, but a loser that gets -EEXIST takes the cached path
 * (swap_cache_prepare_and_add) and waits on the folio it finds there, or
 * until the bypass's swapcache_clear wakes it when the slot is pinned with
 * no folio.
 *
 * Steps carry the names of the code (src/swap/swap.h, src/store/device.h,
 * the pager's do_swap_page / swapin_lookup / swapin_prepare / swapin_read /
 * swapin_install): the table step -> function is in docs/model.md and must
 * be kept in sync with src/mm/.
 *
 * Locks: the pte lock and the cluster lock are held only for short
 * critical sections that never block, so each critical section is one
 * atomic step.  The folio lock is held across steps (it is held across the
 * read and across the pte-lock section), so it is modelled as a real lock
 * (flocked[]) that blocks.  Order: folio lock -> pte lock -> cluster lock.
 *
 * Properties (assert): no lost update (every read sees the latest value, no
 * stale or discarded page is installed); the swap map is never corrupted
 * (no count below 0, no reference dropped on a slot that belongs to another
 * swap-out, no double free, a cached folio always pins its slot); at the end
 * the map, the cache and the device agree with the pte.  Deadlock: spin's
 * invalid end-state check (every process must reach its end).  Liveness:
 * compiled with -DNP, pan -l [-f] finds any infinite run (there are no
 * progress labels), with or without weak fairness.
 *
 * Ghost variables (the model's, not the code's): latest, gen[], fgen[],
 * ngen; they exist only to state the properties.
 */

#define UNSAFE    0
#define RETRY     1
#define SLEEP     2
#define WAITQUEUE 3
#define FALLBACK  4
#define UNIFIED   5

#ifndef POLICY
#define POLICY UNIFIED
#endif

#ifndef NT
#define NT 2 /* faulting threads */
#endif
#ifndef NSLOTS
#define NSLOTS 1 /* device slots (1 or 2); slot 0 is reserved */
#endif
#ifndef ROUNDS
#define ROUNDS 2 /* swap-outs the reclaimer may do */
#endif
#ifndef OPS
#define OPS 1 /* accesses per thread (read, check, write) */
#endif
/*
 * NOWRITE: the threads only read (the 2.2 variant needs no write).
 * NODISCARD: the device keeps a freed slot's data (a file device; 2.1 alone).
 *
 * ZAP: add a zapper, which discards the page once (MADV_DONTNEED, unmap: the
 * uffd remove event): free_swap_and_cache on a swapped-out pte, then
 * pte = none; the next touch gets a zero page.
 *
 * MUTANT (tests/model/spin-check.sh checks that spin catches each one; the
 * real model never defines it):
 *   1 (UNIFIED): the waiter does not re-check, under the folio lock, that
 *      the folio is still in the swap cache for its entry; it trusts
 *      pte_same alone.
 *   2 (RETRY): the slot is freed when its count reaches 0 although the
 *      bypass pinned it (the pin is ignored by the free).
 *   3 (UNIFIED, with ZAP): the install skips the pte re-check (pte_same).
 *   4 (UNIFIED): the owner unlocks its folio before the device read
 *      completes (a waiter may install a folio that is not uptodate).
 */

#define PRESENT 0  /* pte value: the page is resident */
#define NONE    14 /* pte value: never touched or zapped (zero on touch) */
#define EMPTY   15 /* device slot holding nothing: discarded or never stored */

#define ENOENT 2
#define EEXIST 17

/*
 * Folio ids (0 = none): faulter me owns me, me + NT, ... (NT each); the
 * reclaimer takes NT * NT + r in round r.  A folio that someone still holds
 * a reference to is never handed out again (folio_alloc).
 */
#define NFOLIO (NT * NT + ROUNDS + 1)

byte pte = 1;   /* the pte: PRESENT or the slot that holds the page */
byte mem = EMPTY; /* the process's page, meaningful while pte == PRESENT */
byte latest;    /* ghost: the latest value written to the page */

/* The swap map and the swap table, per slot (index 0 unused). */
byte count[NSLOTS + 1]; /* references from ptes */
bool pin[NSLOTS + 1];   /* the cache pin (SWAP_HAS_CACHE) */
byte cache[NSLOTS + 1]; /* the swap cache: folio id or 0 */
byte gen[NSLOTS + 1];   /* ghost: the swap-out that owns the slot, 0 free */
byte ngen = 1;          /* ghost: the last generation handed out */
byte dev[NSLOTS + 1];   /* the device: the value stored in the slot */

/* Folios, by id (0 = none). */
byte fdata[NFOLIO];
bool flocked[NFOLIO];
bool fuptodate[NFOLIO];
byte fswap[NFOLIO]; /* folio->swap while in the swap cache, else 0 */
byte fgen[NFOLIO];  /* ghost: the swap-out whose copy the folio holds */
byte fref[NFOLIO];  /* references held by faulting threads */

#define IS_FREE(s) (count[s] == 0 && !pin[s] && cache[s] == 0)

/* The slot is free when its count and its pin are both gone: discard_slot. */
inline slot_free_if_unused(s)
{
	if
#if MUTANT == 2
	:: count[s] == 0 && cache[s] == 0 ->
		pin[s] = 0; /* the bypass's pin is ignored */
#else
	:: count[s] == 0 && !pin[s] ->
#endif
		assert(cache[s] == 0); /* a cached folio pins its slot */
#ifndef NODISCARD
		dev[s] = EMPTY; /* discard_slot (zram frees the object) */
#endif
		gen[s] = 0
	:: else
	fi
}

/*
 * swap_free: drop the reference of the pte that is being replaced by a
 * page holding the copy of swap-out fg.  The reference must belong to that
 * same swap-out: dropping one that belongs to another swap-out of the slot
 * (allocated again meanwhile) orphans that swap-out's data.
 */
inline swap_free(s, fg)
{
	assert(count[s] > 0);  /* the count never goes below 0 */
	assert(gen[s] == fg);  /* not another swap-out's reference */
	count[s]--;
	slot_free_if_unused(s)
}

/* swapcache_clear: the bypass drops its pin; frees the slot if count is 0. */
inline swapcache_clear(s)
{
	assert(pin[s] && cache[s] == 0); /* no double clear, no folio */
	pin[s] = 0;
	slot_free_if_unused(s)
}

/* swap_cache_del_folio: remove locked folio f from slot s, drop the pin. */
inline swap_cache_del_folio(f, s)
{
	assert(cache[s] == f && fswap[f] == s && pin[s] && flocked[f]);
	cache[s] = 0;
	fswap[f] = 0;
	pin[s] = 0;
	slot_free_if_unused(s)
}

/*
 * folio_alloc: a new folio that nobody references.  Each thread has NT
 * folios (ids me, me + NT, ...): the other threads hold at most NT - 1
 * references to them, so one is always free.
 */
inline folio_alloc(nf)
{
	atomic {
		nf = me;
		do
		:: fref[nf] == 0 -> break
		:: else -> nf = nf + NT; assert(nf <= NT * NT)
		od;
		assert(fswap[nf] == 0 && !flocked[nf]);
		fref[nf] = 1
	}
}

proctype fault(byte me)
{
	byte e;      /* orig_pte: the entry this fault is about, 0 = none */
	byte f;      /* the folio we install from (we hold a reference) */
	byte nf;     /* our new folio, 0 = none */
	byte err;
	byte ops = 0;

	do
	:: ops == OPS -> break
	:: else ->
access:
		/* The thread touches the page. */
		atomic {
			if
			:: pte == PRESENT ->
				/* no lost update: it reads the latest value */
				assert(mem == latest);
#ifndef NOWRITE
				latest++; /* writer: a new value */
				mem = latest;
#endif
				ops++;
				e = 0
			:: pte == NONE ->
				/* zero fault (UFFDIO_ZEROPAGE), touch again */
				pte = PRESENT;
				mem = 0;
				e = 0
			:: else ->
				/* do_swap_page: the fault; orig_pte = pte */
				e = pte
			fi
		}
		if
		:: e == 0 -> goto next
		:: else
		fi;

		/* ---- do_swap_page: swapin_lookup ---- */
swap_cache_get_folio:
		atomic {
			/* lockless lookup, folio_try_get */
			f = cache[e];
			if
			:: f != 0 -> fref[f]++
			:: else
			fi
		}
		if
		:: f != 0 -> goto swapin_wait
		:: else
		fi;

#if POLICY == UNIFIED
		goto swap_cache_prepare_and_add;
#else
		/* ---- the bypass (no swap cache) ---- */
#if POLICY == UNSAFE
		/* 6.7: __swap_count(entry) == 1, nothing pins the slot */
		if
		:: count[e] != 1 -> goto next /* slot unused: fault again */
		:: else
		fi;
#else
swapcache_prepare:
		/* swapin_prepare: pin with the cache bit (cluster lock) */
		atomic {
			if
			:: pin[e] -> err = EEXIST
			:: !pin[e] && count[e] == 0 -> err = ENOENT
			:: else -> pin[e] = 1; err = 0
			fi
		}
		if
		:: err == ENOENT -> goto next /* slot freed: pte changed */
#if POLICY == FALLBACK
		:: err == EEXIST -> goto swap_cache_prepare_and_add
#else
		:: err == EEXIST -> goto next /* loser: fault again */
#endif
		:: else
		fi;
#endif
		folio_alloc(nf);
bypass_load_page:
		/* swapin_read: load_page into our private folio */
		atomic {
			fdata[nf] = dev[e];
			fgen[nf] = gen[e]
		}
bypass_pte_lock:
		/* swapin_install: pte_lock, pte_same, install (uffd_copy) */
		atomic {
			if
			:: pte == e ->
				assert(fdata[nf] != EMPTY); /* no discarded page */
				assert(fdata[nf] == latest); /* no stale page */
				swap_free(e, fgen[nf]);
				pte = PRESENT;
				mem = fdata[nf]
			:: else /* pte_same failed: drop out */
			fi;
			fref[nf] = 0; /* folio_put */
			nf = 0
		}
#if POLICY != UNSAFE
bypass_swapcache_clear:
		/* after the pte unlock; wakes swapcache_wq (WAITQUEUE) */
		atomic {
			swapcache_clear(e)
		}
#endif
		goto next;
#endif /* POLICY != UNIFIED */

#if POLICY == UNIFIED || POLICY == FALLBACK
		/* ---- swapin_prepare: the cached path, under the cluster lock */
swap_cache_prepare_and_add:
		if
		:: nf == 0 -> folio_alloc(nf)
		:: else
		fi;
		atomic {
			if
			:: cache[e] != 0 ->
				f = cache[e];
				fref[f]++;
				err = EEXIST
			:: cache[e] == 0 && count[e] == 0 -> err = ENOENT
			:: cache[e] == 0 && count[e] != 0 && pin[e] ->
				f = 0; err = EEXIST /* a bypass pinned it */
			:: else ->
				/* insert our new locked folio */
				pin[e] = 1;
				cache[e] = nf;
				fswap[nf] = e;
				flocked[nf] = 1;
				fuptodate[nf] = 0;
				f = nf;
				err = 0
			fi;
			if
			:: err == EEXIST && f != 0 || err == ENOENT ->
				fref[nf] = 0; /* folio_put our new folio */
				nf = 0
			:: else
			fi
		}
		if
		:: err == ENOENT -> goto next /* slot no longer in use */
		:: err == EEXIST && f == 0 ->
			/* wait until the bypass's swapcache_clear wakes us */
			(!pin[e] || cache[e] != 0);
			goto swap_cache_prepare_and_add
		:: err == EEXIST && f != 0 -> goto swapin_wait
		:: else
		fi;
		nf = 0; /* our reference is now f's */
#if MUTANT == 4
		flocked[f] = 0;
#endif
cache_load_page:
		/* swapin_read: load_page into the locked folio, uptodate, unlock */
		atomic {
			fdata[f] = dev[e];
			fgen[f] = gen[e];
			fuptodate[f] = 1;
#if MUTANT != 4
			flocked[f] = 0 /* folio_unlock: waiters wake */
#else
			skip
#endif
		}
#endif
swapin_wait:
		/* ---- swapin_install: the folio f is (or was) cached for e */
		atomic {
			!flocked[f] -> flocked[f] = 1 /* folio_lock */
		}
#if MUTANT != 1
		if
		:: !(cache[e] == f && fswap[f] == e) ->
			/* the folio left the swap cache: fault again */
			atomic {
				flocked[f] = 0;
				fref[f]--
			}
			goto next
		:: else
		fi;
#endif
cache_pte_lock:
		atomic {
			if
#if MUTANT == 3
			:: true ->
#else
			:: pte == e ->
#endif
				assert(fuptodate[f]);
				assert(fdata[f] != EMPTY); /* no discarded page */
				assert(fdata[f] == latest); /* no stale page */
				swap_free(e, fgen[f]);
				pte = PRESENT; /* install (uffd_copy) */
				mem = fdata[f]
			:: else /* pte_same failed: drop out */
			fi
		}
folio_free_swap:
		/* the folio leaves the cache when the count is 0; unlock, put */
		atomic {
			if
			:: cache[e] == f && fswap[f] == e && count[e] == 0 ->
				swap_cache_del_folio(f, e)
			:: else
			fi;
			flocked[f] = 0;
			fref[f]--
		}
next:
		e = 0
	od
}

#ifdef ZAP
/*
 * free_swap_and_cache: the pte holding s goes away.  Drop its reference; if
 * the cached folio is now the slot's only user and can be locked without
 * waiting, delete it (the slot is freed).
 */
inline free_swap_and_cache(s)
{
	assert(count[s] > 0);
	count[s]--;
	if
	:: count[s] == 0 && cache[s] != 0 && !flocked[cache[s]] ->
		flocked[cache[s]] = 1; /* folio_trylock */
		f = cache[s];
		swap_cache_del_folio(f, s);
		flocked[f] = 0
	:: else -> slot_free_if_unused(s)
	fi
}

proctype zap()
{
	byte f;

	atomic {
		if
		:: pte != PRESENT && pte != NONE -> free_swap_and_cache(pte)
		:: else
		fi;
		pte = NONE; /* the page's contents are gone: zero on next touch */
		mem = EMPTY;
		latest = 0
	}
}
#endif

proctype reclaim()
{
	byte r = 0;
	byte s;
	byte R; /* this round's folio */

	do
	:: r == ROUNDS -> break
	:: else ->
		r++;
		R = NT * NT + r;
swap_alloc:
		/* the page is the victim if resident; allocate a pinned slot */
		atomic {
			if
			:: pte != PRESENT -> s = 0 /* not resident: nothing to do */
			:: pte == PRESENT && IS_FREE(1) -> s = 1
#if NSLOTS > 1
			:: pte == PRESENT && IS_FREE(2) -> s = 2
#endif
			:: else -> s = 0 /* -ENOSPC */
			fi;
			if
			:: s != 0 ->
				pin[s] = 1;
				ngen++;
				gen[s] = ngen
			:: else
			fi
		}
		if
		:: s == 0 -> goto skip_round
		:: else
		fi;
		assert(fswap[R] == 0 && !flocked[R]);
reclaim_unmap:
		/*
		 * Under the pte lock: move the page into our locked folio,
		 * swap_cache_add_folio, swap_duplicate, pte = the entry.  (The
		 * kernel adds to the cache first, then unmaps; nobody can find
		 * the locked folio of a fresh slot in between but a stale
		 * fault, which would wait on its lock: one step is the same.)
		 */
		atomic {
			if
			:: pte == PRESENT ->
				fdata[R] = mem;
				fgen[R] = gen[s];
				fuptodate[R] = 1;
				flocked[R] = 1;
				cache[s] = R;
				fswap[R] = s;
				count[s] = 1;
				pte = s;
				mem = EMPTY
			:: else ->
				swapcache_clear(s);
				s = 0
			fi
		}
		if
		:: s == 0 -> goto skip_round
		:: else
		fi;
store_page:
		/* write the page to the device; writeback done: unlock */
		atomic {
#ifndef NODISCARD
			assert(dev[s] == EMPTY); /* stored once after allocation */
#endif
			dev[s] = fdata[R];
			flocked[R] = 0
		}
		/* drop the folio from the swap cache (the page is now cold) */
		atomic {
			!flocked[R] -> flocked[R] = 1 /* folio_lock */
		}
reclaim_del_folio:
		atomic {
			if
			:: cache[s] == R && fswap[R] == s ->
				swap_cache_del_folio(R, s)
			:: else /* a fault mapped it and freed it already */
			fi;
			flocked[R] = 0
		}
skip_round:
		s = 0
	od
}

init
{
	byte i;

	atomic {
		/* the page was swapped out to slot 1 with value 0 */
		count[1] = 1;
		gen[1] = 1;
		dev[1] = 0;
#if NSLOTS > 1
		dev[2] = EMPTY;
#endif
		i = 1;
		do
		:: i <= NT -> run fault(i); i++
		:: else -> break
		od;
		run reclaim();
#ifdef ZAP
		run zap()
#endif
	}

	/* quiet point: every thread is done (swap_validate) */
	(_nr_pr == 1);
	assert(pte == PRESENT || pte == NONE ||
	       (count[pte] == 1 && dev[pte] == latest));
	i = 1;
	do
	:: i <= NSLOTS ->
		assert(cache[i] == 0 && !pin[i]);
		assert(count[i] == (pte == i -> 1 : 0));
#ifndef NODISCARD
		assert(count[i] != 0 || dev[i] == EMPTY);
#endif
		i++
	:: else -> break
	od;
	if
	:: pte == PRESENT -> assert(mem == latest)
	:: else
	fi
}
