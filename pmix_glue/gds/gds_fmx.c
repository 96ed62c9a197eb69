/* fmx's GDS component for libpmix (pmix_mca_gds_fmx.so), loaded by pmixd's PMIx server and by
 * its ranks' libpmix from the directory pmixd names in PMIX_MCA_mca_base_component_path.
 *
 * The server: every operation goes to libpmix's own "hash" module (obtained from its exported
 * component), which keeps serving the server's own needs; in addition, each rank's keys of the
 * job (gds_job.c), its commits, what a collecting fence brings (store_modex) and a direct
 * modex's answers are written once per node into the store of gds_store.h, under the
 * directory pmixd gives its ranks (FMX_GDS_DIR). A rank: a Get of a rank's key is looked up
 * there, in the rank's own address space (fetch, thread-safe: libpmix calls it from the
 * application's thread); what is not there (job-level keys, data not brought yet) is not
 * found here and libpmix goes on as with hash: its own cache, then the server.
 * Operations the framework runs over every active module itself (init, finalize, add and
 * delete a namespace, setup_fork) are not passed on: hash runs them as an active module of
 * its own. It is built against libpmix 4.2.2's internal headers, whose structs have no ABI
 * check at load: query declines any other libpmix (PMIx_Get_version), which then goes on
 * with its own modules. */
#include "gds_fmx.h"
#include "gds_store.h"

#include "src/util/pmix_argv.h"

#include <pmix.h>

#include <stdlib.h>
#include <string.h>

#define FMX_GDS_NAME "fmx"
/* below ds21's 120 when that is asked for by name, above every module's default */
#define FMX_GDS_PRIORITY_ASKED 140
#define FMX_GDS_PRIORITY 5

extern pmix_gds_base_component_t pmix_mca_gds_hash_component;
PMIX_EXPORT extern pmix_gds_base_component_t pmix_mca_gds_fmx_component;

pmix_gds_base_module_t *fmx_gds_hash;

/* A rank maps its namespace's store now, not at its first Get. */
static pmix_status_t fmx_init(pmix_info_t info[], size_t ninfo)
{
    const char *dir = fmx_gds_dir(), *ns = getenv("PMIX_NAMESPACE");

    (void)info;
    (void)ninfo;
    if (dir && ns && !PMIX_PEER_IS_SERVER(pmix_globals.mypeer))
        fmx_store_open(dir, ns);
    return PMIX_SUCCESS;
}

static void fmx_finalize(void)
{
}

/* Chosen when PMIX_GDS_MODULE names it (pmixd sets that for its namespaces and ranks), else
 * never over libpmix's own. */
