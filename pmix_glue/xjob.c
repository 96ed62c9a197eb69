/* Another job's namespaces. Jobs of the same resident daemons (pmixd --listen) whose node 0 is
 * served by the same service meet there: a connect naming another job's processes exchanges a
 * description of each side's namespaces through the session's publish / lookup (connect.c);
 * each side registers the other's here (no local ranks: PMIx_Get of its job-level keys is
 * answered by libpmix), and a rank's data is asked of our node 0, which asks the service,
 * which asks the other job's node 0, which reads it as for any rank of its own (dmodex.c). */
#include "glue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XJOB_PREFIX "pmix+x:"

struct foreign_ns {
    struct foreign_ns *next;
    char name[PMIX_MAX_NSLEN + 1];
    char *job; /* the namespace of the job it belongs to */
    uint32_t size;
};

/* How many meetings over one set of processes this daemon has had: the n-th meets the other
 * side's n-th (each side's daemons take part in every one over the set). */
struct meet_count {
    struct meet_count *next;
    uint64_t hash;
    uint32_t n;
};

static uint64_t procs_hash(const pmix_proc_t *procs, size_t nprocs)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a of every proc, as collectives key them */
    uint8_t buf[PMIX_MAX_NSLEN + 8];

    for (size_t i = 0; i < nprocs; i++) {
        size_t n = fmx_glue_put_proc(&procs[i], buf);

        for (size_t k = 0; k < n; k++)
            h = (h ^ buf[k]) * 1099511628211ull;
    }
    return h;
}

static int split_procs(fmx_glue_t *g, const pmix_proc_t *procs, size_t nprocs, const char *what,
                       pmix_proc_t **own, size_t *nown)
{
    *own = NULL;
    *nown = 0;
    for (size_t i = 0; i < nprocs; i++) {
        if (fmx_glue_nspace(g, procs[i].nspace))
            continue;
        if (!g->job.resident) {
            fmx_log(FMX_LOG_ERROR, "glue",
                    "%s names namespace %.*s, not one of this job's: another job is reached "
                    "only through the service of resident daemons (pmixd --listen)",
                    what, PMIX_MAX_NSLEN, procs[i].nspace);
            return -EINVAL;
        }
        if (!*own && !(*own = calloc(nprocs, sizeof(**own))))
            return -ENOMEM;
    }
    for (size_t i = 0; *own && i < nprocs; i++)
        if (fmx_glue_nspace(g, procs[i].nspace))
            (*own)[(*nown)++] = procs[i];
    if (*own && !*nown) {
        free(*own);
        *own = NULL;
        return -EINVAL;
    }
    return 0;
}

void fmx_glue_describe_nspace(fmx_glue_t *g, const fmx_nspace_map_t *ns, fmx_pack_t *p)
{
    const fmx_jobmap_t *map = g->job.map;

    fmx_pack_str(p, g->job.nspace);
    fmx_pack_str(p, ns->name);
    fmx_pack_u32(p, ns->size);
    fmx_pack_u32(p, map->nnodes);
    for (uint32_t i = 0; i < map->nnodes; i++)
        fmx_pack_str(p, map->nodes[i].name);
    for (uint32_t r = 0; r < ns->size; r++)
        fmx_pack_u32(p, ns->node_of[r]);
}

const char *fmx_glue_foreign_job(const fmx_glue_t *g, const char *nspace)
{
    for (const struct foreign_ns *f = g->foreign; f; f = f->next)
        if (!strncmp(f->name, nspace, PMIX_MAX_NSLEN))
            return f->job;
    return NULL;
}

int fmx_glue_job_collective(fmx_glue_t *g, const char *tag, const char *xtag, const char *what,
                            const pmix_proc_t *procs, size_t nprocs, pmix_proc_t **own,
                            size_t *nown, const void *blob, size_t len, int collect,
                            uint64_t timeout_ms, fmx_fence_done_f cb, void *arg)
{
    char key[48];
    int rc = split_procs(g, procs, nprocs, what, own, nown);

    if (rc || !*own)
        return rc
            ? rc
            : fmx_glue_collective(g, tag, procs, nprocs, blob, len, collect, timeout_ms, cb, arg);
    snprintf(key, sizeof(key), "x%s:%016llx", xtag, (unsigned long long)procs_hash(procs, nprocs));
    return fmx_glue_collective(g, key, *own, *nown, blob, len, collect, timeout_ms, cb, arg);
}

