/* Events across daemons. A client's PMIx_Notify_event of a range beyond its node reaches libpmix,
 * which delivers it to the clients of this node and hands it to the host (notify_event): it
 * goes to every other daemon of the job, whose server delivers it to its own clients
 * (PMIx_Notify_event on the client's behalf, so it goes no further). When a rank's connection
 * ends before PMIx_Finalize, the job's ranks on every node are told PMIX_ERR_PROC_ABORTED
 * (PMIX_EVENT_AFFECTED_PROC names it) before the daemon reports it, so that the launcher
 * ends the job (or, with --enable-recovery, lets the others go on) only once they know.
 *
 * Between daemons: an engine request under EVT_PREFIX: the prefix, the status, the source
 * proc, the range, then the infos as libpmix packs them (PMIx_Data_pack). */
#include "glue_internal.h"

#include "fmx_pack.h"

#include <stdlib.h>
#include <string.h>

#define EVT_PREFIX "pmix+evt:"
#define EVT_TIMEOUT_MS 5000 /* a daemon that does not take an event within this is left */

struct bcast {
    struct req base;
    pmix_status_t code;
    pmix_proc_t source;
    pmix_data_range_t range;
    uint8_t *infos; /* packed */
    size_t ilen;
    uint32_t ninfo;
    uint32_t outstanding;
    int status;
    void (*done)(fmx_glue_t *g, void *arg, int status);
    void *arg;
};

static void bcast_free(struct bcast *b)
{
    free(b->infos);
    free(b);
}

static void bcast_release(fmx_glue_t *g, struct bcast *b)
{
    if (--b->outstanding)
        return;
    if (b->done)
        b->done(g, b->arg, b->status);
    bcast_free(b);
}

static void delivered(void *arg, int status, const void *blob, size_t len)
{
    struct bcast *b = arg;

    (void)blob, (void)len;
    if (status && !b->status)
        b->status = status;
    bcast_release(fmx_glue_current, b);
}

/* ---- delivering to this node's clients ---- */

struct local_event {
    pmix_info_t *info;
    size_t ninfo;
};

static void local_done(pmix_status_t st, void *cbdata)
{
    struct local_event *ev = cbdata;

    (void)st;
    if (ev->info)
        PMIX_INFO_FREE(ev->info, ev->ninfo);
    free(ev);
}

/* Hands an event to this node's server for its clients; the infos are unpacked from bytes. */
static int deliver_here(pmix_status_t code, const pmix_proc_t *source, pmix_data_range_t range,
                        const uint8_t *infos, size_t ilen, uint32_t ninfo)
{
    struct local_event *ev = calloc(1, sizeof(*ev));
    pmix_status_t st = PMIX_SUCCESS;

    if (!ev || ninfo > ilen)
        goto fail;
    if (ninfo) {
        PMIX_INFO_CREATE(ev->info, ninfo);
        ev->ninfo = ninfo;
        if (!ev->info || fmx_glue_unpack(infos, ilen, ev->info, (int32_t)ninfo, PMIX_INFO))
            goto fail;
    }
    st = PMIx_Notify_event(code, source, range, ev->info, ev->ninfo, local_done, ev);
    if (st == PMIX_SUCCESS)
        return 0;
    if (st == PMIX_OPERATION_SUCCEEDED) {
        local_done(st, ev);
        return 0;
    }
fail:
    if (ev)
        local_done(st, ev);
    return -EINVAL;
}

/* ---- sending to the other daemons ---- */

static void broadcast(fmx_glue_t *g, struct bcast *b)
{
    char ns[PMIX_MAX_NSLEN + 1];

    memcpy(ns, b->source.nspace, PMIX_MAX_NSLEN);
    ns[PMIX_MAX_NSLEN] = '\0';
    b->outstanding = 1;
    for (uint32_t node = 0; node < g->job.map->nnodes; node++) {
        fmx_pack_t p;
        int rc;

        if (node == g->job.self)
            continue;
        fmx_pack_init(&p);
        fmx_pack_raw(&p, EVT_PREFIX, strlen(EVT_PREFIX));
        fmx_pack_u32(&p, (uint32_t)b->code);
        fmx_pack_str(&p, ns);
        fmx_pack_u32(&p, b->source.rank);
        fmx_pack_u32(&p, b->range);
        fmx_pack_u32(&p, b->ninfo);
        fmx_pack_bytes(&p, b->infos, b->ilen);
        rc = p.err ? -ENOMEM
                   : fmx_dmodex_request(g->eng, node, p.data, p.len, EVT_TIMEOUT_MS, delivered, b);
        fmx_pack_free(&p);
        if (rc && !b->status)
            b->status = rc;
        b->outstanding += !rc;
    }
    bcast_release(g, b);
}

