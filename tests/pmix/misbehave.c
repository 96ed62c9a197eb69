/* A PMIx client whose rank 1 misbehaves while every other rank waits in a collecting fence:
 *   misbehave abort   rank 1 calls PMIx_Abort(42, ...)
 *   misbehave kill    rank 1 dies by SIGKILL
 *   misbehave exit    rank 1 exits with status 3
 * Nothing but the launcher can end the others, so a test sees whether it does. */
#include <pmix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
