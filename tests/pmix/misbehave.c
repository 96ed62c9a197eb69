/* A PMIx client whose rank 1 misbehaves while every other rank waits in a collecting fence
 * (every rank that completes the fence prints "rank R: fence returned S"; in log mode, where the
 * fence must succeed, it exits 1 unless S is SUCCESS; in the others the fence may fail, and
 * libpmix may even complete it with PARTIAL SUCCESS when rank 1 exits, so they exit 0):
 *   misbehave abort   rank 1 calls PMIx_Abort(42, ...)
 *   misbehave kill    rank 1 dies by SIGKILL
 *   misbehave exit    rank 1 exits with status 3
 *   misbehave nofinalize  rank 1 exits with status 0 without calling PMIx_Finalize
 *   misbehave hangup  rank 1 shuts its PMIx connection down (every socket it holds) without
 *                     PMIx_Finalize, then sleeps 60 s: only the launcher can end it early
 *   misbehave log     rank 1 sends a line through PMIx_Log (to stderr), then joins the
 *                     fence; everyone exits 0 when the fence succeeds
 *   misbehave query   every rank asks PMIx_Query_info for the namespaces, the job size and
 *                     an unknown key, and prints what came back (no misbehaving in it)
 *   misbehave fences [BYTES]  every rank puts a card of BYTES (0) and runs collecting fences
 *                     back to back for up to 60 s (printing "rank R: fencing" after the first),
 *                     so that a test can take a daemon away mid-job; a fence that fails ends
 *                     the rank with status 5
 * Nothing but the launcher can end the others, so a test sees whether it does. */
