/* The collective skeleton every algorithm shares: block storage, building BLOCKS/TOKEN/ABORT
 * frames, validating an incoming frame against the collective, and deciding the result. The
 * algorithms (alg_*.c) only decide who sends which positions at which step. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void header_of(const struct fmx_coll *c, fmx_frame_t *f, uint8_t type, uint32_t step)
{
    memset(f, 0, sizeof(*f));
    f->type = type;
    f->algo = (uint8_t)c->algo;
    f->flags = (uint8_t)c->radix;
    f->sig = c->sig;
    f->seq = c->seq;
    f->step = step;
    f->src = c->eng->self;
    f->nmembers = c->P;
}

/* A gathered send in flight: its header and table, and a reference to each block's storage. */
struct gathered {
    uint8_t *head;
    uint32_t nholds;
    struct fmx_hold *holds[];
};

static void gathered_done(void *arg)
{
    struct gathered *g = arg;

    for (uint32_t i = 0; i < g->nholds; i++)
        fmx_hold_put(g->holds[i]);
    free(g->head);
    free(g);
}

/* Sends the frame as its header and table followed by the blocks read where they lie (blocks
 * adjacent in memory, as those of one received frame are, in one segment): no copy of the data
 * is made for the send. */
static int send_gathered(struct fmx_coll *c, uint32_t dst, uint8_t *head, size_t headlen,
                         const uint32_t *positions, uint32_t n, size_t total)
{
    struct gathered *g = malloc(sizeof(*g) + n * sizeof(g->holds[0]));
    fmx_seg_t *segs = malloc((n + 1) * sizeof(*segs));
    size_t k = 1;
    int rc;

    if (!g || !segs) {
        free(g);
        free(segs);
        free(head);
        return -ENOMEM;
    }
    g->head = head;
    g->nholds = 0;
    segs[0].base = head;
    segs[0].len = headlen;
    for (uint32_t i = 0; i < n; i++) {
        const struct fmx_block *b = &c->blk[positions[i]];

        if (!b->len)
            continue;
        g->holds[g->nholds++] = b->hold;
        b->hold->refs++;
        if (k > 1 && (const uint8_t *)segs[k - 1].base + segs[k - 1].len == b->data) {
            segs[k - 1].len += b->len;
        } else {
            segs[k].base = b->data;
            segs[k++].len = b->len;
        }
    }
    rc = fmx_engine_sendv(c->eng, c->members[dst], segs, k, total, gathered_done, g);
    free(segs);
    return rc;
}

int fmx_coll_send_positions(struct fmx_coll *c, uint32_t dst, uint32_t step,
                            const uint32_t *positions, uint32_t n)
{
    uint64_t payload = (uint64_t)n * 8u;
    fmx_frame_t f;
    uint8_t *buf, *table, *data;
    size_t headlen;
    int gather;

    for (uint32_t i = 0; i < n; i++)
        payload += c->blk[positions[i]].len;
    if (payload > FMX_FRAME_MAX_PAYLOAD) {
        fmx_coll_fail(c, -EMSGSIZE, "a %llu-byte fence message exceeds the 4 GiB frame limit",
                      (unsigned long long)payload);
        return -EMSGSIZE;
    }
    gather = c->eng->tp->ops->sendv && payload >= c->eng->gather_min;
    headlen = FMX_FRAME_HEADER + (size_t)n * 8u;
    buf = malloc(gather ? headlen : FMX_FRAME_HEADER + (size_t)payload);
    if (!buf)
        return -ENOMEM;
    header_of(c, &f, FMX_FRAME_BLOCKS, step);
    f.aux = n;
    f.payload_len = (uint32_t)payload;
    fmx_frame_put_header(buf, &f);
    table = buf + FMX_FRAME_HEADER;
    data = buf + headlen;
    for (uint32_t i = 0; i < n; i++) {
        const struct fmx_block *b = &c->blk[positions[i]];

        fmx_put_u32(table + 8u * i, positions[i]);
        fmx_put_u32(table + 8u * i + 4, b->len);
        if (b->len && !gather) {
            memcpy(data, b->data, b->len);
            data += b->len;
        }
    }
    if (gather)
        return send_gathered(c, dst, buf, headlen, positions, n,
                             FMX_FRAME_HEADER + (size_t)payload);
    return fmx_engine_send(c->eng, c->members[dst], buf, FMX_FRAME_HEADER + (size_t)payload);
}

static int send_list(struct fmx_coll *c, uint32_t dst, uint32_t step, uint32_t n,
                     uint32_t (*pick)(const struct fmx_coll *, uint32_t, uint32_t), uint32_t first)
{
    uint32_t *pos = malloc((n ? n : 1) * sizeof(*pos));
    uint32_t k = 0;
    int rc;

    if (!pos)
        return -ENOMEM;
    for (uint32_t j = 0; j < (pick ? c->P : n); j++) {
        uint32_t p = pick ? pick(c, j, first) : (first + j) % c->P;
        if (p != UINT32_MAX)
            pos[k++] = p;
    }
    rc = fmx_coll_send_positions(c, dst, step, pos, k);
    free(pos);
    return rc;
}

