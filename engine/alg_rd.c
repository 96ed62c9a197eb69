/* Recursive doubling allgather. With p2 the largest power of two <= P, the P-p2 "extra" members
 * first hand their block to member (extra - p2) (step 0), the first p2 members then swap
 * everything they hold with partner me^2^(k-1) at steps 1..log2(p2), and finally return the
 * whole set to their extra (last step). */
#include "internal.h"

#include <stdlib.h>

struct rd_shape {
    uint32_t p2, extra, rounds; /* rounds = log2(p2); steps are 0..rounds+1 */
};

static struct rd_shape shape_of(const struct fmx_coll *c)
{
    struct rd_shape s = {1, 0, 0};

    while (s.p2 * 2 <= c->P) {
        s.p2 *= 2;
        s.rounds++;
    }
    s.extra = c->P - s.p2;
    return s;
}

static uint32_t rd_nflags(const struct fmx_coll *c)
{
    return shape_of(c).rounds + 2;
}

/* At round k a member holds the blocks of its aligned group of 2^(k-1) members and their
 * extras; it sends exactly those. */
static int rd_send_round(struct fmx_coll *c, struct rd_shape s, uint32_t k)
{
    uint32_t g = 1u << (k - 1), base = c->me & ~(g - 1), n = 0;
    uint32_t *pos = malloc(2 * g * sizeof(*pos));
    int rc;

    if (!pos)
        return -ENOMEM;
    for (uint32_t q = base; q < base + g; q++) {
        pos[n++] = q;
        if (q < s.extra)
            pos[n++] = q + s.p2;
    }
    rc = fmx_coll_send_positions(c, c->me ^ g, k, pos, n);
    free(pos);
    return rc;
}

static int rd_advance(struct fmx_coll *c)
{
    struct rd_shape s = shape_of(c);
    int rc;

    if (c->me >= s.p2) { /* an extra: only waits for the final set */
        if (c->got[s.rounds + 1])
            fmx_coll_finish(c, 0, NULL);
        return 0;
    }
    for (;;) {
        if (c->step == 0) {
            if (c->me < s.extra && !c->got[0])
                return 0;
        } else if (c->step <= s.rounds) {
            if (!c->got[c->step])
                return 0;
        } else {
            rc = c->me < s.extra ? fmx_coll_send_held(c, c->me + s.p2, s.rounds + 1) : 0;
            if (rc == 0)
                fmx_coll_finish(c, 0, NULL);
            return rc;
        }
        c->step++;
        if (c->step <= s.rounds && (rc = rd_send_round(c, s, c->step)))
            return rc;
    }
}

static int rd_start(struct fmx_coll *c)
{
    struct rd_shape s = shape_of(c);

    if (c->me >= s.p2) {
        uint32_t pos = c->me;
        return fmx_coll_send_positions(c, c->me - s.p2, 0, &pos, 1);
    }
    return rd_advance(c);
}

static int64_t rd_source(const struct fmx_coll *c, uint32_t step)
{
    struct rd_shape s = shape_of(c);

    if (c->me >= s.p2)
        return step == s.rounds + 1 ? c->me - s.p2 : c->P;
    if (step == 0)
        return c->me < s.extra ? c->me + s.p2 : c->P;
    if (step <= s.rounds)
        return c->me ^ (1u << (step - 1));
    return c->P;
}

static int rd_on_frame(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    int rc = fmx_coll_mark(c, from, f, (uint32_t)rd_source(c, f->step < c->nflags ? f->step : 0));

    return rc ? rc : rd_advance(c);
}

static int64_t rd_waiting_for(const struct fmx_coll *c)
{
    struct rd_shape s = shape_of(c);
    int64_t src = rd_source(c, c->me >= s.p2 ? s.rounds + 1 : c->step);

    return src < c->P ? src : -1;
}

const struct fmx_algo_ops fmx_alg_rd = {
    .name = "recursive-doubling",
    .nflags = rd_nflags,
    .start = rd_start,
    .on_frame = rd_on_frame,
    .waiting_for = rd_waiting_for,
};
