/* Every rank's view of every rank's keys of the job: each rank Gets, for each rank r of its
 * namespace, r's local rank, node rank, node id, app number and host, and prints
 *   peer OBSERVER r LOCAL_RANK NODE_RANK NODEID APPNUM HOST
 * (a key not found prints "-"). tests/pmix/gds_modes.sh checks that every observer sees the
 * same table, that it is the table ranks reading through libpmix's hash see, and that it is
 * consistent (local ranks 0..k-1 on each node). Exits non-zero when a Get fails other than
 * with NOT-FOUND. */
#include <pmix.h>

#include <stdio.h>
#include <string.h>

/* key of proc as text into out ("-" when not found); 0, or -1 on another error */
static int get(const pmix_proc_t *proc, const char *key, char *out, size_t len)
{
    pmix_value_t *v = NULL;
    pmix_status_t rc = PMIx_Get(proc, key, NULL, 0, &v);

    if (rc == PMIX_ERR_NOT_FOUND) {
        snprintf(out, len, "-");
        return 0;
    }
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "peers: Get(%s:%u, %s): %s\n", proc->nspace, proc->rank, key,
                PMIx_Error_string(rc));
        return -1;
    }
    switch (v->type) {
    case PMIX_UINT16:
        snprintf(out, len, "%u", (unsigned)v->data.uint16);
        break;
    case PMIX_UINT32:
        snprintf(out, len, "%u", v->data.uint32);
        break;
    case PMIX_STRING:
        snprintf(out, len, "%s", v->data.string ? v->data.string : "(null)");
        break;
    default:
        snprintf(out, len, "type%d", (int)v->type);
    }
    PMIX_VALUE_RELEASE(v);
    return 0;
}

int main(void)
{
    static const char *const keys[] = {PMIX_LOCAL_RANK, PMIX_NODE_RANK, PMIX_NODEID, PMIX_APPNUM,
                                       PMIX_HOSTNAME};
    pmix_proc_t me, proc;
    pmix_value_t *v = NULL;
    pmix_status_t rc;
    uint32_t size;
    int bad = 0;

    if ((rc = PMIx_Init(&me, NULL, 0)) != PMIX_SUCCESS) {
        fprintf(stderr, "peers: PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    PMIX_PROC_LOAD(&proc, me.nspace, PMIX_RANK_WILDCARD);
    if ((rc = PMIx_Get(&proc, PMIX_JOB_SIZE, NULL, 0, &v)) != PMIX_SUCCESS) {
        fprintf(stderr, "peers: Get(%s): %s\n", PMIX_JOB_SIZE, PMIx_Error_string(rc));
        PMIx_Finalize(NULL, 0);
        return 1;
    }
    size = v->data.uint32;
    PMIX_VALUE_RELEASE(v);
    for (uint32_t r = 0; r < size; r++) {
        char line[1024];
        int n = snprintf(line, sizeof(line), "peer %u %u", me.rank, r);

        proc.rank = r;
        for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
            char val[256];

            bad |= get(&proc, keys[k], val, sizeof(val)) != 0;
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %s", val);
        }
        printf("%s\n", line);
    }
    fflush(stdout);
    PMIx_Fence(NULL, 0, NULL, 0); /* the server stays until every rank has read */
    PMIx_Finalize(NULL, 0);
    return bad;
}
