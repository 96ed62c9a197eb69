/* PMIx groups: construct and destruct as collectives over the daemons hosting the members.
 *
 * Construct: libpmix gathers its local members and hands the host what they contribute (their
 * endpoint data and group info, PMIX_GROUP_ENDPT_DATA: items libpmix packs and reads back as a
 * sequence, so the daemons' contributions concatenate). The host allgathers them over the
 * engine (a fence keyed by the group's name and members) and returns the concatenation; with
 * PMIX_GROUP_ASSIGN_CONTEXT_ID, the lowest-numbered member daemon first takes a context id from
 * node 0's counter (an engine request: ids are unique in the job) and every daemon takes that
 * one from the fence. Each daemon's blob: u32 1 when it carries the id, the id (two u32), the
 * endpoint bytes. Destruct: a barrier over the same daemons.
 *
 * Invitations (PMIx_Group_invite / join): libpmix turns them into events (PMIX_GROUP_INVITED,
 * ..._ACCEPTED), which events.c carries to the other daemons' clients, and a construct. */
#include "glue_internal.h"

#include "fmx_pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CID_PREFIX "pmix+cid:"

struct group {
    struct req base;
    pmix_group_operation_t op;
    char *name;
    pmix_proc_t *procs; /* sorted */
    size_t nprocs;
    int want_cid;
    uint8_t *endpt; /* what libpmix gave us to exchange */
    size_t elen;
    uint64_t timeout_ms;
    uint64_t cid;
    int has_cid; /* this daemon carries the context id */
    pmix_info_cbfunc_t cb;
    void *cbdata;
};

/* What the callback hands libpmix, kept until it releases it. */
struct result {
    pmix_info_t *info;
    size_t ninfo;
};

static void group_free(struct group *gr)
{
    free(gr->name);
    free(gr->procs);
    free(gr->endpt);
    free(gr);
}

static void result_release(void *cbdata)
{
    struct result *res = cbdata;

    PMIX_INFO_FREE(res->info, res->ninfo);
    free(res);
}

static void group_fail(struct group *gr, pmix_status_t st)
{
    gr->cb(st, NULL, 0, gr->cbdata, NULL, NULL);
    group_free(gr);
}

static void group_done(void *arg, fmx_fence_result_t *res)
{
    struct group *gr = arg;
    struct result *out = calloc(1, sizeof(*out));
    pmix_byte_object_t bo = {0};
    size_t at = 0, k = 0;
    int has_cid = 0;

    if (res->status || !out) {
        fmx_log(FMX_LOG_ERROR, "glue", "group %s %s failed: %s", gr->name,
                gr->op == PMIX_GROUP_CONSTRUCT ? "construct" : "destruct",
                res->status ? res->error : "out of memory");
        free(res->data);
        free(out);
        group_fail(gr, res->status ? fmx_glue_status(res->status) : PMIX_ERR_NOMEM);
        return;
    }
    if (gr->op == PMIX_GROUP_CONSTRUCT && res->total && !(bo.bytes = malloc(res->total))) {
        free(res->data);
        free(out);
        group_fail(gr, PMIX_ERR_NOMEM);
        return;
    }
    for (uint32_t i = 0; gr->op == PMIX_GROUP_CONSTRUCT && i < res->count; i++) {
        const uint8_t *b = res->data + at;

        if (res->lens[i] < 12) {
            at += res->lens[i];
            continue;
        }
        if (fmx_get_le32(b)) {
            gr->cid = (uint64_t)fmx_get_le32(b + 4) << 32 | fmx_get_le32(b + 8);
            has_cid = 1;
        }
        memcpy(bo.bytes + bo.size, b + 12, res->lens[i] - 12);
        bo.size += res->lens[i] - 12;
        at += res->lens[i];
    }
    free(res->data);
    out->ninfo = (size_t)(gr->want_cid && has_cid) + (bo.size > 0);
    if (out->ninfo)
        PMIX_INFO_CREATE(out->info, out->ninfo);
    if (gr->want_cid && has_cid) {
        size_t cid = (size_t)gr->cid;

        PMIX_INFO_LOAD(&out->info[k++], PMIX_GROUP_CONTEXT_ID, &cid, PMIX_SIZE);
    }
    if (bo.size)
        PMIX_INFO_LOAD(&out->info[k++], PMIX_GROUP_ENDPT_DATA, &bo, PMIX_BYTE_OBJECT);
    free(bo.bytes);
    fmx_debug("glue", "group %s %s over %u daemon(s)%s", gr->name,
              gr->op == PMIX_GROUP_CONSTRUCT ? "constructed" : "destructed", res->count,
              gr->want_cid && has_cid ? ", context id given" : "");
    gr->cb(PMIX_SUCCESS, out->info, out->ninfo, gr->cbdata, result_release, out);
    group_free(gr);
}

static void start_fence(fmx_glue_t *g, struct group *gr)
{
    size_t blen = 12 + gr->elen;
    char tag[PMIX_MAX_NSLEN + 16];
    uint8_t *blob = malloc(blen);
    int rc = -ENOMEM;

    snprintf(tag, sizeof(tag), "%s:%.*s", gr->op == PMIX_GROUP_CONSTRUCT ? "grp" : "grpx",
             PMIX_MAX_NSLEN, gr->name);
    if (blob) {
        fmx_put_le32(blob, (uint32_t)gr->has_cid);
        fmx_put_le32(blob + 4, (uint32_t)(gr->cid >> 32));
        fmx_put_le32(blob + 8, (uint32_t)gr->cid);
        if (gr->elen)
            memcpy(blob + 12, gr->endpt, gr->elen);
        rc = fmx_glue_collective(g, tag, gr->procs, gr->nprocs, blob, blen,
                                 gr->op == PMIX_GROUP_CONSTRUCT, gr->timeout_ms, group_done, gr);
    }
    free(blob);
    if (rc)
        group_fail(gr, fmx_glue_status(rc));
}

