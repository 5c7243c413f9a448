/*
 * The locale data every new thread reads at birth, kept in memory in the
 * in-thread mode (`uswap run --sigbus`).
 *
 * glibc's start_thread runs __ctype_init with every signal still blocked:
 * it reads the global locale's LC_CTYPE `struct __locale_data`, which
 * setlocale(3) malloc'd, so under the shim it lies in uswap memory.  In the
 * in-thread mode a fault there raises SIGBUS in the new thread; blocked,
 * the kernel kills the process instead (exit 135): python3 under `uswap
 * run --budget 8M --sigbus`, starting threads over a heap pushed out, died
 * so in 4 runs of 4 (tests/run/python3.sh).
 *
 * So after each setlocale(3) that changes LC_CTYPE, in that mode, the page
 * or two holding that struct leave uswap (uswap_disown): plain memory from
 * then on, never evicted, not counted in the budget.  The struct of a
 * locale set before stays plain when a new one replaces it (a page or two
 * per setlocale; glibc keeps loaded locales anyway).
 *
 * The struct is found through duplocale(LC_GLOBAL_LOCALE), whose copy
 * shares the global locale's data (glibc exports no name for it).  What
 * __ctype_init reads is the header and the first values (the class,
 * toupper and tolower tables' addresses): LOCALE_DATA_BYTES cover them.
 *
 * Not covered: a thread that blocks SIGBUS itself and then touches a page
 * not in memory, and other data read with signals blocked (none found in
 * glibc's thread start besides this).
 *
 * Context: the program's thread calling setlocale; uswap_disown loads the
 * pages first (served by uswap's SIGBUS handler in this thread).
 */
#include <locale.h>
#include <stdatomic.h>
#include <stdint.h>

#include "api/api.h"
#include "preload/shim.h"

#define LOCALE_DATA_BYTES 256

static void *next_slot;	    /* setlocale's next definition (shim_next) */
static atomic_ulong n_kept; /* pages disowned; statistics only: relaxed */

unsigned long locale_pages_kept(void)
{
	return atomic_load_explicit(&n_kept, memory_order_relaxed);
}

/* keep_ctype - disown the pages of the global LC_CTYPE data. */
static void keep_ctype(void)
{
	locale_t l = duplocale(LC_GLOBAL_LOCALE);
	uintptr_t d, s, e;
	long n;

	if (!l)
		return;
	d = (uintptr_t)l->__locales[LC_CTYPE];
	freelocale(l);
	if (!d || !shim_owned((void *)d, LOCALE_DATA_BYTES))
		return; /* the built-in C locale: in libc's data */
	s = d & ~(uintptr_t)4095;
	e = (d + LOCALE_DATA_BYTES + 4095) & ~(uintptr_t)4095;
	shim_depth++;
	n = uswap_disown(shim_u, (void *)s, e - s);
	shim_depth--;
	if (n > 0)
		atomic_fetch_add_explicit(&n_kept, (unsigned long)n,
					  memory_order_relaxed);
}

SHIM_EXPORT char *setlocale(int category, const char *locale)
{
	char *(*next)(int, const char *);
	char *ret;

	*(void **)&next = shim_next(&next_slot, "setlocale");
	if (!next)
		return NULL;
	ret = next(category, locale);
	if (ret && locale && (category == LC_ALL || category == LC_CTYPE) &&
	    shim_in_thread_mode())
		keep_ctype();
	return ret;
}
