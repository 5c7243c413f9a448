/*
 * Published statistics: what `uswap stat PID` reads from a running program.
 *
 * An instance opened with USWAP_F_PUBLISH creates a memfd named
 * "uswap-stats" holding one struct uswap_published, mapped shared, and a
 * publisher thread that refreshes it every PUBLISH_INTERVAL_NS.  A reader
 * finds it among /proc/PID/fd (a link to "/memfd:uswap-stats (deleted)"),
 * which the kernel lets the program's own user (and root) open: no file is
 * left behind when the program dies, and nothing else can read it.
 *
 * Consistency: a sequence count (a seqlock).  The publisher makes @seq odd,
 * writes, makes it even again; a reader copies between two equal even
 * reads of @seq.
 *
 * Fork: the memfd mapping is shared, so a child would write its numbers
 * into its parent's record: the child gets its own memfd and publisher
 * (publish.c registers its own pthread_atfork handlers).
 */
#ifndef USWAP_API_PUBLISH_H
#define USWAP_API_PUBLISH_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "uswap.h"

#define PUBLISH_NAME	    "uswap-stats"
#define PUBLISH_MAGIC	    UINT64_C(0x7374617470617773) /* "uswapsta" */
#define PUBLISH_VERSION	    1
#define PUBLISH_INTERVAL_NS 250000000L

struct uswap_published {
	uint64_t magic;	  /* PUBLISH_MAGIC */
	uint32_t version; /* PUBLISH_VERSION */
	uint32_t size;	  /* sizeof(struct uswap_published) */
	_Atomic uint64_t seq;
	uint64_t pid;	       /* the publishing process */
	uint64_t updated_ns;   /* CLOCK_REALTIME of the last refresh */
	uint64_t interval_ns;  /* refresh period */
	char device[64];       /* store spec */
	char policy[16];       /* swap-in policy */
	struct uswap_stats st; /* as uswap_stats() returned it */
};

struct uswap;
struct publisher;

/*
 * publish_start - create the memfd and start the publisher thread for @u.
 * Return: 0 and *@out; -errno (memfd_create, mmap, pthread_create).
 * Context: uswap_open, after the pager is up.
 */
int publish_start(struct uswap *u, const char *device, const char *policy,
		  struct publisher **out);

/* publish_stop - stop the thread, unmap and close the memfd.  NULL: no-op */
void publish_stop(struct publisher *p);

/*
 * publish_read - a consistent copy of the record behind @fd (a descriptor
 * of someone's uswap-stats memfd).
 * Return: 0; -EINVAL (not a uswap record or another version: *@out
 * untouched); -EAGAIN (being created, or the writer kept changing it);
 * -errno of mmap.
 */
int publish_read(int fd, struct uswap_published *out);

#endif /* USWAP_API_PUBLISH_H */
