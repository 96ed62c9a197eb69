/* PMIx job control across daemons, as a rank sees it: rank 0 has the last rank (on another
 * node when the job has two) sent SIGUSR1 through PMIx_Job_control, and that rank must receive
 * it; a checkpoint request and an allocation request must be refused cleanly, NOT-SUPPORTED.
 * Each rank prints "jobctl: rank R ok" when all it saw was right; a failure prints a line with
 * "failed" and exits 1. Every wait is bounded. */
#include <pmix.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
    got = sig;
}

struct done {
    pthread_mutex_t m;
    pthread_cond_t c;
    int fired;
    pmix_status_t st;
};

static void info_cb(pmix_status_t st, pmix_info_t *info, size_t ninfo, void *cbdata,
                    pmix_release_cbfunc_t release, void *release_data)
{
    struct done *d = cbdata;

    (void)info, (void)ninfo;
    pthread_mutex_lock(&d->m);
    d->st = st;
    d->fired = 1;
    pthread_cond_signal(&d->c);
    pthread_mutex_unlock(&d->m);
    if (release)
        release(release_data);
}

/* The callback's status, or PMIX_ERR_TIMEOUT after 20 s. */
static pmix_status_t wait_done(struct done *d)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&d->m);
    while (!d->fired)
        if (pthread_cond_timedwait(&d->c, &d->m, &until))
            break;
    pthread_mutex_unlock(&d->m);
    return d->fired ? d->st : PMIX_ERR_TIMEOUT;
}

static pmix_status_t job_control(const pmix_proc_t *target, const char *key, int value)
{
    struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, PMIX_SUCCESS};
    pmix_info_t info;
    pmix_status_t st;
    bool yes = true;

    if (!strcmp(key, PMIX_JOB_CTRL_SIGNAL))
        PMIX_INFO_LOAD(&info, key, &value, PMIX_INT);
    else
        PMIX_INFO_LOAD(&info, key, &yes, PMIX_BOOL);
    st = PMIx_Job_control_nb(target, 1, &info, 1, info_cb, &d);
    if (st == PMIX_SUCCESS)
        st = wait_done(&d);
    PMIX_INFO_DESTRUCT(&info);
    return st;
}

int main(void)
{
    pmix_proc_t me, all, last;
    pmix_value_t *v;
    pmix_status_t st;
    uint32_t size;
    int bad = 0;

    signal(SIGUSR1, on_usr1);
    if ((st = PMIx_Init(&me, NULL, 0)) != PMIX_SUCCESS) {
        printf("jobctl: PMIx_Init failed: %s\n", PMIx_Error_string(st));
        return 1;
    }
    PMIX_LOAD_PROCID(&all, me.nspace, PMIX_RANK_WILDCARD);
    if (PMIx_Get(&all, PMIX_JOB_SIZE, NULL, 0, &v) != PMIX_SUCCESS) {
        printf("jobctl: rank %u: PMIx_Get job size failed\n", me.rank);
        return 1;
    }
    size = v->data.uint32;
    PMIX_VALUE_RELEASE(v);
    PMIX_LOAD_PROCID(&last, me.nspace, size - 1);
    PMIx_Fence(&all, 1, NULL, 0); /* every rank has its handler */
    if (me.rank == 0) {
        if ((st = job_control(&last, PMIX_JOB_CTRL_SIGNAL, SIGUSR1)) != PMIX_SUCCESS)
            printf("jobctl: signal to rank %u failed: %s\n", size - 1, PMIx_Error_string(st)),
                bad = 1;
        st = job_control(&all, PMIX_JOB_CTRL_CHECKPOINT, 0);
        printf("jobctl: checkpoint: %s\n", PMIx_Error_string(st));
        if (st != PMIX_ERR_NOT_SUPPORTED)
            printf("jobctl: checkpoint refusal failed\n"), bad = 1;
        struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, PMIX_SUCCESS};
        pmix_info_t info;
        uint64_t nodes = 2;
        PMIX_INFO_LOAD(&info, PMIX_ALLOC_NUM_NODES, &nodes, PMIX_UINT64);
        st = PMIx_Allocation_request_nb(PMIX_ALLOC_NEW, &info, 1, info_cb, &d);
        if (st == PMIX_SUCCESS)
            st = wait_done(&d);
        PMIX_INFO_DESTRUCT(&info);
        printf("jobctl: allocation: %s\n", PMIx_Error_string(st));
        if (st != PMIX_ERR_NOT_SUPPORTED)
            printf("jobctl: allocation refusal failed\n"), bad = 1;
    }
    if (me.rank == size - 1) {
        for (int i = 0; i < 2000 && !got; i++)
            usleep(10000);
        if (got == SIGUSR1)
            printf("jobctl: rank %u got SIGUSR1\n", me.rank);
        else
            printf("jobctl: rank %u: the signal failed to come within 20 s\n", me.rank), bad = 1;
    }
    fflush(stdout);
    if ((st = PMIx_Fence(&all, 1, NULL, 0)) != PMIX_SUCCESS)
        printf("jobctl: rank %u: fence failed: %s\n", me.rank, PMIx_Error_string(st)), bad = 1;
    if (!bad)
        printf("jobctl: rank %u ok\n", me.rank);
    PMIx_Finalize(NULL, 0);
    return bad;
}
