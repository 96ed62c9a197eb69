/* MPI_Comm_spawn and MPI_Comm_spawn_multiple as an application written for mpirun uses them.
 *   mpi_spawn [single|multiple|fail|missing|nested|timed K]
 * The parent job spawns children of this same program (2 with single and fail; 1 + 2 of two
 * applications with multiple): the parent's rank 0 sends each child 1000 + its rank over the
 * intercommunicator, each child answers with twice that plus its MPI_APPNUM, and prints
 * "child R of N (app A): got V from the parent" on its stdout; the parent checks every answer
 * and prints "spawn: rank 0 got K answers, expected K" (every parent rank prints its
 * "spawn: rank R done"). With fail, child 1 exits with status 3 before it hears from the
 * parent, whose rank 0 then waits for it for ever: pmixrun must end the job with that status.
 * With missing, the parent spawns a program that does not exist: the launcher must end the job
 * naming the node and the program, as mpirun does (should MPI_Comm_spawn return instead, it
 * says so). With nested, the two children in turn spawn a grandchild, whose parent's rank 0
 * sends it 5000 and prints "child 0: the grandchild answered 10000". With timed K, K children, and
 * rank 0 prints how long MPI_Comm_spawn took
 * ("spawn: rank 0: MPI_Comm_spawn of K took T ms": bench/spawn.sh). Exits non-zero on any
 * error. */
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *self_path;

static int child(const char *mode)
{
    MPI_Comm parent;
    int rank, size, value = 0, appnum = 0, flag = 0, *attr = NULL;

    MPI_Comm_get_parent(&parent);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (!strcmp(mode, "fail") && rank == 1) {
        printf("child 1: failing with status 3\n");
        fflush(stdout);
        exit(3);
    }
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_APPNUM, &attr, &flag);
    if (flag)
        appnum = *attr;
    MPI_Recv(&value, 1, MPI_INT, 0, 7, parent, MPI_STATUS_IGNORE);
    printf("child %d of %d (app %d): got %d from the parent\n", rank, size, appnum, value);
    fflush(stdout);
    value = 2 * value + appnum;
    MPI_Send(&value, 1, MPI_INT, 0, 8, parent);
    if (!strcmp(mode, "nested")) { /* a namespace spawned by a spawned one */
        char *leaf[] = {"leaf", NULL};
        int err = 0, v = 5000;
        MPI_Comm grand;

        MPI_Comm_spawn(self_path, leaf, 1, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &grand, &err);
        if (rank == 0) {
            MPI_Send(&v, 1, MPI_INT, 0, 7, grand);
            MPI_Recv(&v, 1, MPI_INT, 0, 8, grand, MPI_STATUS_IGNORE);
            printf("child 0: the grandchild answered %d\n", v);
            fflush(stdout);
        }
        MPI_Comm_disconnect(&grand);
    }
    MPI_Comm_disconnect(&parent);
    MPI_Finalize();
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "single";
    char *child_argv[] = {"child", (char *)mode, NULL};
    char **argvs[2] = {child_argv + 1, child_argv + 1};
    char *cmds[2] = {argv[0], argv[0]};
    int maxprocs[2] = {1, 2}, errs[1024] = {0}, rank, nchildren, good = 0;
    int timed = !strcmp(mode, "timed") && argc > 2 ? atoi(argv[2]) : 0;
    double t0;
    MPI_Info infos[2] = {MPI_INFO_NULL, MPI_INFO_NULL};
    MPI_Comm parent, inter;

    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_get_parent(&parent);
    self_path = argv[0];
    if (parent != MPI_COMM_NULL)
        return child(mode);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (!strcmp(mode, "missing")) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0, rc;

        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        rc = MPI_Comm_spawn("/nonexistent/fmx-program", MPI_ARGV_NULL, 2, MPI_INFO_NULL, 0,
                            MPI_COMM_WORLD, &inter, errs);
        MPI_Error_string(rc, msg, &len);
        printf("spawn: rank %d: MPI_Comm_spawn %s: %s\n", rank, rc ? "failed" : "succeeded", msg);
        fflush(stdout);
        MPI_Finalize();
        return rc == MPI_SUCCESS;
    }
    if (!strcmp(mode, "multiple")) {
        MPI_Comm_spawn_multiple(2, cmds, argvs, maxprocs, infos, 0, MPI_COMM_WORLD, &inter, errs);
        nchildren = 3;
    } else {
        nchildren = timed > 0 && timed <= 1024 ? timed : 2;
        t0 = MPI_Wtime();
        MPI_Comm_spawn(argv[0], child_argv + 1, nchildren, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter,
                       errs);
        if (timed && rank == 0)
            printf("spawn: rank 0: MPI_Comm_spawn of %d took %.1f ms\n", nchildren,
                   (MPI_Wtime() - t0) * 1e3);
    }
    for (int i = 0; i < nchildren; i++)
        if (errs[i] != MPI_SUCCESS) {
            printf("spawn: rank %d: child %d error code %d\n", rank, i, errs[i]);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    if (rank == 0) {
        for (int i = 0; i < nchildren; i++) {
            int v = 1000 + i;
            MPI_Send(&v, 1, MPI_INT, i, 7, inter);
        }
        for (int i = 0; i < nchildren; i++) {
            /* multiple: child 0 is application 0, children 1 and 2 application 1 */
            int v = 0, app = !strcmp(mode, "multiple") && i > 0;
            MPI_Recv(&v, 1, MPI_INT, i, 8, inter, MPI_STATUS_IGNORE);
            good += v == 2 * (1000 + i) + app;
            if (v != 2 * (1000 + i) + app)
                printf("spawn: child %d answered %d, expected %d\n", i, v, 2 * (1000 + i) + app);
        }
        printf("spawn: rank 0 got %d answers, expected %d\n", good, nchildren);
    }
    MPI_Comm_disconnect(&inter);
    printf("spawn: rank %d done\n", rank);
    MPI_Finalize();
    return rank == 0 && good != nchildren;
}
