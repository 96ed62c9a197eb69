/* Dissemination barrier: at round k a member signals the member 2^k above it and waits for the
 * one 2^k below; after ceil(log2 P) rounds everyone has heard, transitively, from everyone. No
 * data: fences that collect use bruck, its data-carrying mirror image. */
#include "internal.h"

static uint32_t dissem_nflags(const struct fmx_coll *c)
{
    return fmx_log2_ceil(c->P);
}

static int dissem_send_step(struct fmx_coll *c)
{
    return fmx_coll_send_token(c, (c->me + (1u << c->step)) % c->P, c->step);
}

static int dissem_start(struct fmx_coll *c)
{
    return fmx_coll_start_steps(c, dissem_send_step);
}

static int64_t dissem_source(const struct fmx_coll *c, uint32_t step)
{
    return step < c->nflags ? (c->me + c->P - (1u << step) % c->P) % c->P : c->P;
}

static int dissem_on_frame(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    int rc = fmx_coll_mark(c, from, f, (uint32_t)dissem_source(c, f->step));

    return rc ? rc : fmx_coll_advance_steps(c, dissem_send_step);
}

static int64_t dissem_waiting_for(const struct fmx_coll *c)
{
    return c->step < c->nflags ? dissem_source(c, c->step) : -1;
}

const struct fmx_algo_ops fmx_alg_dissem = {
    .name = "dissemination",
    .nflags = dissem_nflags,
    .start = dissem_start,
    .on_frame = dissem_on_frame,
    .waiting_for = dissem_waiting_for,
};
