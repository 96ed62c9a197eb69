/* Sleeping until a transport has work: poll() on its wait fd when it has one, otherwise a short
 * nap so that a caller looping on progress does not spin a core. */
#include "fmx_transport.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

/* Without a wait fd we cannot know when a peer wrote; this bounds the added latency. */
#define NAP_US 200

int fmx_transport_wait(fmx_transport_t *t, int timeout_ms)
{
    int fd = t->ops->wait_fd(t);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;

    if (timeout_ms == 0 || t->ops->prepare_wait(t) == -EAGAIN)
        return 0;
    if (fd < 0) {
        struct timespec ts = {0, NAP_US * 1000};
        if (timeout_ms > 0 && timeout_ms * 1000 < NAP_US)
            ts.tv_nsec = timeout_ms * 1000000L;
        nanosleep(&ts, NULL);
        return 0;
    }
    rc = poll(&pfd, 1, timeout_ms);
    return rc < 0 && errno != EINTR ? -errno : 0;
}
