/* k-ary tree allgather: positions form a heap rooted at 0 (children of r are k*r+1 .. k*r+k).
 * Each member waits for its children's subtrees (step 0 flags, one per child), sends everything
 * it holds to its parent, then receives the full set from the parent (flag k) and forwards it
 * to its children. The root turns around at once. */
#include "internal.h"

static uint32_t tree_nflags(const struct fmx_coll *c)
{
    return c->radix + 1;
}

static uint32_t first_child(const struct fmx_coll *c)
{
    return c->radix * c->me + 1;
}

static uint32_t child_count(const struct fmx_coll *c)
{
    uint64_t first = first_child(c);

    if (first >= c->P)
        return 0;
    return (uint32_t)(c->P - first < c->radix ? c->P - first : c->radix);
}

static int send_down(struct fmx_coll *c)
{
    for (uint32_t i = 0; i < child_count(c); i++) {
        int rc = fmx_coll_send_held(c, first_child(c) + i, 1);
        if (rc)
            return rc;
    }
    fmx_coll_finish(c, 0, NULL);
    return 0;
}

/* step: 0 gathering from children, 1 waiting for the parent's set */
static int tree_advance(struct fmx_coll *c)
{
    if (c->step == 0) {
        for (uint32_t i = 0; i < child_count(c); i++)
            if (!c->got[i])
                return 0;
        c->step = 1;
        if (c->me == 0)
            return send_down(c);
        int rc = fmx_coll_send_held(c, (c->me - 1) / c->radix, 0);
        if (rc)
            return rc;
    }
    return c->got[c->radix] ? send_down(c) : 0;
}

static int tree_on_frame(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    fmx_frame_t flagged = *f;
    uint32_t expect;

    /* map the wire step onto a flag: a child's upward message or the parent's broadcast */
    if (f->step == 0 && from >= first_child(c) && from - first_child(c) < child_count(c)) {
        flagged.step = from - first_child(c);
        expect = from;
    } else if (f->step == 1 && c->me != 0) {
        flagged.step = c->radix;
        expect = (c->me - 1) / c->radix;
    } else {
        flagged.step = c->nflags; /* rejected by fmx_coll_mark */
        expect = c->P;
    }
    int rc = fmx_coll_mark(c, from, &flagged, expect);
    return rc ? rc : tree_advance(c);
}

static int64_t tree_waiting_for(const struct fmx_coll *c)
{
    if (c->step == 0) {
        for (uint32_t i = 0; i < child_count(c); i++)
            if (!c->got[i])
                return first_child(c) + i;
    }
    return c->me ? (int64_t)((c->me - 1) / c->radix) : -1;
}

const struct fmx_algo_ops fmx_alg_tree = {
    .name = "tree",
    .nflags = tree_nflags,
    .start = tree_advance,
    .on_frame = tree_on_frame,
    .waiting_for = tree_waiting_for,
};
