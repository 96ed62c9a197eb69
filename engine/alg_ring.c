/* Ring allgather: at step s every member passes the block it received at step s-1 (its own at
 * step 0) to its right neighbour; P-1 steps. Cheapest per-link traffic, most latency. */
#include "internal.h"

static uint32_t ring_nflags(const struct fmx_coll *c)
{
    return c->P - 1;
}

static int ring_send_step(struct fmx_coll *c)
{
    uint32_t pos = (c->me + c->P - c->step) % c->P;

    return fmx_coll_send_positions(c, (c->me + 1) % c->P, c->step, &pos, 1);
}

static int ring_start(struct fmx_coll *c)
{
    return fmx_coll_start_steps(c, ring_send_step);
}

static int64_t ring_waiting_for(const struct fmx_coll *c)
{
    return (c->me + c->P - 1) % c->P;
}

static int ring_on_frame(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    int rc = fmx_coll_mark(c, from, f, (uint32_t)ring_waiting_for(c));

    return rc ? rc : fmx_coll_advance_steps(c, ring_send_step);
}

const struct fmx_algo_ops fmx_alg_ring = {
    .name = "ring",
    .nflags = ring_nflags,
    .start = ring_start,
    .on_frame = ring_on_frame,
    .waiting_for = ring_waiting_for,
};
