/* Hierarchical allgather over the participants' hosts (the transport's host_of(), kept by the
 * engine as e->host): each host's first participant, its leader, gathers the blocks of the
 * others on its host (step 0); the leaders send their host's blocks to each other directly
 * (step 1); each leader hands the whole set to the others on its host (step 2). Traffic between
 * hosts is one message per pair of leaders, the rest stays on its host, where a paired transport
 * (fmx_pair.h) carries it by shared memory. Flags: got[p] for a step-0 frame from local p and
 * for a step-1 frame from leader p (never the same p), got[P] for the leader's step-2 frame.
 * c->aux: the leader of each position, then the locals and the leaders still awaited. */
#include "internal.h"

#include <stdlib.h>

#define LEADER(c, i) ((c)->aux[i])
#define LOCALS_LEFT(c) ((c)->aux[(c)->P])
#define LEADERS_LEFT(c) ((c)->aux[(c)->P + 1])

int fmx_hier_prepare(struct fmx_coll *c)
{
    const fmx_engine_t *e = c->eng;
    uint32_t *first = malloc((e->members ? e->members : 1) * sizeof(*first)), hosts = 0;

    c->aux = calloc(c->P + 2, sizeof(*c->aux));
    if (!first || !c->aux) {
        free(first);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < c->P; i++)
        first[e->host[c->members[i]]] = UINT32_MAX;
    for (uint32_t i = 0; i < c->P; i++) {
        uint32_t *f = &first[e->host[c->members[i]]];

        if (*f == UINT32_MAX) {
            *f = i;
            hosts++;
            if (i != c->me)
                LEADERS_LEFT(c)++;
        }
        LEADER(c, i) = *f;
    }
    free(first);
    c->radix = hosts; /* frames carry it: members that see the hosts differently disagree */
    if (LEADER(c, c->me) != c->me)
        LEADERS_LEFT(c) = 0; /* a leader's business */
    else
        for (uint32_t i = 0; i < c->P; i++)
            LOCALS_LEFT(c) += i != c->me && LEADER(c, i) == c->me;
    return 0;
}

static uint32_t hier_nflags(const struct fmx_coll *c)
{
    return c->P + 1;
}

static int leader_advance(struct fmx_coll *c)
{
    int rc;

    if (c->step == 0) {
        uint32_t *pos, n = 0;

        if (LOCALS_LEFT(c))
            return 0;
        c->step = 1;
        if (!(pos = malloc(c->P * sizeof(*pos))))
            return -ENOMEM;
        for (uint32_t i = 0; i < c->P; i++)
            if (LEADER(c, i) == c->me)
                pos[n++] = i;
        rc = 0;
        for (uint32_t i = 0; i < c->P && !rc; i++)
            if (LEADER(c, i) == i && i != c->me)
                rc = fmx_coll_send_positions(c, i, 1, pos, n);
        free(pos);
        if (rc)
            return rc;
    }
    if (c->step == 1 && !LEADERS_LEFT(c)) {
        c->step = 2;
        for (uint32_t i = 0; i < c->P; i++)
            if (i != c->me && LEADER(c, i) == c->me && (rc = fmx_coll_send_held(c, i, 2)))
                return rc;
        fmx_coll_finish(c, 0, NULL);
    }
    return 0;
}

static int hier_start(struct fmx_coll *c)
{
    if (LEADER(c, c->me) != c->me)
        return fmx_coll_send_positions(c, LEADER(c, c->me), 0, &c->me, 1);
    return leader_advance(c);
}

static int hier_on_frame(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    fmx_frame_t flagged = *f;
    int leader = LEADER(c, c->me) == c->me, rc;
    uint32_t expect = c->P;

    flagged.step = c->nflags; /* rejected by fmx_coll_mark unless one of these */
    if (f->step == 0 && leader && from != c->me && LEADER(c, from) == c->me)
        flagged.step = from, expect = from;
    else if (f->step == 1 && leader && from != c->me && LEADER(c, from) == from)
        flagged.step = from, expect = from;
    else if (f->step == 2 && !leader)
        flagged.step = c->P, expect = LEADER(c, c->me);
    if ((rc = fmx_coll_mark(c, from, &flagged, expect)))
        return rc;
    if (!leader) {
        fmx_coll_finish(c, 0, NULL);
        return 0;
    }
    if (f->step == 0)
        LOCALS_LEFT(c)--;
    else
        LEADERS_LEFT(c)--;
    return leader_advance(c);
}

static int64_t hier_waiting_for(const struct fmx_coll *c)
{
    if (LEADER(c, c->me) != c->me)
        return LEADER(c, c->me);
    for (uint32_t i = 0; i < c->P; i++) {
        int local = i != c->me && LEADER(c, i) == c->me;
        int other = i != c->me && LEADER(c, i) == i;

        if (!c->got[i] && ((c->step == 0 && local) || (c->step > 0 && other)))
            return i;
    }
    return -1;
}

const struct fmx_algo_ops fmx_alg_hier = {
    .name = "hier",
    .nflags = hier_nflags,
    .start = hier_start,
    .on_frame = hier_on_frame,
    .waiting_for = hier_waiting_for,
};