/* ---- context ids: node 0's counter ---- */

static void cid_answered(void *arg, int status, const void *blob, size_t len)
{
    struct group *gr = arg;

    if (status || len != 8) {
        fmx_log(FMX_LOG_ERROR, "glue", "group %s: no context id from node 0: %s", gr->name,
                status ? fmx_strerror(status) : "a malformed answer");
        group_fail(gr, status ? fmx_glue_status(status) : PMIX_ERROR);
        return;
    }
    gr->cid = (uint64_t)fmx_get_le32(blob) << 32 | fmx_get_le32((const uint8_t *)blob + 4);
    gr->has_cid = 1;
    start_fence(fmx_glue_current, gr);
}

static uint64_t next_cid(fmx_glue_t *g)
{
    return ++g->next_cid;
}

static void on_cid_request(void *arg, uint32_t from, const void *key, size_t keylen,
                           fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;
    uint64_t cid = next_cid(g);
    uint8_t b[8];

    (void)from, (void)key, (void)keylen;
    fmx_put_le32(b, (uint32_t)(cid >> 32));
    fmx_put_le32(b + 4, (uint32_t)cid);
    fmx_dmodex_respond(g->eng, token, g->job.self == 0 ? 0 : -EINVAL, b, sizeof(b));
}

int fmx_glue_group_start(fmx_glue_t *g)
{
    return fmx_dmodex_add_handler(g->eng, CID_PREFIX, on_cid_request, g);
}

void fmx_glue_group_stop(fmx_glue_t *g)
{
    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, CID_PREFIX);
}

static void run_group(fmx_glue_t *g, struct req *r)
{
    struct group *gr = (struct group *)r;
    uint32_t *members = calloc(g->job.map->nnodes, sizeof(*members)), n = 0;
    int rc = members ? fmx_glue_members(g, gr->procs, gr->nprocs, members, &n) : -ENOMEM;
    uint64_t seq;
    char key[64];

    if (rc || !n) {
        free(members);
        group_fail(gr, rc ? fmx_glue_status(rc) : PMIX_ERR_BAD_PARAM);
        return;
    }
    /* the id is taken once, by the lowest member daemon (members ascend) */
    if (gr->op != PMIX_GROUP_CONSTRUCT || !gr->want_cid || members[0] != g->job.self) {
        free(members);
        start_fence(g, gr);
        return;
    }
    free(members);
    if (g->job.self == 0) {
        gr->cid = next_cid(g);
        gr->has_cid = 1;
        start_fence(g, gr);
        return;
    }
    seq = ++g->req_seq; /* distinct requests are not merged */
    snprintf(key, sizeof(key), "%s%u:%llu", CID_PREFIX, g->job.self, (unsigned long long)seq);
    if ((rc = fmx_dmodex_request(g->eng, 0, key, strlen(key), gr->timeout_ms, cid_answered, gr)))
        group_fail(gr, fmx_glue_status(rc));
}

static void cancel_group(fmx_glue_t *g, struct req *r)
{
    struct group *gr = (struct group *)r;

    if (fmx_glue_pmix_alive(g))
        gr->cb(PMIX_ERR_UNREACH, NULL, 0, gr->cbdata, NULL, NULL);
    group_free(gr);
}

static const struct req_ops group_ops = {
    .needs_engine = 1, .run = run_group, .cancel = cancel_group};

pmix_status_t fmx_glue_up_group(pmix_group_operation_t op, char grp[], const pmix_proc_t procs[],
                                size_t nprocs, const pmix_info_t directives[], size_t ndirs,
                                pmix_info_cbfunc_t cbfunc, void *cbdata)
{
    struct group *gr;

    if (op != PMIX_GROUP_CONSTRUCT && op != PMIX_GROUP_DESTRUCT)
        return PMIX_ERR_NOT_SUPPORTED;
    if (!nprocs || !(gr = calloc(1, sizeof(*gr))))
        return nprocs ? PMIX_ERR_NOMEM : PMIX_ERR_BAD_PARAM;
    gr->base.ops = &group_ops;
    gr->op = op;
    gr->cb = cbfunc;
    gr->cbdata = cbdata;
    gr->nprocs = nprocs;
    gr->timeout_ms = fmx_glue_timeout(directives, ndirs);
    if (!(gr->name = strdup(grp ? grp : "")) || !(gr->procs = malloc(nprocs * sizeof(*procs)))) {
        group_free(gr);
        return PMIX_ERR_NOMEM;
    }
    memcpy(gr->procs, procs, nprocs * sizeof(*procs));
    qsort(gr->procs, nprocs, sizeof(*procs), fmx_glue_cmp_proc);
    for (size_t i = 0; i < ndirs; i++) {
        const pmix_info_t *d = &directives[i];

        if (PMIX_CHECK_KEY(d, PMIX_GROUP_ASSIGN_CONTEXT_ID))
            gr->want_cid = PMIX_INFO_TRUE(d);
        else if (PMIX_CHECK_KEY(d, PMIX_GROUP_ENDPT_DATA) && d->value.type == PMIX_BYTE_OBJECT &&
                 d->value.data.bo.size && !gr->endpt) {
            if (!(gr->endpt = malloc(d->value.data.bo.size))) {
                group_free(gr);
                return PMIX_ERR_NOMEM;
            }
            memcpy(gr->endpt, d->value.data.bo.bytes, d->value.data.bo.size);
            gr->elen = d->value.data.bo.size;
        }
    }
    fmx_glue_post(fmx_glue_current, &gr->base);
    return PMIX_SUCCESS;
}
