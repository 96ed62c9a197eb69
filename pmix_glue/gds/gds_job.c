/* The job's data a rank is given at PMIx_Init, when its namespace has a store (gds_fmx.h).
 *
 * libpmix's hash answers a rank's PMIx_Init with the whole namespace: the job-, session-,
 * node- and app-level keys, then one packed blob per rank of that rank's keys (its local and
 * node rank, host, node id, app, locality...). Every rank unpacks every blob into its own hash
 * table: at N ranks on a node, N x N blobs unpacked at start-up. Here the first rank of a
 * namespace to start on this node makes hash build that reply once; the per-rank keys go into
 * the store (where every rank of the node finds them, fetch in gds_fmx.c), the rest is kept as
 * the part all ranks share, and each rank is sent that part and its own blob (from which
 * libpmix learns its own host, node id and app). Runs on the server's one libpmix thread. */
#include "gds_fmx.h"

#include <pmix.h>

#include <stdlib.h>
#include <string.h>

/* deprecated in pmix_common.h's sense, still hash's key for a rank's blob in 4.2.2 */
#define BLOB_KEY "pmix.pblob"

struct job {
    char nspace[PMIX_MAX_NSLEN + 1];
    pmix_buffer_t *shared; /* the name, then every key but the blobs */
    pmix_buffer_t *whole; /* hash's reply, when the store could not take the blobs */
    pmix_byte_object_t *blob; /* each rank's, by rank */
    uint32_t nblob;
    struct job *next;
};

static struct job *jobs;

static struct job *find(const char *nspace)
{
    for (struct job *j = jobs; j; j = j->next)
        if (PMIX_CHECK_NSPACE(j->nspace, nspace))
            return j;
    return NULL;
}

static void drop(struct job *j)
{
    if (j->shared)
        PMIX_RELEASE(j->shared);
    if (j->whole)
        PMIX_RELEASE(j->whole);
    for (uint32_t r = 0; j->blob && r < j->nblob; r++)
        PMIX_BYTE_OBJECT_DESTRUCT(&j->blob[r]);
    free(j->blob);
    free(j);
}

/* One rank's blob: its keys into the store; the blob kept for that rank's own reply. */
static int take_blob(const char *dir, pmix_peer_t *peer, struct job *j, pmix_byte_object_t *bo)
{
    pmix_buffer_t b;
    pmix_proc_t proc;
    pmix_kval_t kv;
    int32_t cnt = 1;
    pmix_status_t rc;
    int bad = 0;

    PMIX_CONSTRUCT(&b, pmix_buffer_t);
    PMIX_LOAD_BUFFER_NON_DESTRUCT(peer, &b, bo->bytes, bo->size);
    PMIX_LOAD_NSPACE(proc.nspace, j->nspace);
    PMIX_BFROPS_UNPACK(rc, peer, &b, &proc.rank, &cnt, PMIX_PROC_RANK);
    if (rc != PMIX_SUCCESS || proc.rank >= j->nblob)
        bad = 1;
    while (!bad) {
        PMIX_CONSTRUCT(&kv, pmix_kval_t);
        cnt = 1;
        PMIX_BFROPS_UNPACK(rc, peer, &b, &kv, &cnt, PMIX_KVAL);
        if (rc == PMIX_SUCCESS && fmx_gds_put(dir, &proc, &kv))
            bad = 1;
        PMIX_DESTRUCT(&kv);
        if (rc != PMIX_SUCCESS) {
            bad = rc != PMIX_ERR_UNPACK_READ_PAST_END_OF_BUFFER;
            break;
        }
    }
    b.base_ptr = NULL; /* bo's */
    PMIX_DESTRUCT(&b);
    if (bad)
        return -1;
    j->blob[proc.rank] = *bo; /* the bytes are the job's now */
    bo->bytes = NULL;
    bo->size = 0;
    return 0;
}

/* hash's reply for peer's namespace, taken apart once. */
static struct job *build(const char *dir, pmix_peer_t *peer)
{
    pmix_namespace_t *ns = peer->nptr;
    struct job *j = calloc(1, sizeof(*j));
    pmix_buffer_t *whole = PMIX_NEW(pmix_buffer_t);
    pmix_status_t rc;
    char *name = NULL;
    int32_t cnt = 1;
    int bad = 0;