/* The described namespace as a job map of its own: its job's nodes, then one more that runs
 * none of its ranks, this daemon's (the node it is registered on). */
static int read_desc(fmx_pack_t *p, fmx_jobmap_t *map, char **job, char **name, uint32_t *size,
                     fmx_error_t *err)
{
    uint32_t nnodes, *node_of = NULL;
    int rc = -EPROTO;

    *job = fmx_unpack_str(p);
    *name = fmx_unpack_str(p);
    *size = fmx_unpack_u32(p);
    nnodes = fmx_unpack_u32(p);
    if (p->err || !*job || !*name || strlen(*name) > PMIX_MAX_NSLEN || nnodes > p->len ||
        *size > p->len / 4 || !*size) {
        fmx_errprintf(err, "a malformed description of another job's namespace");
        return rc;
    }
    for (uint32_t i = 0; i < nnodes && !p->err; i++) {
        char *node = fmx_unpack_str(p);

        if (node && fmx_jobmap_add_node(map, node, node, 0))
            p->err = 1;
        free(node);
    }
    if (!p->err && !(node_of = calloc(*size, sizeof(*node_of))))
        p->err = 1;
    for (uint32_t r = 0; r < *size && !p->err; r++)
        if ((node_of[r] = fmx_unpack_u32(p)) >= nnodes)
            p->err = 1;
    /* nodes of the same name are one in the map: a description naming a node twice fails */
    if (!p->err && map->nnodes == nnodes && !fmx_jobmap_add_node(map, "", "", 0))
        rc = fmx_jobmap_add_nspace(map, *name, *size, node_of, err);
    else
        fmx_errprintf(err, "a malformed description of namespace %s of job %s", *name, *job);
    free(node_of);
    return rc;
}

int fmx_glue_add_foreign(fmx_glue_t *g, const void *desc, size_t len, fmx_error_t *err)
{
    fmx_jobmap_t map = {0};
    fmx_glue_job_t job = g->job;
    struct foreign_ns *f = NULL;
    char *jobns = NULL, *name = NULL;
    pmix_info_t *info = NULL;
    size_t ninfo = 0;
    uint32_t size = 0;
    pmix_status_t st;
    fmx_pack_t p;
    int rc;

    fmx_unpack_init(&p, desc, len);
    if ((rc = read_desc(&p, &map, &jobns, &name, &size, err)))
        goto out;
    if (fmx_glue_nspace(g, name) || fmx_glue_foreign_job(g, name)) {
        if (strcmp(jobns, g->job.nspace) && fmx_glue_nspace(g, name)) {
            fmx_errprintf(err, "job %s names a namespace of this job's, %s", jobns, name);
            rc = -EEXIST;
        }
        goto out; /* registered already */
    }
    job.map = &map;
    job.nspace = jobns;
    job.self = map.nnodes - 1;
    job.local_cpusets = NULL;
    if ((rc = fmx_glue_job_info(&job, &map.nspaces[0], NULL, NULL, &info, &ninfo))) {
        fmx_errprintf(err, "cannot build the job information of %s: %s", name, fmx_strerror(rc));
        goto out;
    }
    st = fmx_glue_register_sync(name, 0, info, ninfo);
    PMIX_INFO_FREE(info, ninfo);
    if (st != PMIX_SUCCESS) {
        fmx_errprintf(err, "PMIx_server_register_nspace(%s): %s", name, PMIx_Error_string(st));
        rc = -EIO;
        goto out;
    }
    if (!(f = calloc(1, sizeof(*f)))) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->job = jobns;
    jobns = NULL;
    f->size = size;
    f->next = g->foreign;
    g->foreign = f;
    fmx_debug("glue", "namespace %s of job %s (%u ranks) registered", name, f->job, size);
out:
    free(jobns);
    free(name);
    fmx_jobmap_free(&map);
    return rc;
}

struct meet {
    fmx_glue_t *g;
    int outstanding, describe;
    pmix_status_t status;
    char what[16];
    fmx_glue_met_f done;
    void *arg;
};

static void meet_end(struct meet *m)
{
    if (--m->outstanding)
        return;
    m->done(m->arg, m->status);
    free(m);
}

