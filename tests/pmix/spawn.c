/* PMIx_Spawn's placement, as a client asks for it. Rank 0 of a job on two or more nodes spawns
 * /bin/true four times and reads where the daemons put the children (PMIx_Get of each child's
 * PMIX_HOSTNAME, the node names the job map registers):
 *   PMIX_HOST naming the last rank's node: both children there;
 *   PMIX_HOSTFILE, a file naming that node (Open MPI's format): both children there;
 *   PMIX_MAPBY node with one child a node: a child on every node, in node order;
 *   PMIX_HOST naming no node of the job: the spawn fails (and the job goes on);
 *   PMIX_ADD_HOST: refused, NOT-SUPPORTED.
 * Prints "spawn: rank 0: N of 5 placements as asked" and every rank "spawn: rank R done";
 * exits non-zero when a check fails. */
#include <pmix.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pmix_proc_t me;

static char *hostname_of(const char *nspace, pmix_rank_t rank)
{
    pmix_proc_t p;
    pmix_value_t *v = NULL;
    char *h = NULL;

    PMIX_LOAD_PROCID(&p, nspace, rank);
    if (PMIx_Get(&p, PMIX_HOSTNAME, NULL, 0, &v) == PMIX_SUCCESS && v->type == PMIX_STRING)
        h = strdup(v->data.string);
    if (v)
        PMIX_VALUE_RELEASE(v);
    return h;
}

/* Spawns np of /bin/true with one attribute for the app (key, value) or the job (job != 0). */
static pmix_status_t spawn(int np, const char *key, const char *value, int job, char *nspace)
{
    pmix_app_t app;
    pmix_info_t info;
    pmix_status_t st;
    char *argv[] = {"/bin/true", NULL};

    PMIX_APP_CONSTRUCT(&app);
    app.cmd = strdup("/bin/true");
    app.argv = argv;
    app.maxprocs = np;
    PMIX_INFO_LOAD(&info, key, value, PMIX_STRING);
    if (!job) {
        app.info = &info;
        app.ninfo = 1;
    }
    st = PMIx_Spawn(job ? &info : NULL, job ? 1 : 0, &app, 1, nspace);
    app.argv = NULL;
    app.info = NULL;
    PMIX_APP_DESTRUCT(&app);
    PMIX_INFO_DESTRUCT(&info);
    return st;
}

int main(void)
{
    pmix_proc_t all;
    pmix_value_t *v = NULL;
    uint32_t size, nnodes;
    char ns[PMIX_MAX_NSLEN + 1], *target, *h;
    int good = 0;
    pmix_status_t st;

    if (PMIx_Init(&me, NULL, 0) != PMIX_SUCCESS)
        return 1;
    PMIX_LOAD_PROCID(&all, me.nspace, PMIX_RANK_WILDCARD);
    if (PMIx_Get(&all, PMIX_JOB_SIZE, NULL, 0, &v) != PMIX_SUCCESS)
        return 1;
    size = v->data.uint32;
    PMIX_VALUE_RELEASE(v);
    if (PMIx_Get(&all, PMIX_NUM_NODES, NULL, 0, &v) != PMIX_SUCCESS)
        return 1;
    nnodes = v->data.uint32;
    PMIX_VALUE_RELEASE(v);
    if (me.rank == 0) {
        target = hostname_of(me.nspace, size - 1);
        int there = 0;
        st = spawn(2, PMIX_HOST, target ? target : "?", 0, ns);
        for (int k = 0; st == PMIX_SUCCESS && k < 2; k++, free(h)) {
            h = hostname_of(ns, (pmix_rank_t)k);
            printf("spawn: PMIX_HOST %s: child %d on %s\n", target, k, h ? h : "?");
            there += h && target && !strcmp(h, target);
        }
        good += there == 2;
        /* the same through a hostfile */
        char path[] = "/tmp/fmx-spawn-hostsXXXXXX";
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f) {
            fprintf(f, "# the last rank's node\n%s slots=2\n", target ? target : "?");
            fclose(f);
        }
        st = spawn(2, PMIX_HOSTFILE, path, 0, ns);
        there = 0;
        for (int k = 0; st == PMIX_SUCCESS && k < 2; k++, free(h)) {
            h = hostname_of(ns, (pmix_rank_t)k);
            there += h && target && !strcmp(h, target);
        }
        printf("spawn: PMIX_HOSTFILE naming %s: %d of 2 children there (%s)\n", target, there,
               PMIx_Error_string(st));
        good += there == 2;
        unlink(path);
        if (st != PMIX_SUCCESS)
            printf("spawn: PMIX_HOST %s: %s\n", target, PMIx_Error_string(st));
        st = spawn((int)nnodes, PMIX_MAPBY, "node", 1, ns);
        char *first = st == PMIX_SUCCESS ? hostname_of(ns, 0) : NULL;
        int distinct = first != NULL;
        for (uint32_t k = 1; st == PMIX_SUCCESS && k < nnodes; k++, free(h)) {
            h = hostname_of(ns, k);
            distinct = distinct && h && strcmp(h, first);
        }
        printf("spawn: PMIX_MAPBY node: %u children on %s nodes (%s)\n", nnodes,
               distinct ? "different" : "not different", PMIx_Error_string(st));
        good += st == PMIX_SUCCESS && distinct;
        free(first);
        st = spawn(1, PMIX_HOST, "no-such-node", 0, ns);
        printf("spawn: PMIX_HOST no-such-node: %s\n", PMIx_Error_string(st));
        good += st != PMIX_SUCCESS;
        st = spawn(1, PMIX_ADD_HOST, "another-node", 0, ns);
        printf("spawn: PMIX_ADD_HOST: %s\n", PMIx_Error_string(st));
        good += st == PMIX_ERR_NOT_SUPPORTED;
        printf("spawn: rank 0: %d of 5 placements as asked\n", good);
        free(target);
    }
    PMIx_Fence(&all, 1, NULL, 0);
    printf("spawn: rank %u done\n", me.rank);
    PMIx_Finalize(NULL, 0);
    return me.rank == 0 && good != 5;
}
