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

#endif /* USWAP_LIB_THREAD_H */