static void published(pmix_status_t st, void *cbdata)
{
    struct meet *m = cbdata;

    if (st != PMIX_SUCCESS) {
        fmx_log(FMX_LOG_ERROR, "glue", "%s across jobs: publishing this job's part: %s", m->what,
                PMIx_Error_string(st));
        m->status = st;
    }
    meet_end(m);
}

static void found(pmix_status_t st, pmix_pdata_t data[], size_t ndata, void *cbdata)
{
    struct meet *m = cbdata;
    fmx_error_t err = {{0}};

    if (st != PMIX_SUCCESS) {
        fmx_log(FMX_LOG_ERROR, "glue", "%s across jobs: the other job's part%s: %s", m->what,
                st == PMIX_ERR_TIMEOUT ? " did not come in time" : "", PMIx_Error_string(st));
        m->status = st;
    }
    for (size_t i = 0; i < ndata && st == PMIX_SUCCESS && m->describe; i++) {
        if (data[i].value.type != PMIX_BYTE_OBJECT ||
            fmx_glue_add_foreign(m->g, data[i].value.data.bo.bytes, data[i].value.data.bo.size,
                                 &err)) {
            fmx_log(FMX_LOG_ERROR, "glue", "%s across jobs: %s", m->what,
                    err.text[0] ? err.text : "the other job's part is not a description");
            m->status = PMIX_ERR_BAD_PARAM;
        }
    }
    meet_end(m);
}

static uint32_t count_meeting(fmx_glue_t *g, uint64_t hash)
{
    struct meet_count *c;

    for (c = g->meetings; c; c = c->next)
        if (c->hash == hash)
            return ++c->n;
    if (!(c = calloc(1, sizeof(*c))))
        return 0;
    *c = (struct meet_count){.next = g->meetings, .hash = hash, .n = 1};
    g->meetings = c;
    return 1;
}

int fmx_glue_meet(fmx_glue_t *g, const char *what, const pmix_proc_t *procs, size_t nprocs,
                  int describe, uint64_t timeout_ms, fmx_glue_met_f done, void *arg)
{
    uint64_t hash = procs_hash(procs, nprocs);
    uint32_t n = count_meeting(g, hash), secs = (uint32_t)((timeout_ms + 999) / 1000);
    struct meet *m = calloc(1, sizeof(*m));
    char **keys = calloc(nprocs + 1, sizeof(*keys));
    const pmix_proc_t *asker = NULL;
    size_t nkeys = 0;
    pmix_info_t wait[2];
    bool yes = true;
    pmix_status_t st;

    if (!m || !keys || !n) {
        free(m);
        free(keys);
        return -ENOMEM;
    }
    *m = (struct meet){.g = g, .describe = describe, .done = done, .arg = arg, .outstanding = 1};
    snprintf(m->what, sizeof(m->what), "%s", what);
    for (size_t i = 0; i < nprocs; i++) {
        const fmx_nspace_map_t *ns = fmx_glue_nspace(g, procs[i].nspace);
        char key[PMIX_MAX_KEYLEN + 1];
        pmix_info_t info[3];
        pmix_data_range_t range = PMIX_RANGE_SESSION;
        pmix_persistence_t persist = PMIX_PERSIST_SESSION;
        pmix_byte_object_t bo;
        pmix_proc_t owner;
        fmx_pack_t p;

        if (i && PMIX_CHECK_NSPACE(procs[i].nspace, procs[i - 1].nspace))
            continue;
        snprintf(key, sizeof(key), "fmx.%s.%016llx.%u.%.*s", what, (unsigned long long)hash, n,
                 PMIX_MAX_NSLEN, procs[i].nspace);
        if (!ns) {
            keys[nkeys++] = strdup(key);
            continue;
        }
        asker = asker ? asker : &procs[i];
        fmx_pack_init(&p);
        if (describe)
            fmx_glue_describe_nspace(g, ns, &p);
        else
            fmx_pack_u32(&p, n);
        bo.bytes = (char *)p.data;
        bo.size = p.len;
        PMIX_INFO_LOAD(&info[0], key, &bo, PMIX_BYTE_OBJECT);
        PMIX_INFO_LOAD(&info[1], PMIX_RANGE, &range, PMIX_DATA_RANGE);
        PMIX_INFO_LOAD(&info[2], PMIX_PERSISTENCE, &persist, PMIX_PERSIST);
        PMIX_LOAD_PROCID(&owner, ns->name, PMIX_RANK_WILDCARD);
        m->outstanding++;
        st = p.err ? PMIX_ERR_NOMEM : fmx_glue_up_publish(&owner, info, 3, published, m);
        fmx_pack_free(&p);
        for (int k = 0; k < 3; k++)
            PMIX_INFO_DESTRUCT(&info[k]);
        if (st != PMIX_SUCCESS)
            published(st, m);
    }
    PMIX_INFO_LOAD(&wait[0], PMIX_WAIT, &yes, PMIX_BOOL);
    PMIX_INFO_LOAD(&wait[1], PMIX_TIMEOUT, &secs, PMIX_UINT32);
    m->outstanding++;
    st = fmx_glue_up_lookup(asker ? asker : &procs[0], keys, wait, timeout_ms ? 2 : 1, found, m);
    if (st != PMIX_SUCCESS)
        found(st, NULL, 0, m);
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
    meet_end(m);
    return 0;
}