int fmx_coll_send_range(struct fmx_coll *c, uint32_t dst, uint32_t step, uint32_t first, uint32_t n)
{
    return send_list(c, dst, step, n, NULL, first);
}

static uint32_t pick_held(const struct fmx_coll *c, uint32_t j, uint32_t unused)
{
    (void)unused;
    return c->blk[j].have ? j : UINT32_MAX;
}

int fmx_coll_send_held(struct fmx_coll *c, uint32_t dst, uint32_t step)
{
    return send_list(c, dst, step, c->nhave, pick_held, 0);
}

int fmx_coll_send_token(struct fmx_coll *c, uint32_t dst, uint32_t step)
{
    uint8_t *buf = malloc(FMX_FRAME_HEADER);
    fmx_frame_t f;

    if (!buf)
        return -ENOMEM;
    header_of(c, &f, FMX_FRAME_TOKEN, step);
    fmx_frame_put_header(buf, &f);
    return fmx_engine_send(c->eng, c->members[dst], buf, FMX_FRAME_HEADER);
}

int fmx_coll_absorb(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f)
{
    fmx_block_iter_t it;
    fmx_block_ref_t b;

    if (f->type != FMX_FRAME_BLOCKS)
        return 0;
    fmx_block_iter_init(&it, f);
    while (fmx_block_iter_next(&it, &b)) {
        struct fmx_block *blk = &c->blk[b.pos];

        if (blk->have) {
            if (blk->len != b.len || (b.len && memcmp(blk->data, b.data, b.len))) {
                fmx_engine_set_error(c->eng,
                                     "member %u sent position %u with content that differs "
                                     "from an earlier copy",
                                     c->members[from], b.pos);
                return FMX_ERR_PROTO;
            }
            continue;
        }
        if (c->eng->hold) { /* kept in the frame */
            blk->data = (uint8_t *)b.data;
            blk->hold = c->eng->hold;
            blk->hold->refs++;
        } else if ((blk->data = malloc(b.len ? b.len : 1)) &&
                   (blk->hold = fmx_hold_new(blk->data))) {
            if (b.len)
                memcpy(blk->data, b.data, b.len);
        } else {
            blk->data = NULL;
            return -ENOMEM;
        }
        blk->len = b.len;
        blk->have = 1;
        c->nhave++;
    }
    return 0;
}

int fmx_coll_mark(struct fmx_coll *c, uint32_t from, const fmx_frame_t *f, uint32_t expect)
{
    if (f->step >= c->nflags || from != expect || c->got[f->step]) {
        fmx_engine_set_error(c->eng,
                             "member %u sent an unexpected %s step %u (expected from member %u)",
                             c->members[from], c->ops->name, f->step,
                             expect < c->P ? c->members[expect] : UINT32_MAX);
        return FMX_ERR_PROTO;
    }
    c->got[f->step] = 1;
    return fmx_coll_absorb(c, from, f);
}

int fmx_coll_advance_steps(struct fmx_coll *c, int (*send_step)(struct fmx_coll *c))
{
    while (c->step < c->nflags && c->got[c->step]) {
        c->step++;
        if (c->step < c->nflags) {
            int rc = send_step(c);
            if (rc)
                return rc;
        }
    }
    if (c->step == c->nflags)
        fmx_coll_finish(c, 0, NULL);
    return 0;
}

int fmx_coll_start_steps(struct fmx_coll *c, int (*send_step)(struct fmx_coll *c))
{
    int rc = c->nflags ? send_step(c) : 0;

    return rc ? rc : fmx_coll_advance_steps(c, send_step);
}

static void set_text(struct fmx_coll *c, const char *fmt, va_list ap)
{
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
}