static pmix_status_t fmx_assign(pmix_info_t *info, size_t ninfo, int *priority)
{
    *priority = FMX_GDS_PRIORITY;
    for (size_t n = 0; info && n < ninfo; n++) {
        char **options;

        if (strncmp(info[n].key, PMIX_GDS_MODULE, PMIX_MAX_KEYLEN) ||
            info[n].value.type != PMIX_STRING || !info[n].value.data.string)
            continue;
        options = pmix_argv_split(info[n].value.data.string, ',');
        for (size_t m = 0; options && options[m]; m++)
            if (!strcmp(options[m], FMX_GDS_NAME))
                *priority = FMX_GDS_PRIORITY_ASKED;
        pmix_argv_free(options);
    }
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_cache_job_info(struct pmix_namespace_t *ns, pmix_info_t info[],
                                        size_t ninfo)
{
    return fmx_gds_hash->cache_job_info(ns, info, ninfo);
}

static pmix_status_t fmx_store_job_info(const char *nspace, pmix_buffer_t *buf)
{
    return fmx_gds_hash->store_job_info(nspace, buf);
}

const char *fmx_gds_dir(void)
{
    const char *d = getenv("FMX_GDS_DIR");

    return d && *d ? d : NULL;
}

/* The server: kv of proc into the store, its value packed as libpmix packs one. Qualified
 * values and a rank not given stay with hash (and the server), as does anything that cannot
 * be written: a rank that does not find a key here asks as it would without the store. */
int fmx_gds_put(const char *dir, const pmix_proc_t *proc, const pmix_kval_t *kv)
{
    pmix_data_buffer_t db;
    int rc = -1;

    if (!dir || proc->rank > PMIX_RANK_VALID || !kv->key || !kv->value ||
        PMIX_CHECK_KEY(kv, PMIX_QUALIFIED_VALUE))
        return -1;
    PMIX_DATA_BUFFER_CONSTRUCT(&db);
    if (PMIx_Data_pack(NULL, &db, kv->value, 1, PMIX_VALUE) == PMIX_SUCCESS &&
        !fmx_store_put(dir, proc->nspace, proc->rank, kv->key, db.base_ptr, db.bytes_used))
        rc = 0;
    else
        pmix_output_verbose(1, pmix_gds_base_output, "gds:fmx: %s of %s:%u is not in the store",
                            kv->key, proc->nspace, proc->rank);
    PMIX_DATA_BUFFER_DESTRUCT(&db);
    return rc;
}

/* The server: a local rank's commit (its local and global keys), and a direct modex's answer
 * for a local rank (a rank of another node's keys, which libpmix stores as remote through the
 * namespace's module): hash's, and the store's, where the node's other ranks find them too. */
static pmix_status_t fmx_store(const pmix_proc_t *proc, pmix_scope_t scope, pmix_kval_t *kv)
{
    pmix_status_t rc = fmx_gds_hash->store(proc, scope, kv);

    if (rc == PMIX_SUCCESS && PMIX_PEER_IS_SERVER(pmix_globals.mypeer) &&
        (scope == PMIX_LOCAL || scope == PMIX_GLOBAL || scope == PMIX_REMOTE))
        (void)fmx_gds_put(fmx_gds_dir(), proc, kv);
    return rc;
}

/* One proc's part of a fence's blob, into hash's remote table (as hash's own store_modex puts
 * it: a rank not given under rank 0) and into the store. pmix_gds_base_store_modex of libpmix
 * 4.2.2 (gds_base_fns.c) hands over the blob's bytes in pbkt, then clears pbkt's pointer
 * without freeing them: they are freed here, once, where nothing else will. */
static pmix_status_t store_proc(pmix_gds_base_ctx_t ctx, pmix_proc_t *proc,
                                pmix_gds_modex_key_fmt_t key_fmt, char **kmap, pmix_buffer_t *pbkt)
{
    pmix_status_t rc;
    pmix_kval_t kv;
    pmix_proc_t at = *proc;

    if (at.rank == PMIX_RANK_UNDEF)
        at.rank = 0;
    PMIX_CONSTRUCT(&kv, pmix_kval_t);
    while ((rc = pmix_gds_base_modex_unpack_kval(key_fmt, pbkt, kmap, &kv)) == PMIX_SUCCESS) {
        rc = fmx_gds_hash->store(&at, PMIX_REMOTE, &kv);
        if (rc != PMIX_SUCCESS)
            break;
        (void)fmx_gds_put((const char *)ctx, proc, &kv);
        PMIX_DESTRUCT(&kv);
        PMIX_CONSTRUCT(&kv, pmix_kval_t);
    }
    PMIX_DESTRUCT(&kv);
    free(pbkt->base_ptr);
    pbkt->base_ptr = NULL;
    return rc == PMIX_ERR_UNPACK_READ_PAST_END_OF_BUFFER ? PMIX_SUCCESS : rc;
}

/* What a collecting fence brought, unpacked once: hash's (the server's own) and the store's. */
static pmix_status_t fmx_store_modex(struct pmix_namespace_t *ns, pmix_buffer_t *buf, void *cbdata)
{
    return pmix_gds_base_store_modex(ns, buf, (pmix_gds_base_ctx_t)fmx_gds_dir(), store_proc,
                                     cbdata);
}

struct took {
    pmix_value_t *v;
};

/* A value found in the store, unpacked while its file is mapped. */
static int take(void *arg, const void *val, size_t len)
{
    struct took *t = arg;
    pmix_data_buffer_t db;
    int32_t cnt = 1;
    pmix_status_t rc;

    PMIX_VALUE_CREATE(t->v, 1);
    if (!t->v)
        return -ENOMEM;
    /* read in place: the buffer is the mapping's, never freed */
    memset(&db, 0, sizeof(db));
    db.base_ptr = db.unpack_ptr = (char *)val;
    db.pack_ptr = (char *)val + len;
    db.bytes_allocated = db.bytes_used = len;
    rc = PMIx_Data_unpack(NULL, &db, t->v, &cnt, PMIX_VALUE);
    memset(&db, 0, sizeof(db));
    if (rc != PMIX_SUCCESS) {
        PMIX_VALUE_RELEASE(t->v);
        t->v = NULL;
        return -EPROTO;
    }
    return 0;
}

/* A rank: another rank's key, from the store (any thread). The server: hash's. */
static pmix_status_t fmx_fetch(const pmix_proc_t *proc, pmix_scope_t scope, bool copy,
                               const char *key, pmix_info_t info[], size_t ninfo, pmix_list_t *kvs)
{
    const char *dir = fmx_gds_dir();
    struct took t = {NULL};
    pmix_kval_t *kv;

    if (PMIX_PEER_IS_SERVER(pmix_globals.mypeer))
        return fmx_gds_hash->fetch(proc, scope, copy, key, info, ninfo, kvs);
    /* job-level keys (rank wildcard) are in hash; a rank's own keys of the job (its local
     * rank, its host...) are here, as are the keys it committed */
    if (!dir || !key || !proc || proc->rank > PMIX_RANK_VALID ||
        fmx_store_find(dir, proc->nspace, proc->rank, key, take, &t))
        return PMIX_ERR_NOT_FOUND;
    if (!(kv = PMIX_NEW(pmix_kval_t)) || !(kv->key = strdup(key))) {
        if (kv)
            PMIX_RELEASE(kv);
        PMIX_VALUE_RELEASE(t.v);
        return PMIX_ERR_NOMEM;
    }
    kv->value = t.v;
    pmix_list_append(kvs, &kv->super);
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_setup_fork(const pmix_proc_t *proc, char ***env)
{
    (void)proc;
    (void)env;
    return PMIX_SUCCESS;
}

/* The server: a namespace with ranks here gets its store before they start. */
static pmix_status_t fmx_add_nspace(const char *nspace, uint32_t nlocalprocs, pmix_info_t info[],
                                    size_t ninfo)
{
    const char *dir = fmx_gds_dir();

    (void)info;
    (void)ninfo;
    if (dir && nlocalprocs && PMIX_PEER_IS_SERVER(pmix_globals.mypeer) &&
        fmx_store_create(dir, nspace))
        pmix_output_verbose(1, pmix_gds_base_output, "gds:fmx: no store for %s", nspace);
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_del_nspace(const char *nspace)
{
    fmx_gds_job_forget(nspace);
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_assemb_kvs_req(const pmix_proc_t *proc, pmix_list_t *kvs,
                                        pmix_buffer_t *buf, void *cbdata)
{
    return fmx_gds_hash->assemb_kvs_req ? fmx_gds_hash->assemb_kvs_req(proc, kvs, buf, cbdata)
                                        : PMIX_SUCCESS;
}

static pmix_status_t fmx_accept_kvs_resp(pmix_buffer_t *buf)
{
    return fmx_gds_hash->accept_kvs_resp ? fmx_gds_hash->accept_kvs_resp(buf) : PMIX_SUCCESS;
}

/* The session-, node- and app-level arrays a rank gets after its job's data: fmx_gds_job_reply
 * sent them already (hash's reply holds them; libpmix asks again of any module not named
 * "hash"). */
static pmix_status_t fmx_fetch_arrays(struct pmix_peer_t *pr, pmix_buffer_t *buf)
{
    if (fmx_gds_job_known(((pmix_peer_t *)pr)->nptr->nspace))
        return PMIX_SUCCESS;
    return fmx_gds_hash->fetch_arrays(pr, buf);
}

static pmix_gds_base_module_t fmx_module = {
    .name = FMX_GDS_NAME,
    .is_tsafe = true,
    .init = fmx_init,
    .finalize = fmx_finalize,
    .assign_module = fmx_assign,
    .cache_job_info = fmx_cache_job_info,
    .register_job_info = fmx_gds_job_reply,
    .store_job_info = fmx_store_job_info,
    .store = fmx_store,
    .store_modex = fmx_store_modex,
    .fetch = fmx_fetch,
    .setup_fork = fmx_setup_fork,
    .add_nspace = fmx_add_nspace,
    .del_nspace = fmx_del_nspace,
    .assemb_kvs_req = fmx_assemb_kvs_req,
    .accept_kvs_resp = fmx_accept_kvs_resp,
    .fetch_arrays = fmx_fetch_arrays,
};

/* Only the libpmix this was built against: its structs are this file's. */
static int same_libpmix(void)
{
    const char *v = PMIx_Get_version(); /* "OpenPMIx 4.2.2rc2 (PMIx Standard: 4.2, ...)" */
    const char *num = v ? strchr(v, ' ') : NULL;
    size_t n = strlen(PMIX_VERSION);

    return num && !strncmp(num + 1, PMIX_VERSION, n) && (num[1 + n] == ' ' || !num[1 + n]);
}

static int fmx_query(pmix_mca_base_module_t **module, int *priority)
{
    pmix_mca_base_module_t *h = NULL;
    int hp = 0;

    *module = NULL;
    *priority = 0;
    if (!same_libpmix() || !pmix_mca_gds_hash_component.base.pmix_mca_query_component ||
        pmix_mca_gds_hash_component.base.pmix_mca_query_component(&h, &hp) != PMIX_SUCCESS || !h)
        return PMIX_ERROR; /* libpmix goes on with its own modules */
    fmx_gds_hash = (pmix_gds_base_module_t *)h;
    *priority = FMX_GDS_PRIORITY;
    *module = (pmix_mca_base_module_t *)&fmx_module;
    return PMIX_SUCCESS;
}

pmix_gds_base_component_t pmix_mca_gds_fmx_component = {
    .base =
        {
            PMIX_GDS_BASE_VERSION_1_0_0,
            .pmix_mca_component_name = FMX_GDS_NAME,
            PMIX_MCA_BASE_MAKE_VERSION(component, 0, 1, 0),
            .pmix_mca_query_component = fmx_query,
        },
    .data = {PMIX_MCA_BASE_METADATA_PARAM_CHECKPOINT, .reserved = {0}},
    .priority = FMX_GDS_PRIORITY,
};
