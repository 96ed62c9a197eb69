/* Start-up reachability: as soon as its engine is up, and while its ranks start, a daemon asks
 * each daemon it meets in fences for an empty answer over the fabric (a direct modex request of
 * the key "fmx:reach", which every daemon answers at once), bounded by FMX_REACH_TIMEOUT_MS
 * (5000; 0: no check). A daemon that does not answer in time, or whose path fails, ends the job
 * with one sentence naming both nodes and hosts, the peer's fabric address and the provider,
 * and what to check: a firewall between the hosts, or the interface the provider uses. Without
 * it a job whose daemons cannot reach each other stalls in its first fence until the fence's
 * own deadline (60 s). */
#include "pmixd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REACH_PREFIX "fmx:"
#define REACH_KEY REACH_PREFIX "reach"

struct reach {
    struct daemon *d;
    uint32_t peer;
};

static void on_asked(void *arg, uint32_t from, const void *key, size_t keylen,
                     fmx_dmodex_req_t *req)
{
    struct daemon *d = arg;

    (void)from;
    (void)key;
    (void)keylen;
    fmx_dmodex_respond(d->eng, req, 0, NULL, 0);
}

static void on_answer(void *arg, int status, const void *blob, size_t len)
{
    struct reach *r = arg;
    struct daemon *d = r->d;
    uint32_t to = r->peer;
    const fmx_node_t *me = &d->job.map.nodes[d->job.self], *peer = &d->job.map.nodes[to];
    fmx_transport_t *tp = d->tp;
    char addr[128] = "an unknown address", why[64], prov[96], text[768];
    uint64_t ms = fmx_env_u64("FMX_REACH_TIMEOUT_MS", 5000);

    (void)blob;
    (void)len;
    free(r);
    if (status == 0) {
        if (--d->reach_pending == 0)
            fmx_debug("pmixd", "node %u: every daemon it meets in fences answered", d->job.self);
        return;
    }
    if (status == -ECANCELED || d->stopping || d->failed)
        return;
    /* every rank here has ended, so the job may be over and the peer gone with it (pmixrun lets
     * daemons go only once every rank has ended): the question is moot */
    if (pmixd_ranks_all_ended(d)) {
        fmx_debug("pmixd", "node %u: node %u did not answer, but the ranks here have all ended",
                  d->job.self, to);
        return;
    }
    if (tp->ops->peer_addr)
        tp->ops->peer_addr(tp, to, addr, sizeof(addr));
    /* the provider and endpoint type, without the limits that follow them */
    snprintf(prov, sizeof(prov), "%s", tp->ops->describe ? tp->ops->describe(tp) : tp->ops->name);
    prov[strcspn(prov, "(")] = '\0';
    if (prov[0] && prov[strlen(prov) - 1] == ' ')
        prov[strlen(prov) - 1] = '\0';
    if (status == -ETIMEDOUT)
        snprintf(why, sizeof(why), "no answer within %llu ms", (unsigned long long)ms);
    else
        snprintf(why, sizeof(why), "%s", fmx_strerror(status));
    snprintf(text, sizeof(text),
             "node %s (host %s) cannot reach node %s (host %s) at %s over %s (%s); check the "
             "firewalls between the two hosts and the interface the provider uses "
             "(FI_TCP_IFACE, FI_SOCKETS_IFACE)",
             me->name, me->host, peer->name, peer->host, addr, prov, why);
    pmixd_give_up(d, text);
}

void pmixd_reach_start(struct daemon *d)
{
    uint64_t ms = fmx_env_u64("FMX_REACH_TIMEOUT_MS", 5000);
    uint32_t n, *peers;

    if (fmx_dmodex_add_handler(d->eng, REACH_PREFIX, on_asked, d) || !ms)
        return;
    n = fmx_engine_neighbours(d->eng, NULL, 0);
    peers = calloc(n ? n : 1, sizeof(*peers));
    if (!peers)
        return;
    n = fmx_engine_neighbours(d->eng, peers, n);
    for (uint32_t i = 0; i < n; i++) {
        struct reach *r = malloc(sizeof(*r));

        if (!r)
            break;
        r->d = d;
        r->peer = peers[i];
        d->reach_pending++;
        if (fmx_dmodex_request(d->eng, peers[i], REACH_KEY, sizeof(REACH_KEY) - 1, ms, on_answer,
                               r)) {
            d->reach_pending--;
            free(r);
        }
    }
    free(peers);
}