void fmx_coll_finish(struct fmx_coll *c, int status, const char *fmt, ...)
{
    fmx_engine_t *e = c->eng;
    va_list ap;

    if (c->finished)
        return;
    c->finished = 1;
    c->status = status;
    if (fmt) {
        va_start(ap, fmt);
        set_text(c, fmt, ap);
        va_end(ap);
    }
    if (status == 0 && c->collect && c->nhave != c->P) {
        c->status = FMX_ERR_PROTO;
        snprintf(c->error, sizeof(c->error), "%s finished holding %u of %u blobs", c->ops->name,
                 c->nhave, c->P);
    }
    if (c->status)
        snprintf(e->last_error, sizeof(e->last_error), "%s", c->error);
    /* move from the active list to the done list */
    for (struct fmx_coll **pp = &e->colls; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    c->next = NULL;
    if (e->done_tail)
        e->done_tail->next = c;
    else
        e->done = c;
    e->done_tail = c;
}

void fmx_coll_fail(struct fmx_coll *c, int status, const char *fmt, ...)
{
    fmx_engine_t *e = c->eng;
    va_list ap;

    if (c->finished)
        return;
    va_start(ap, fmt);
    set_text(c, fmt, ap);
    va_end(ap);
    fmx_log(FMX_LOG_DEBUG, "engine", "fence %016llx#%u failed: %s", (unsigned long long)c->sig,
            c->seq, c->error);
    for (uint32_t i = 0; c->started && i < c->P; i++) {
        size_t tlen = strlen(c->error);
        uint8_t *buf;
        fmx_frame_t f;

        if (i == c->me || e->lost[c->members[i]])
            continue;
        buf = malloc(FMX_FRAME_HEADER + tlen);
        if (!buf)
            break;
        header_of(c, &f, FMX_FRAME_ABORT, 0);
        f.aux = (uint32_t)-status;
        f.payload_len = (uint32_t)tlen;
        fmx_frame_put_header(buf, &f);
        memcpy(buf + FMX_FRAME_HEADER, c->error, tlen);
        fmx_engine_send(e, c->members[i], buf, FMX_FRAME_HEADER + tlen);
    }
    fmx_coll_finish(c, status, NULL);
}

static int64_t position_of(const struct fmx_coll *c, uint32_t member)
{
    uint32_t lo = 0, hi = c->P;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->members[mid] == member)
            return mid;
        if (c->members[mid] < member)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Checks a frame of a started collective and hands it to the algorithm. */
int fmx_coll_deliver(struct fmx_coll *c, uint32_t peer, const fmx_frame_t *f)
{
    int64_t from = position_of(c, peer);
    int rc;

    if (c->finished)
        return 0;
    if (from < 0) {
        fmx_coll_fail(c, FMX_ERR_PROTO, "%s sent a frame for a fence it is not part of",
                      fmx_who(c->eng, peer));
        return FMX_ERR_PROTO;
    }
    if (f->type == FMX_FRAME_ABORT) {
        fmx_coll_finish(c, FMX_ERR_ABORTED, "%s aborted the fence: %.*s", fmx_who(c->eng, peer),
                        (int)(f->payload_len < 200 ? f->payload_len : 200), f->payload);
        return 0;
    }
    if (f->nmembers != c->P || f->algo != c->algo || f->flags != (uint8_t)c->radix) {
        fmx_coll_fail(c, FMX_ERR_PROTO,
                      "member %u runs this fence as %s over %u members (radix %u), this member "
                      "as %s over %u (radix %u): set FMX_FENCE_ALGO alike everywhere",
                      peer, fmx_algo_name(f->algo), f->nmembers, f->flags, fmx_algo_name(c->algo),
                      c->P, c->radix);
        return FMX_ERR_PROTO;
    }
    if ((f->type == FMX_FRAME_TOKEN) != (c->algo == FMX_ALGO_DISSEM)) {
        fmx_coll_fail(c, FMX_ERR_PROTO, "member %u sent a frame of type %u to a %s fence", peer,
                      f->type, c->ops->name);
        return FMX_ERR_PROTO;
    }
    rc = c->ops->on_frame(c, (uint32_t)from, f);
    if (rc) {
        fmx_coll_fail(c, rc, "%s", rc == FMX_ERR_PROTO ? c->eng->last_error : fmx_strerror(rc));
        return rc;
    }
    return 0;
}

void fmx_coll_run_callback(struct fmx_coll *c)
{
    fmx_fence_result_t res = {0};
    size_t *lens = NULL;

    fmx_debug("engine", "fence %016llx#%u ended after %.3f ms: %s", (unsigned long long)c->sig,
              c->seq, (double)(fmx_engine_now(c->eng) - c->start_ns) / 1e6,
              c->status ? c->error : "ok");
    res.status = c->status;
    res.error = c->status ? c->error : "";
    res.algo = c->algo;
    res.count = c->P;
    res.members = c->members;
    if (c->status == 0 && c->collect) {
        size_t total = 0, off = 0;

        for (uint32_t i = 0; i < c->P; i++)
            total += c->blk[i].len;
        lens = malloc(c->P * sizeof(*lens));
        res.data = malloc(total ? total : 1);
        if (!lens || !res.data) {
            free(lens);
            free(res.data);
            lens = NULL;
            res.data = NULL;
            res.status = -ENOMEM;
            res.error = "out of memory assembling the fence result";
        } else {
            for (uint32_t i = 0; i < c->P; i++) {
                lens[i] = c->blk[i].len;
                if (c->blk[i].len)
                    memcpy(res.data + off, c->blk[i].data, c->blk[i].len);
                off += c->blk[i].len;
            }
            res.total = total;
            res.lens = lens;
        }
    }
    c->cb(c->cb_arg, &res);
    free(lens);
}

void fmx_coll_free(struct fmx_coll *c)
{
    struct fmx_stash *s;

    if (!c)
        return;
    for (uint32_t i = 0; c->blk && i < c->P; i++)
        fmx_hold_put(c->blk[i].hold);
    while ((s = c->stash)) {
        c->stash = s->next;
        fmx_hold_put(s->hold);
        free(s);
    }
    free(c->blk);
    free(c->got);
    free(c->aux);
    free(c->members);
    free(c);
}
