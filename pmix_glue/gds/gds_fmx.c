/* fmx's GDS component for libpmix (pmix_mca_gds_fmx.so), loaded by pmixd's PMIx server and by
 * its ranks' libpmix from the directory pmixd names in PMIX_MCA_mca_base_component_path.
 *
 * This first step stores nothing of its own: every operation that reaches the module through a
 * namespace or a peer goes to libpmix's own "hash" module (obtained from its exported
 * component), so that a namespace registered with PMIX_GDS_MODULE=fmx behaves as one on hash.
 * Operations the framework runs over every active module itself (init, finalize, add and
 * delete a namespace, setup_fork) are not passed on: hash runs them as an active module of
 * its own. It is built against libpmix 4.2.2's internal headers, whose structs have no ABI
 * check at load: query declines any other libpmix (PMIx_Get_version), which then goes on
 * with its own modules. */
#include "src/include/pmix_config.h"

#include "pmix_common.h"
#include "src/include/pmix_globals.h"
#include "src/mca/gds/gds.h"
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

static pmix_gds_base_module_t *hash;

static pmix_status_t fmx_init(pmix_info_t info[], size_t ninfo)
{
    (void)info;
    (void)ninfo;
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
    return hash->cache_job_info(ns, info, ninfo);
}

static pmix_status_t fmx_register_job_info(struct pmix_peer_t *pr, pmix_buffer_t *reply)
{
    return hash->register_job_info(pr, reply);
}

static pmix_status_t fmx_store_job_info(const char *nspace, pmix_buffer_t *buf)
{
    return hash->store_job_info(nspace, buf);
}

static pmix_status_t fmx_store(const pmix_proc_t *proc, pmix_scope_t scope, pmix_kval_t *kv)
{
    return hash->store(proc, scope, kv);
}

static pmix_status_t fmx_store_modex(struct pmix_namespace_t *ns, pmix_buffer_t *buf, void *cbdata)
{
    return hash->store_modex(ns, buf, cbdata);
}

static pmix_status_t fmx_fetch(const pmix_proc_t *proc, pmix_scope_t scope, bool copy,
                               const char *key, pmix_info_t info[], size_t ninfo, pmix_list_t *kvs)
{
    return hash->fetch(proc, scope, copy, key, info, ninfo, kvs);
}

static pmix_status_t fmx_setup_fork(const pmix_proc_t *proc, char ***env)
{
    (void)proc;
    (void)env;
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_add_nspace(const char *nspace, uint32_t nlocalprocs, pmix_info_t info[],
                                    size_t ninfo)
{
    (void)nspace;
    (void)nlocalprocs;
    (void)info;
    (void)ninfo;
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_del_nspace(const char *nspace)
{
    (void)nspace;
    return PMIX_SUCCESS;
}

static pmix_status_t fmx_assemb_kvs_req(const pmix_proc_t *proc, pmix_list_t *kvs,
                                        pmix_buffer_t *buf, void *cbdata)
{
    return hash->assemb_kvs_req ? hash->assemb_kvs_req(proc, kvs, buf, cbdata) : PMIX_SUCCESS;
}

static pmix_status_t fmx_accept_kvs_resp(pmix_buffer_t *buf)
{
    return hash->accept_kvs_resp ? hash->accept_kvs_resp(buf) : PMIX_SUCCESS;
}

static pmix_status_t fmx_fetch_arrays(struct pmix_peer_t *pr, pmix_buffer_t *buf)
{
    return hash->fetch_arrays(pr, buf);
}

static pmix_gds_base_module_t fmx_module = {
    .name = FMX_GDS_NAME,
    .is_tsafe = false,
    .init = fmx_init,
    .finalize = fmx_finalize,
    .assign_module = fmx_assign,
    .cache_job_info = fmx_cache_job_info,
    .register_job_info = fmx_register_job_info,
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
    hash = (pmix_gds_base_module_t *)h;
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