    if (!j || !whole || !(j->shared = PMIX_NEW(pmix_buffer_t)) ||
        !(j->blob = calloc(ns->nprocs ? ns->nprocs : 1, sizeof(*j->blob)))) {
        if (whole)
            PMIX_RELEASE(whole);
        if (j)
            drop(j);
        return NULL;
    }
    PMIX_LOAD_NSPACE(j->nspace, ns->nspace);
    j->nblob = ns->nprocs;
    rc = fmx_gds_hash->register_job_info((struct pmix_peer_t *)peer, whole);
    if (ns->jobbkt == whole) { /* hash keeps it for the next rank: there is none */
        PMIX_RELEASE(ns->jobbkt);
        ns->jobbkt = NULL;
    }
    if (rc != PMIX_SUCCESS) {
        PMIX_RELEASE(whole);
        drop(j);
        return NULL;
    }
    PMIX_BFROPS_UNPACK(rc, peer, whole, &name, &cnt, PMIX_STRING);
    if (rc == PMIX_SUCCESS)
        PMIX_BFROPS_PACK(rc, peer, j->shared, &name, 1, PMIX_STRING);
    free(name);
    bad = rc != PMIX_SUCCESS;
    while (!bad) {
        pmix_kval_t kv;

        PMIX_CONSTRUCT(&kv, pmix_kval_t);
        cnt = 1;
        PMIX_BFROPS_UNPACK(rc, peer, whole, &kv, &cnt, PMIX_KVAL);
        if (rc == PMIX_SUCCESS) {
            if (PMIX_CHECK_KEY(&kv, BLOB_KEY) && kv.value->type == PMIX_BYTE_OBJECT)
                bad = take_blob(dir, peer, j, &kv.value->data.bo) != 0;
            else
                PMIX_BFROPS_PACK(rc, peer, j->shared, &kv, 1, PMIX_KVAL);
        }
        PMIX_DESTRUCT(&kv);
        if (rc != PMIX_SUCCESS) {
            bad = bad || rc != PMIX_ERR_UNPACK_READ_PAST_END_OF_BUFFER;
            break;
        }
    }
    if (bad) { /* every rank of the namespace gets hash's reply, whole */
        pmix_output_verbose(1, pmix_gds_base_output,
                            "gds:fmx: %s's per-rank keys are sent to each rank", j->nspace);
        whole->unpack_ptr = whole->base_ptr;
        j->whole = whole;
    } else {
        PMIX_RELEASE(whole);
    }
    j->next = jobs;
    jobs = j;
    return j;
}

pmix_status_t fmx_gds_job_reply(struct pmix_peer_t *pr, pmix_buffer_t *reply)
{
    pmix_peer_t *peer = (pmix_peer_t *)pr;
    const char *dir = fmx_gds_dir();
    struct job *j;
    pmix_status_t rc;
    pmix_rank_t me = peer->info->pname.rank;
    pmix_kval_t kv;
    pmix_value_t v;

    if (!dir || !PMIX_PEER_IS_SERVER(pmix_globals.mypeer))
        return fmx_gds_hash->register_job_info(pr, reply);
    if (!(j = find(peer->nptr->nspace)) && !(j = build(dir, peer)))
        return PMIX_ERR_NOMEM;
    if (j->whole) {
        PMIX_BFROPS_COPY_PAYLOAD(rc, peer, reply, j->whole);
        return rc;
    }
    PMIX_BFROPS_COPY_PAYLOAD(rc, peer, reply, j->shared);
    if (rc != PMIX_SUCCESS || me >= j->nblob || !j->blob[me].bytes)
        return rc;
    kv.key = BLOB_KEY;
    kv.value = &v;
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo = j->blob[me];
    PMIX_BFROPS_PACK(rc, peer, reply, &kv, 1, PMIX_KVAL);
    return rc;
}

int fmx_gds_job_known(const char *nspace)
{
    return find(nspace) != NULL;
}

void fmx_gds_job_forget(const char *nspace)
{
    for (struct job **p = &jobs; *p; p = &(*p)->next)
        if (PMIX_CHECK_NSPACE((*p)->nspace, nspace)) {
            struct job *j = *p;

            *p = j->next;
            drop(j);
            return;
        }
}
