/* Bruck's allgather for any P: at step k (distance d = 2^k) a member sends the min(d, P-d)
 * blocks it holds starting at its own position to the member d below it, and receives as many
 * from the member d above. ceil(log2 P) steps. */
#include "internal.h"

uint32_t fmx_log2_ceil(uint32_t p)
{
    uint32_t k = 0;

    while ((1ull << k) < p)
        k++;
    return k;
}

static uint32_t bruck_nflags(const struct fmx_coll *c)
{
    return fmx_log2_ceil(c->P);
}

static int bruck_send_step(struct fmx_coll *c)
{
    uint32_t d = 1u << c->step;
    uint32_t n = d < c->P - d ? d : c->P - d;

    return fmx_coll_send_range(c, (c->me + c->P - d) % c->P, c->step, c->me, n);
}

static int bruck_start(struct fmx_coll *c)
{
    return fmx_coll_start_steps(c, bruck_send_step);
}

static int64_t bruck_source(const struct fmx_coll *c, uint32_t step)
{
    return step < c->nflags ? (c->me + (1u << step)) % c->P : c->P;
}

static int bruck_on_frame(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    int rc = fmx_coll_mark(c, from, f, (uint32_t)bruck_source(c, f->step));

    return rc ? rc : fmx_coll_advance_steps(c, bruck_send_step);
}

static int64_t bruck_waiting_for(const struct fmx_coll *c)
{
    return c->step < c->nflags ? bruck_source(c, c->step) : -1;
}

const struct fmx_algo_ops fmx_alg_bruck = {
    .name = "bruck",
    .nflags = bruck_nflags,
    .start = bruck_start,
    .on_frame = bruck_on_frame,
    .waiting_for = bruck_waiting_for,
};
