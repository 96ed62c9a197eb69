/* Publish and lookup beyond OpenPMIx's examples, across daemons: what must be refused and when.
 *   - rank 0 publishes K0 (namespace range); the last rank publishing K0 too is refused
 *     DUPLICATE-KEY; a lookup of a key nobody published is NOT-FOUND at once; a waiting lookup
 *     of such a key with PMIX_TIMEOUT 1 s ends TIMEOUT (after about 1 s, not the default);
 *   - a key published with PMIX_PERSIST_FIRST_READ is found by the first lookup and not by the
 *     next; rank 0 unpublishes everything of its own (no keys named) and K0 is gone.
 * Every rank prints "pubsub: rank R ok" when all it saw was right, else a "failed" line. */
#include <pmix.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static int bad;

static void expect(pmix_proc_t *me, const char *what, pmix_status_t got, pmix_status_t want)
{
    if (got != want) {
        printf("pubsub: rank %u: %s failed: %s, wanted %s\n", me->rank, what,
               PMIx_Error_string(got), PMIx_Error_string(want));
        bad = 1;
    }
}

static pmix_status_t publish(const char *key, int value, pmix_persistence_t persist)
{
    pmix_info_t info[3];
    pmix_data_range_t range = PMIX_RANGE_NAMESPACE;
    pmix_status_t st;

    PMIX_INFO_LOAD(&info[0], key, &value, PMIX_INT);
    PMIX_INFO_LOAD(&info[1], PMIX_RANGE, &range, PMIX_DATA_RANGE);
    PMIX_INFO_LOAD(&info[2], PMIX_PERSISTENCE, &persist, PMIX_PERSIST);
    st = PMIx_Publish(info, 3);
    for (int i = 0; i < 3; i++)
        PMIX_INFO_DESTRUCT(&info[i]);
    return st;
}

/* Looks key up; *value set when found. wait_s > 0: PMIX_WAIT with that PMIX_TIMEOUT. */
static pmix_status_t lookup(const char *key, int wait_s, int *value)
{
    pmix_pdata_t pd;
    pmix_info_t info[2];
    pmix_status_t st;
    int zero = 0;

    PMIX_PDATA_CONSTRUCT(&pd);
    PMIX_LOAD_KEY(pd.key, key);
    PMIX_INFO_LOAD(&info[0], PMIX_WAIT, &zero, PMIX_INT);
    PMIX_INFO_LOAD(&info[1], PMIX_TIMEOUT, &wait_s, PMIX_INT);
    st = PMIx_Lookup(&pd, 1, info, wait_s > 0 ? 2 : 0);
    if (st == PMIX_SUCCESS && pd.value.type == PMIX_INT)
        *value = pd.value.data.integer;
    PMIX_PDATA_DESTRUCT(&pd);
    PMIX_INFO_DESTRUCT(&info[0]);
    PMIX_INFO_DESTRUCT(&info[1]);
    return st;
}

int main(void)
{
    pmix_proc_t me, all;
    pmix_value_t *v;
    uint32_t size;
    int value = -1;
    struct timespec t0, t1;

    if (PMIx_Init(&me, NULL, 0) != PMIX_SUCCESS) {
        printf("pubsub: PMIx_Init failed\n");
        return 1;
    }
    PMIX_LOAD_PROCID(&all, me.nspace, PMIX_RANK_WILDCARD);
    if (PMIx_Get(&all, PMIX_JOB_SIZE, NULL, 0, &v) != PMIX_SUCCESS) {
        printf("pubsub: rank %u: job size failed\n", me.rank);
        return 1;
    }
    size = v->data.uint32;
    PMIX_VALUE_RELEASE(v);
    if (me.rank == 0) {
        expect(&me, "publish K0", publish("fmx-K0", 10, PMIX_PERSIST_SESSION), PMIX_SUCCESS);
        expect(&me, "publish ONCE", publish("fmx-ONCE", 20, PMIX_PERSIST_FIRST_READ), PMIX_SUCCESS);
    }
    PMIx_Fence(&all, 1, NULL, 0);
    if (me.rank == size - 1) {
        expect(&me, "a second publish of K0", publish("fmx-K0", 11, PMIX_PERSIST_SESSION),
               PMIX_ERR_DUPLICATE_KEY);
        expect(&me, "lookup K0", lookup("fmx-K0", 0, &value), PMIX_SUCCESS);
        if (value != 10)
            printf("pubsub: rank %u: lookup K0 failed: value %d, wanted 10\n", me.rank, value),
                bad = 1;
        expect(&me, "lookup of a key nobody published", lookup("fmx-NONE", 0, &value),
               PMIX_ERR_NOT_FOUND);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        expect(&me, "a waiting lookup of a key nobody publishes", lookup("fmx-NONE", 1, &value),
               PMIX_ERR_TIMEOUT);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (s < 0.9 || s > 10)
            printf("pubsub: rank %u: the 1 s wait failed: it took %.2f s\n", me.rank, s), bad = 1;
        expect(&me, "first lookup of ONCE", lookup("fmx-ONCE", 0, &value), PMIX_SUCCESS);
        expect(&me, "second lookup of ONCE", lookup("fmx-ONCE", 0, &value), PMIX_ERR_NOT_FOUND);
    }
    PMIx_Fence(&all, 1, NULL, 0);
    if (me.rank == 0)
        expect(&me, "unpublish of everything", PMIx_Unpublish(NULL, NULL, 0), PMIX_SUCCESS);
    PMIx_Fence(&all, 1, NULL, 0);
    if (me.rank == size - 1)
        expect(&me, "lookup K0 after its unpublish", lookup("fmx-K0", 0, &value),
               PMIX_ERR_NOT_FOUND);
    if (!bad)
        printf("pubsub: rank %u ok\n", me.rank);
    fflush(stdout);
    PMIx_Finalize(NULL, 0);
    return bad;
}