#include <pmix.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_line(const pmix_proc_t *me)
{
    pmix_info_t data, collect;
    bool yes = true;
    char line[128];
    pmix_status_t rc;

    snprintf(line, sizeof(line), "rank %u logs a line through the launcher", me->rank);
    PMIX_INFO_LOAD(&data, PMIX_LOG_STDERR, line, PMIX_STRING);
    rc = PMIx_Log(&data, 1, NULL, 0);
    if (rc != PMIX_SUCCESS)
        fprintf(stderr, "misbehave: PMIx_Log: %s\n", PMIx_Error_string(rc));
    PMIX_INFO_LOAD(&collect, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    if (rc == PMIX_SUCCESS)
        rc = PMIx_Fence(NULL, 0, &collect, 1);
    printf("rank %u: fence returned %s\n", me->rank, PMIx_Error_string(rc));
    PMIx_Finalize(NULL, 0);
    return rc == PMIX_SUCCESS ? 0 : 1;
}

static int query(const pmix_proc_t *me)
{
    pmix_query_t q[2];
    pmix_info_t *res = NULL;
    size_t nres = 0;
    pmix_status_t rc;

    PMIX_QUERY_CONSTRUCT(&q[0]);
    PMIX_QUERY_CONSTRUCT(&q[1]);
    PMIX_ARGV_APPEND(rc, q[0].keys, PMIX_QUERY_NAMESPACES);
    PMIX_ARGV_APPEND(rc, q[0].keys, PMIX_JOB_SIZE);
    PMIX_ARGV_APPEND(rc, q[1].keys, "fmx.no.such.key");
    rc = PMIx_Query_info(q, 1, &res, &nres);
    printf("rank %u: known keys: %s, %zu result(s)", me->rank, PMIx_Error_string(rc), nres);
    for (size_t i = 0; i < nres; i++) {
        if (res[i].value.type == PMIX_STRING)
            printf(" %s=%s", res[i].key, res[i].value.data.string);
        else if (res[i].value.type == PMIX_UINT32)
            printf(" %s=%u", res[i].key, res[i].value.data.uint32);
    }
    if (res)
        PMIX_INFO_FREE(res, nres);
    res = NULL;
    printf("; with an unknown key: %s", PMIx_Error_string(PMIx_Query_info(q, 2, &res, &nres)));
    if (res)
        PMIX_INFO_FREE(res, nres);
    res = NULL;
    printf("; only an unknown key: %s\n",
           PMIx_Error_string(PMIx_Query_info(&q[1], 1, &res, &nres)));
    if (res)
        PMIX_INFO_FREE(res, nres);
    PMIX_QUERY_DESTRUCT(&q[0]);
    PMIX_QUERY_DESTRUCT(&q[1]);
    PMIx_Finalize(NULL, 0);
    return 0;
}

static int fences(const pmix_proc_t *me, size_t bytes)
{
    time_t until = time(NULL) + 60;
    pmix_info_t info;
    bool collect = true;
    pmix_status_t rc = PMIX_SUCCESS;
    pmix_value_t card = {.type = PMIX_BYTE_OBJECT};

    if (bytes) {
        card.data.bo.bytes = calloc(1, bytes);
        card.data.bo.size = bytes;
        if (!card.data.bo.bytes || (rc = PMIx_Put(PMIX_GLOBAL, "fmx.test.card", &card)) ||
            (rc = PMIx_Commit())) {
            fprintf(stderr, "misbehave: rank %u: putting a %zu-byte card: %s\n", me->rank, bytes,
                    PMIx_Error_string(rc));
            return 1;
        }
        free(card.data.bo.bytes);
    }
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    for (unsigned n = 0; rc == PMIX_SUCCESS && time(NULL) < until; n++) {
        rc = PMIx_Fence(NULL, 0, &info, 1);
        if (n == 0 && rc == PMIX_SUCCESS) {
            printf("rank %u: fencing\n", me->rank);
            fflush(stdout);
        }
    }
    if (rc != PMIX_SUCCESS)
        fprintf(stderr, "misbehave: rank %u: fence: %s\n", me->rank, PMIx_Error_string(rc));
    PMIx_Finalize(NULL, 0);
    return rc == PMIX_SUCCESS ? 0 : 5;
}

/* The other ranks publish a key just before they enter the fence; rank 1 reads it from each of
 * them (PMIx holds a Get for data not yet committed, across nodes by direct modex), so that it
 * misbehaves once they are about to wait in the fence, not after a guessed sleep. */
#define ENTERING "fmx.test.entering"

static int wait_for_others(const pmix_proc_t *me)
{
    pmix_value_t *val = NULL;
    pmix_info_t timeout;
    pmix_proc_t peer;
    uint32_t size = 0;
    int seconds = 30;
    time_t until = time(NULL) + seconds;
    pmix_status_t rc;

    PMIX_LOAD_PROCID(&peer, me->nspace, PMIX_RANK_WILDCARD);
    if (PMIx_Get(&peer, PMIX_JOB_SIZE, NULL, 0, &val) != PMIX_SUCCESS || !val)
        return -1;
    size = val->data.uint32;
    PMIX_VALUE_RELEASE(val);
    PMIX_INFO_LOAD(&timeout, PMIX_TIMEOUT, &seconds, PMIX_INT);
    for (uint32_t r = 0; r < size; r++) {
        if (r == me->rank)
            continue;
        PMIX_LOAD_PROCID(&peer, me->nspace, r);
        /* a rank on another node that has not connected to its server yet is answered
         * NOT-FOUND at once, not held: ask again until the same 30 s are up */
        do {
            val = NULL;
            rc = PMIx_Get(&peer, ENTERING, &timeout, 1, &val);
        } while (rc == PMIX_ERR_NOT_FOUND && time(NULL) < until && !usleep(10000));
        if (rc != PMIX_SUCCESS) {
            fprintf(stderr, "misbehave: rank %u: reading rank %u's %s: %s\n", me->rank, r, ENTERING,
                    PMIx_Error_string(rc));
            return -1;
        }
        PMIX_VALUE_RELEASE(val);
    }
    return 0;
}

/* Shuts down every socket this process holds (its connection to the PMIx server among them)
 * and stays alive. */
static int hang_up(void)
{
    struct stat st;

    for (int fd = 3; fd < 1024; fd++)
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            shutdown(fd, SHUT_RDWR);
    sleep(60);
    return 0;
}

int main(int argc, char **argv)
{
    pmix_proc_t me;
    pmix_status_t rc = PMIx_Init(&me, NULL, 0);
    const char *mode = argc > 1 ? argv[1] : "abort";

    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "misbehave: PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    if (!strcmp(mode, "query"))
        return query(&me);
    if (!strcmp(mode, "fences"))
        return fences(&me, argc > 2 ? strtoul(argv[2], NULL, 10) : 0);
    printf("rank %u up\n", me.rank);
    fflush(stdout);
    if (me.rank == 1) {
        if (!strcmp(mode, "log"))
            return log_line(&me);
        if (wait_for_others(&me))
            return 4;
        if (!strcmp(mode, "abort"))
            PMIx_Abort(42, "rank 1 gives up on purpose", NULL, 0);
        else if (!strcmp(mode, "kill"))
            raise(SIGKILL);
        else if (!strcmp(mode, "nofinalize"))
            return 0;
        else if (!strcmp(mode, "hangup"))
            return hang_up();
        return 3;
    }
    pmix_info_t info;
    pmix_value_t entering = {.type = PMIX_UINT32, .data.uint32 = me.rank};
    bool collect = true;
    if (strcmp(mode, "log") &&
        ((rc = PMIx_Put(PMIX_GLOBAL, ENTERING, &entering)) != PMIX_SUCCESS ||
         (rc = PMIx_Commit()) != PMIX_SUCCESS)) {
        fprintf(stderr, "misbehave: rank %u: publishing %s: %s\n", me.rank, ENTERING,
                PMIx_Error_string(rc));
        return 1;
    }
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    rc = PMIx_Fence(NULL, 0, &info, 1);
    printf("rank %u: fence returned %s\n", me.rank, PMIx_Error_string(rc));
    PMIx_Finalize(NULL, 0);
    return rc == PMIX_SUCCESS || strcmp(mode, "log") ? 0 : 1;
}
