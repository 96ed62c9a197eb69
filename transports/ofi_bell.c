/* Doorbells, for providers whose completion queue gives no fd to sleep on (libfabric's shm):
 * without one a waiting endpoint could only nap and look again (200 us in a loop of its own,
 * 1 ms in pmixd's), which every step of a fence paid. Each endpoint binds a datagram socket in
 * the abstract namespace, named by a random id carried in its address; a send to a peer is
 * followed by an empty datagram to the peer's bell, and an endpoint with nothing of its own in
 * flight sleeps on its bell. The bell is emptied before the completion queue is read, so a
 * ring that comes after that read keeps the socket readable: no wake-up is lost. Peers whose
 * bells cannot be reached (another network namespace) turn bells off for the endpoint, which
 * then naps as before. FMX_OFI_BELL=0 turns them off. */
#include "ofi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t bell_name(uint64_t id, struct sockaddr_un *sa)
{
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    /* abstract: sun_path[0] is NUL, the name is the bytes after it */
    n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "fmx-bell-%016llx",
                 (unsigned long long)id);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

void fmx_bell_open(struct ofi_tp *tp)
{
    struct ofi_bell *b = &tp->bell;
    struct sockaddr_un sa;

    b->fd = -1;
    if (tp->wait_fd >= 0 || fmx_env_u64("FMX_OFI_BELL", 1) == 0)
        return;
    for (int tries = 0; tries < 4; tries++) {
        if (getrandom(&b->id, sizeof(b->id), 0) != sizeof(b->id) || b->id == 0)
            continue;
        b->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (b->fd < 0)
            return;
        if (bind(b->fd, (struct sockaddr *)&sa, bell_name(b->id, &sa)) == 0)
            return;
        close(b->fd);
        b->fd = -1;
    }
}

size_t fmx_bell_put_addr(const struct ofi_tp *tp, uint8_t *out)
{
    uint64_t id = tp->bell.fd >= 0 ? tp->bell.id : 0;

    memcpy(out, &id, BELL_ADDR_LEN);
    return BELL_ADDR_LEN;
}

/* Probes every peer's bell with one ring; any that cannot be reached turns bells off. */
void fmx_bell_add_peers(struct ofi_tp *tp, uint32_t count, const void *const *addrs,
                        const size_t *lens)
{
    struct ofi_bell *b = &tp->bell;

    if (b->fd < 0)
        return;
    b->ids = calloc(count, sizeof(*b->ids));
    b->owed = calloc(count, 1);
    if (!b->ids || !b->owed)
        goto off;
    for (uint32_t i = 0; i < count; i++) {
        struct sockaddr_un sa;

        memcpy(&b->ids[i], (const uint8_t *)addrs[i] + lens[i] - BELL_ADDR_LEN, BELL_ADDR_LEN);
        if (b->ids[i] == 0 ||
            (sendto(b->fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sa, bell_name(b->ids[i], &sa)) <
                 0 &&
             errno != EAGAIN)) {
            fmx_log(FMX_LOG_INFO, "ofi",
                    "peer %u's doorbell cannot be reached (%s): waiting by short naps", i,
                    b->ids[i] ? strerror(errno) : "it has none");
            goto off;
        }
    }
    b->npeers = count;
    b->active = 1;
    return;
off:
    free(b->ids);
    free(b->owed);
    b->ids = NULL;
    b->owed = NULL;
}

void fmx_bell_owe(struct ofi_tp *tp, uint32_t peer)
{
    if (tp->bell.active && peer < tp->bell.npeers && peer != tp->self) {
        tp->bell.owed[peer] = 1;
        tp->bell.nowed++;
    }
}

void fmx_bell_ring_owed(struct ofi_tp *tp)
{
    struct ofi_bell *b = &tp->bell;

    for (uint32_t i = 0; b->nowed && i < b->npeers; i++) {
        struct sockaddr_un sa;

        if (!b->owed[i])
            continue;
        b->owed[i] = 0;
        /* a full socket (EAGAIN) has rings unread already; a gone peer needs none */
        (void)sendto(b->fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sa, bell_name(b->ids[i], &sa));
    }
    b->nowed = 0;
}

int fmx_bell_drain(struct ofi_tp *tp)
{
    char c;
    int n = 0;

    while (recv(tp->bell.fd, &c, 1, MSG_DONTWAIT) >= 0 && n < 1024)
        n++;
    return n;
}

void fmx_bell_close(struct ofi_tp *tp)
{
    if (tp->bell.fd >= 0)
        close(tp->bell.fd);
    tp->bell.fd = -1;
    free(tp->bell.ids);
    free(tp->bell.owed);
    tp->bell.ids = NULL;
    tp->bell.owed = NULL;
    tp->bell.active = 0;
}