static void on_request(void *arg, uint32_t from, const void *key, size_t keylen,
                       fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;
    size_t pre = strlen(EVT_PREFIX), ilen = 0;
    fmx_pack_t p;
    pmix_proc_t source = {0};
    pmix_status_t code;
    uint32_t range, ninfo;
    const uint8_t *infos;
    char *ns;
    int rc = -EINVAL;

    fmx_unpack_init(&p, (const uint8_t *)key + pre, keylen - pre);
    code = (pmix_status_t)fmx_unpack_u32(&p);
    ns = fmx_unpack_str(&p);
    source.rank = fmx_unpack_u32(&p);
    range = fmx_unpack_u32(&p);
    ninfo = fmx_unpack_u32(&p);
    infos = fmx_unpack_bytes(&p, &ilen);
    if (!p.err && ns && strlen(ns) <= PMIX_MAX_NSLEN) {
        PMIX_LOAD_NSPACE(source.nspace, ns);
        fmx_debug("glue", "event %s from %s:%u (node %s) for this node's clients",
                  PMIx_Error_string(code), source.nspace, source.rank,
                  g->job.map->nodes[from].name);
        rc = deliver_here(code, &source, (pmix_data_range_t)range, infos, ilen, ninfo);
    }
    if (rc)
        fmx_log(FMX_LOG_WARN, "glue", "node %s sent an event that cannot be delivered",
                g->job.map->nodes[from].name);
    free(ns);
    fmx_dmodex_respond(g->eng, token, rc, NULL, 0);
}

int fmx_glue_events_start(fmx_glue_t *g)
{
    return fmx_dmodex_add_handler(g->eng, EVT_PREFIX, on_request, g);
}

void fmx_glue_events_stop(fmx_glue_t *g)
{
    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, EVT_PREFIX);
}

/* ---- a client's event (libpmix's thread, then the loop) ---- */

static void run_bcast(fmx_glue_t *g, struct req *r)
{
    broadcast(g, (struct bcast *)r);
}

static void cancel_bcast(fmx_glue_t *g, struct req *r)
{
    struct bcast *b = (struct bcast *)r;

    (void)g;
    bcast_free(b);
}

static const struct req_ops bcast_ops = {
    .needs_engine = 1, .run = run_bcast, .cancel = cancel_bcast};

pmix_status_t fmx_glue_up_notify_event(pmix_status_t code, const pmix_proc_t *source,
                                       pmix_data_range_t range, pmix_info_t info[], size_t ninfo,
                                       pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    struct bcast *b = calloc(1, sizeof(*b));

    if (!b)
        return PMIX_ERR_NOMEM;
    if (range == PMIX_RANGE_LOCAL || range == PMIX_RANGE_PROC_LOCAL) {
        free(b);
        return PMIX_OPERATION_SUCCEEDED; /* libpmix delivered it here */
    }
    if (fmx_glue_pack(info, (int32_t)ninfo, PMIX_INFO, &b->infos, &b->ilen)) {
        free(b);
        return PMIX_ERR_BAD_PARAM;
    }
    b->base.ops = &bcast_ops;
    b->code = code;
    b->source = *source;
    b->range = range;
    b->ninfo = (uint32_t)ninfo;
    (void)cbfunc, (void)cbdata;
    fmx_glue_post(fmx_glue_current, &b->base);
    /* taken: libpmix is not called back. Its callback, called from the daemon's loop once the
     * other daemons had the event, locked a mutex of libpmix's own that was held (a group
     * invitation, OpenPMIx's asyncgroup example: both daemons hung) */
    return PMIX_OPERATION_SUCCEEDED;
}

/* ---- a rank gone before finalizing (the loop) ---- */

int fmx_glue_tell_aborted(fmx_glue_t *g, const pmix_proc_t *who,
                          void (*done)(fmx_glue_t *g, void *arg, int status), void *arg)
{
    struct bcast *b = calloc(1, sizeof(*b));
    pmix_info_t info[1];
    pmix_proc_t proc;
    int rc;

    if (!b)
        return -ENOMEM;
    PMIX_LOAD_PROCID(&proc, who->nspace, who->rank);
    PMIX_INFO_LOAD(&info[0], PMIX_EVENT_AFFECTED_PROC, &proc, PMIX_PROC);
    rc = fmx_glue_pack(info, 1, PMIX_INFO, &b->infos, &b->ilen);
    PMIX_INFO_DESTRUCT(&info[0]);
    if (rc) {
        free(b);
        return rc;
    }
    b->code = PMIX_ERR_PROC_ABORTED;
    b->source = proc;
    b->range = PMIX_RANGE_NAMESPACE;
    b->ninfo = 1;
    b->done = done;
    b->arg = arg;
    rc = deliver_here(b->code, &b->source, b->range, b->infos, b->ilen, b->ninfo);
    if (rc)
        fmx_log(FMX_LOG_WARN, "glue", "cannot tell this node's ranks that %s:%u aborted",
                proc.nspace, proc.rank);
    if (!g->eng) { /* no other daemon can be reached yet */
        b->outstanding = 1;
        bcast_release(g, b);
        return 0;
    }
    broadcast(g, b);
    return 0;
}
