/* A PMIx client whose rank 1 misbehaves while every other rank waits in a collecting fence:
 *   misbehave abort   rank 1 calls PMIx_Abort(42, ...)
 *   misbehave kill    rank 1 dies by SIGKILL
 *   misbehave exit    rank 1 exits with status 3
 *   misbehave log     rank 1 sends a line through PMIx_Log (to stderr), then joins the
 *                     fence; everyone exits 0
 * Nothing but the launcher can end the others, so a test sees whether it does. */
#include <pmix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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
    PMIx_Fence(NULL, 0, &collect, 1);
    PMIx_Finalize(NULL, 0);
    return rc == PMIX_SUCCESS ? 0 : 1;
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
    printf("rank %u up\n", me.rank);
    fflush(stdout);
    if (me.rank == 1) {
        usleep(200000); /* let the others enter the fence */
        if (!strcmp(mode, "abort"))
            PMIx_Abort(42, "rank 1 gives up on purpose", NULL, 0);
        else if (!strcmp(mode, "kill"))
            raise(SIGKILL);
        else if (!strcmp(mode, "log"))
            return log_line(&me);
        return 3;
    }
    pmix_info_t info;
    bool collect = true;
    PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    rc = PMIx_Fence(NULL, 0, &info, 1);
    printf("rank %u: fence returned %s\n", me.rank, PMIx_Error_string(rc));
    PMIx_Finalize(NULL, 0);
    return 0;
}
