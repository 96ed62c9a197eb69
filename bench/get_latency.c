/* The cost of one PMIx_Get, as the GDS a rank reads through decides it: every rank puts a
 * B-byte card and fences (collecting); then rank 0 alone (the others wait in the closing
 * fence) times N gets of rank 1's card, one by one, and N gets of its job's size (a job-level
 * key every store holds), and prints the medians and 90th percentiles:
 *   get_latency SIZE peer_median_us peer_p90_us job_median_us job_p90_us
 * It checks every byte of the card it got; exits non-zero on any error.
 *   get_latency [GETS (default 100000)] [CARD_BYTES (default 256)] */
#include <pmix.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* times n gets of key from proc into t (sorted); the last value is left in *last */
static int time_gets(const pmix_proc_t *proc, const char *key, long n, double *t,
                     pmix_value_t **last)
{
    for (long i = 0; i < n; i++) {
        pmix_value_t *val = NULL;
        double t0 = now_us();
        pmix_status_t rc = PMIx_Get(proc, key, NULL, 0, &val);

        t[i] = now_us() - t0;
        if (rc != PMIX_SUCCESS) {
            fprintf(stderr, "get_latency: PMIx_Get(%s:%u, %s): %s\n", proc->nspace, proc->rank, key,
                    PMIx_Error_string(rc));
            return 1;
        }
        if (i == n - 1)
            *last = val;
        else
            PMIX_VALUE_RELEASE(val);
    }
    qsort(t, (size_t)n, sizeof(*t), cmp);
    return 0;
}

int main(int argc, char **argv)
{
    long gets = argc > 1 ? atol(argv[1]) : 100000;
    size_t bytes = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
    pmix_proc_t me, wild, peer;
    pmix_value_t v, *val = NULL;
    pmix_info_t coll;
    bool yes = true;
    uint32_t size;
    int bad = 0;
    pmix_status_t rc;
    uint8_t *card = malloc(bytes ? bytes : 1);
    double *tp = malloc((size_t)(gets > 0 ? gets : 1) * sizeof(double));
    double *tj = malloc((size_t)(gets > 0 ? gets : 1) * sizeof(double));

    if (gets < 1 || !card || !tp || !tj || (rc = PMIx_Init(&me, NULL, 0)) != PMIX_SUCCESS) {
        fprintf(stderr, "get_latency: cannot start\n");
        return 1;
    }
    PMIX_PROC_LOAD(&wild, me.nspace, PMIX_RANK_WILDCARD);
    if ((rc = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &val)) != PMIX_SUCCESS ||
        val->data.uint32 < 2) {
        fprintf(stderr, "get_latency: needs two ranks or more\n");
        return 1;
    }
    size = val->data.uint32;
    PMIX_VALUE_RELEASE(val);
    for (size_t i = 0; i < bytes; i++)
        card[i] = (uint8_t)(me.rank * 131 + i * 7);
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo.bytes = (char *)card;
    v.data.bo.size = bytes;
    PMIX_INFO_LOAD(&coll, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    if (PMIx_Put(PMIX_GLOBAL, "fmx.card", &v) != PMIX_SUCCESS || PMIx_Commit() != PMIX_SUCCESS ||
        PMIx_Fence(&wild, 1, &coll, 1) != PMIX_SUCCESS) {
        fprintf(stderr, "get_latency: rank %u: put, commit or fence failed\n", me.rank);
        return 1;
    }
    if (me.rank == 0) {
        PMIX_PROC_LOAD(&peer, me.nspace, 1);
        val = NULL;
        bad = time_gets(&peer, "fmx.card", gets, tp, &val);
        for (size_t i = 0; !bad && i < bytes; i++)
            if (val->type != PMIX_BYTE_OBJECT || val->data.bo.size != bytes ||
                (uint8_t)val->data.bo.bytes[i] != (uint8_t)(131 + i * 7))
                bad = 1;
        if (val)
            PMIX_VALUE_RELEASE(val);
        val = NULL;
        if (!bad)
            bad = time_gets(&wild, PMIX_JOB_SIZE, gets, tj, &val);
        if (val)
            PMIX_VALUE_RELEASE(val);
        if (bad)
            fprintf(stderr, "get_latency: rank 1's card came back wrong or not at all\n");
        else
            printf("get_latency %u %.3f %.3f %.3f %.3f\n", size, tp[gets / 2], tp[gets * 9 / 10],
                   tj[gets / 2], tj[gets * 9 / 10]);
    }
    PMIx_Fence(&wild, 1, NULL, 0);
    PMIx_Finalize(NULL, 0);
    return bad;
}
