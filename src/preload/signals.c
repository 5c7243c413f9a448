/*
 * uswap's SIGBUS handler stays first in the in-thread mode (`uswap run
 * --sigbus`).
 *
 * There every fault on uswap memory is a SIGBUS served by uswap's handler
 * (src/mm/fault.c).  A program that installs its own SIGBUS handler
 * replaces it, and then its handler gets uswap's faults: redis-server
 * installs one for crash reports (setupSigSegvAction) and died at startup
 * under `uswap run --sigbus`, "crashed by signal: 7, si_code: 2" in
 * mimalloc, in every run.
 *
 * So the shim interposes sigaction: for SIGBUS, while uswap's handler is
 * installed, the program's handler goes behind it (uswap_sigbus_chain):
 * uswap's handler passes it every SIGBUS that is not a fault of uswap's
 * (a poisoned page, an address in no region), and the program reads back
 * its own handler.  The handler's sa_mask and flags other than SA_SIGINFO
 * do not apply (it runs inside uswap's).  Outside that mode, and for every
 * other signal, sigaction is libc's.
 *
 * signal(2) (and bsd_signal, its other name) reaches libc's __sigaction
 * without the PLT, so it is interposed too, as glibc defines it: the
 * handler with SA_RESTART, SIGBUS itself in its mask (which ours drops).
 * So are sigset(3) and sysv_signal(3), the System V ones: sysv_signal's
 * one-shot flag (SA_RESETHAND) is one of the flags that do not apply, the
 * program's handler stays installed after its first SIGBUS; sigset's
 * SIG_HOLD blocks nothing (below) and answers what is installed.
 *
 * And SIGBUS is never blocked there.  A fault in a thread that blocks
 * SIGBUS is a kill (the kernel resets a blocked forced signal to its
 * default action), and libraries block every signal on purpose: jemalloc
 * starts its background thread so, in redis-server, and glibc's
 * pthread_create callocs the new thread's dtv with the caller's mask, in
 * the heap: redis died at startup so (exit 135) in 3 runs of 3 of
 * run-redis's --sigbus part under meson's environment, and the thread
 * itself, blocking everything, would die at its first fault too.  So in
 * that mode the shim's sigprocmask and pthread_sigmask leave SIGBUS out of
 * what they block (SIG_BLOCK, SIG_SETMASK), and sigaction leaves it out of
 * every handler's sa_mask.  POSIX leaves a fault-generated SIGBUS that is
 * blocked undefined anyway; only a program that blocks SIGBUS to take a
 * kill(2)-sent one synchronously (sigwait) would notice.
 *
 * Context: any program thread (uswap_sigbus_chain takes a mutex: not
 * async-signal-safe, as sigaction is; a program calling sigaction(SIGBUS)
 * from a signal handler could deadlock here).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "api/api.h"
#include "preload/shim.h"

int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act,
			  struct sigaction *old)
{
	struct sigaction own;

	if (!shim_in_thread_mode())
		return __sigaction(sig, act, old);
	if (act && sigismember(&act->sa_mask, SIGBUS) == 1) {
		own = *act;
		sigdelset(&own.sa_mask, SIGBUS);
		act = &own;
	}
	if (sig == SIGBUS && uswap_sigbus_chain(act, old))
		return 0;
	return __sigaction(sig, act, old);
}

/*
 * without_sigbus - @set, or in the in-thread mode a copy in @own without
 * SIGBUS when @how blocks it.
 */
static const sigset_t *without_sigbus(int how, const sigset_t *set,
				      sigset_t *own)
{
	if (!set || how == SIG_UNBLOCK || sigismember(set, SIGBUS) != 1 ||
	    !shim_in_thread_mode())
		return set;
	*own = *set;
	sigdelset(own, SIGBUS);
	return own;
}

SHIM_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	static void *slot;
	int (*next)(int, const sigset_t *, sigset_t *);
	sigset_t own;

	*(void **)&next = shim_next(&slot, "sigprocmask");
	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	return next(how, without_sigbus(how, set, &own), old);
}

SHIM_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	static void *slot;
	int (*next)(int, const sigset_t *, sigset_t *);
	sigset_t own;

	*(void **)&next = shim_next(&slot, "pthread_sigmask");
	if (!next)
		return ENOSYS;
	return next(how, without_sigbus(how, set, &own), old);
}

/* libc_disposition - libc's @name(@sig, @disp): for what is not ours */
static sighandler_t libc_disposition(void **slot, const char *name, int sig,
				     sighandler_t disp)
{
	sighandler_t (*next)(int, sighandler_t);

	*(void **)&next = shim_next(slot, name);
	if (!next) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	return next(sig, disp);
}

/*
 * chain_bus_handler - @handler with @flags for SIGBUS, through the
 * sigaction above; the handler it replaced, or SIG_ERR.
 */
static sighandler_t chain_bus_handler(sighandler_t handler, int flags)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* signal - glibc's BSD semantics */
SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	static void *slot;

	if (sig != SIGBUS || !shim_in_thread_mode())
		return libc_disposition(&slot, "signal", sig, handler);
	return chain_bus_handler(handler, SA_RESTART);
}

sighandler_t bsd_signal(int sig, sighandler_t handler);

SHIM_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return signal(sig, handler);
}

/* sysv_signal - glibc's System V semantics, but the one shot (file comment) */
SHIM_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	static void *slot;

	if (sig != SIGBUS || !shim_in_thread_mode())
		return libc_disposition(&slot, "sysv_signal", sig, handler);
	if (handler == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	return chain_bus_handler(handler, SA_RESETHAND | SA_NODEFER);
}

/*
 * sigset - glibc's: for SIGBUS in the in-thread mode, SIG_HOLD blocks
 * nothing (as pthread_sigmask would not), so the answer is the handler
 * installed, never SIG_HOLD.
 */
SHIM_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
	static void *slot;
	struct sigaction cur;
	sighandler_t old;
	sigset_t bus, was;

	if (sig != SIGBUS || !shim_in_thread_mode())
		return libc_disposition(&slot, "sigset", sig, disp);
	if (disp == SIG_HOLD)
		return sigaction(sig, NULL, &cur) < 0 ? SIG_ERR
						      : cur.sa_handler;
	old = chain_bus_handler(disp, 0);
	if (old == SIG_ERR)
		return SIG_ERR;
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	if (pthread_sigmask(SIG_UNBLOCK, &bus, &was) != 0)
		return SIG_ERR;
	return sigismember(&was, SIGBUS) == 1 ? SIG_HOLD : old;
}
