/* Sleeping until a transport has work: poll() on its wait fd when it has one, otherwise a short
 * nap so that a caller looping on progress does not spin a core. */
#include "fmx_transport.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

int fmx_transport_wait(fmx_transport_t *t, int timeout_ms)
{
    int fd = t->ops->wait_fd(t);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    struct timespec ts, *tsp = NULL;
    int rc, bound_us;

    if (timeout_ms == 0 || (bound_us = t->ops->prepare_wait(t)) == -EAGAIN)
        return 0;
    /* without a wait fd we cannot know when a peer wrote: FMX_NAP_US bounds the added latency */
    if (fd < 0)
        bound_us = FMX_NAP_US;
    if (bound_us > 0 && (timeout_ms < 0 || (long)timeout_ms * 1000 > bound_us))
        ts = (struct timespec){0, bound_us * 1000L}, tsp = &ts;
    else if (timeout_ms >= 0)
        ts = (struct timespec){timeout_ms / 1000, (timeout_ms % 1000) * 1000000L}, tsp = &ts;
    if (fd < 0) {
        nanosleep(tsp, NULL);
        return 0;
    }
    rc = ppoll(&pfd, 1, tsp, NULL);
    return rc < 0 && errno != EINTR ? -errno : 0;
}
