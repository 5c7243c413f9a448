/*
 * Scenario: uffd_open negotiates the features uswap wants (the four events,
 * THREAD_ID, MOVE, POISON), u.features says exactly what is enabled, a
 * nonblocking fd reads -EAGAIN when no event is pending, and uffd_close
 * closes the fd.  Run unprivileged with USER_ONLY (setpriv), EVENT_FORK
 * must show up in u.refused, not in u.features.
 */
#include <fcntl.h>

#include "uffd_test.h"

int main(void)
{
	uint64_t want = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
			UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
			UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MOVE |
			UFFD_FEATURE_POISON;
	struct uffd u;
	struct uffd_event ev;
	int fd;

	open_or_skip(&u, want, UFFD_OPEN_NONBLOCK);
	CHECK(u.fd >= 0);
	CHECK(fcntl(u.fd, F_GETFD) & FD_CLOEXEC);
	CHECK(fcntl(u.fd, F_GETFL) & O_NONBLOCK);
	/* exactly the wanted features are enabled, minus a refused
	 * EVENT_FORK (UFFDIO_API itself reports every supported feature) */
	CHECK(u.features == (want & ~u.refused));
	CHECK((u.refused & ~(uint64_t)UFFD_FEATURE_EVENT_FORK) == 0);
	CHECK(uffd_read_events(&u, &ev, 1) == -EAGAIN);
	fd = u.fd;
	uffd_close(&u);
	CHECK(u.fd == -1);
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);

	/* a feature this kernel does not know is an error, not dropped */
	CHECK(uffd_open(&u, 1ull << 62, 0) == -EINVAL);
	CHECK(u.fd == -1);
	return 0;
}
