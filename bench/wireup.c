/* The wire-up a parallel program does, timed by phase: PMIx_Put a B-byte card, Commit,
 * Fence(collect), Get every peer's card and check each byte, then fences without data in a
 * loop. Every rank prints one line:
 *   wireup RANK SIZE put_commit_us fence_us get_all_us barrier_us(mean) total_us
 * and exits non-zero when a card is wrong. The same program runs under pmixrun and under
 * Open MPI's mpirun, which both serve it through libpmix. With "dmodex" the fence collects
 * nothing, so every Get of a rank on another node is a direct modex: a request to the daemon
 * holding that rank, answered with its card.
 *   wireup [CARD_BYTES (default 256)] [BARRIERS (default 20)] [collect|dmodex] */
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

static void card(uint32_t rank, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(rank * 131 + i * 7);
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int barriers = argc > 2 ? atoi(argv[2]) : 20;
    bool dmodex = argc > 3 && !strcmp(argv[3], "dmodex");
    pmix_proc_t me, wild, peer;
    pmix_value_t v, *val = NULL;
    pmix_info_t coll;
    bool yes = true;
    uint32_t size;
    int bad = 0;
    pmix_status_t rc;
    double t0 = now_us(), t1, t2, t3, t4;
    uint8_t *mine = malloc(bytes ? bytes : 1), *want = malloc(bytes ? bytes : 1);

    if ((rc = PMIx_Init(&me, NULL, 0)) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    PMIX_PROC_LOAD(&wild, me.nspace, PMIX_RANK_WILDCARD);
    if ((rc = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &val)) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: PMIx_Get(%s): %s\n", PMIX_JOB_SIZE, PMIx_Error_string(rc));
        return 1;
    }
    size = val->data.uint32;
    PMIX_VALUE_RELEASE(val);
    t0 = now_us();
    card(me.rank, mine, bytes);
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo.bytes = (char *)mine;
    v.data.bo.size = bytes;
    if ((rc = PMIx_Put(PMIX_GLOBAL, "fmx.card", &v)) != PMIX_SUCCESS ||
        (rc = PMIx_Commit()) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: Put/Commit: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    t1 = now_us();
    PMIX_INFO_LOAD(&coll, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    if ((rc = PMIx_Fence(NULL, 0, dmodex ? NULL : &coll, dmodex ? 0 : 1)) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: Fence: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    t2 = now_us();
    for (uint32_t r = 0; r < size; r++) {
        PMIX_PROC_LOAD(&peer, me.nspace, r);
        if ((rc = PMIx_Get(&peer, "fmx.card", NULL, 0, &val)) != PMIX_SUCCESS) {
            fprintf(stderr, "wireup: rank %u: Get(rank %u, fmx.card): %s\n", me.rank, r,
                    PMIx_Error_string(rc));
            return 1;
        }
        card(r, want, bytes);
        if (val->type != PMIX_BYTE_OBJECT || val->data.bo.size != bytes ||
            memcmp(val->data.bo.bytes, want, bytes))
            bad++;
        PMIX_VALUE_RELEASE(val);
    }
    t3 = now_us();
    for (int i = 0; i < barriers; i++)
        if ((rc = PMIx_Fence(NULL, 0, NULL, 0)) != PMIX_SUCCESS) {
            fprintf(stderr, "wireup: barrier: %s\n", PMIx_Error_string(rc));
            return 1;
        }
    t4 = now_us();
    printf("wireup %u %u %.1f %.1f %.1f %.1f %.1f\n", me.rank, size, t1 - t0, t2 - t1, t3 - t2,
           barriers ? (t4 - t3) / barriers : 0.0, t4 - t0);
    if (bad)
        fprintf(stderr, "wireup: rank %u: %d wrong card(s)\n", me.rank, bad);
    PMIx_Finalize(NULL, 0);
    free(mine);
    free(want);
    return bad ? 1 : 0;
}