/* The service's request to another job: its namespace, NUL, the engine key of the rank. */
static uint8_t *fetch_request(const char *job, const pmix_proc_t *proc, size_t *len)
{
    size_t jl = strlen(job) + 1, pre = strlen(XJOB_PREFIX);
    uint8_t *req = malloc(pre + jl + strlen(GLUE_KEY_PREFIX) + PMIX_MAX_NSLEN + 8);

    if (!req)
        return NULL;
    memcpy(req, XJOB_PREFIX, pre);
    memcpy(req + pre, job, jl);
    *len = pre + jl +
        fmx_glue_proc_key(proc, req + pre + jl, strlen(GLUE_KEY_PREFIX) + PMIX_MAX_NSLEN + 8);
    return req;
}

int fmx_glue_fetch_foreign(fmx_glue_t *g, const pmix_proc_t *proc, uint64_t timeout_ms,
                           fmx_glue_answer_f cb, void *cbarg)
{
    const char *job = fmx_glue_foreign_job(g, proc->nspace);
    size_t len = 0, pre = strlen(XJOB_PREFIX);
    uint8_t *req;
    int rc;

    if (!job || !g->job.resident || !g->host.service)
        return -ENOENT;
    if (!(req = fetch_request(job, proc, &len)))
        return -ENOMEM;
    fmx_debug("glue", "direct modex: %s:%u of job %s, through the service", proc->nspace,
              proc->rank, job);
    if (g->job.self == 0)
        rc = g->host.service(g->host_arg, FMX_GLUE_SVC_FETCH, req + pre, len - pre, timeout_ms, cb,
                             cbarg);
    else
        rc = fmx_dmodex_request(g->eng, 0, req, len, timeout_ms, cb, cbarg);
    free(req);
    return rc;
}

struct relay {
    fmx_glue_t *g;
    fmx_dmodex_req_t *token;
};

static void relayed(void *arg, int status, const void *blob, size_t len)
{
    struct relay *r = arg;

    fmx_dmodex_respond(r->g->eng, r->token, status, blob, len);
    free(r);
}

/* node 0: another node's request for a rank of another job goes to the service */
static void on_request(void *arg, uint32_t from, const void *key, size_t keylen,
                       fmx_dmodex_req_t *token)
{
    fmx_glue_t *g = arg;
    size_t pre = strlen(XJOB_PREFIX);
    struct relay *r = malloc(sizeof(*r));
    int rc = -ENOMEM;

    (void)from;
    if (r) {
        *r = (struct relay){.g = g, .token = token};
        rc = g->job.self == 0 && g->job.resident && g->host.service
            ? g->host.service(g->host_arg, FMX_GLUE_SVC_FETCH, (const uint8_t *)key + pre,
                              keylen - pre, fmx_engine_default_timeout_ms(g->eng), relayed, r)
            : -EINVAL;
    }
    if (rc) {
        free(r);
        fmx_dmodex_respond(g->eng, token, rc, NULL, 0);
    }
}

int fmx_glue_xjob_start(fmx_glue_t *g)
{
    return fmx_dmodex_add_handler(g->eng, XJOB_PREFIX, on_request, g);
}

void fmx_glue_xjob_stop(fmx_glue_t *g)
{
    struct foreign_ns *f;

    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, XJOB_PREFIX);
    while ((f = g->foreign)) {
        g->foreign = f->next;
        free(f->job);
        free(f);
    }
    while (g->meetings) {
        struct meet_count *c = g->meetings;

        g->meetings = c->next;
        free(c);
    }
}
