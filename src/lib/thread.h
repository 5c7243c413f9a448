/*
 * uswap's own threads (fault handlers, the reclaimer, the statistics
 * publisher) are started here, never with a bare pthread_create.
 */
#ifndef USWAP_LIB_THREAD_H
#define USWAP_LIB_THREAD_H

#include <pthread.h>

/*
 * thread_start - pthread_create(@th, NULL, @fn, @arg) for a thread of
 * uswap's own: it runs with every asynchronous signal blocked.  0 or an
 * error number (as pthread_create).
 * Context: any thread; the caller's signal mask is the same on return.
 */
int thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

/*
 * thread_pin_self - run the calling thread on CPU @cpu only; @cpu < 0
 * leaves its affinity as it is.  0 or an error number (sched_setaffinity's:
 * EINVAL when @cpu is not one the thread may use).
 */
int thread_pin_self(int cpu);

/*
 * thread_last_cpu - the highest-numbered CPU the calling thread may run
 * on, or -1 when it may run on one CPU only (or the set is unreadable):
 * there is then nothing to choose.
 */
int thread_last_cpu(void);

#endif /* USWAP_LIB_THREAD_H */
