/* Two jobs that meet, as an application written for mpirun and ompi-server does it: run as
 * `mpi_jobs accept` in one job and `mpi_jobs connect [SECONDS]` in another. The accepting job's
 * rank 0 opens a port and publishes it under a service name; the connecting job's rank 0 looks
 * the name up (trying again for up to SECONDS, 20 by default: MPI_Lookup_name does not wait);
 * each job's ranks accept / connect together, merge the intercommunicator, and sum a number
 * from every rank of both jobs (each rank's data is read from the other job). Prints "jobs:
 * <side> rank R: N ranks, sum S, expected S" on every rank; exits non-zero on any error; a name
 * not found is "jobs: ... was not published within SECONDS s" and status 3. `mpi_jobs publish`
 * publishes the name and ends without unpublishing it. */
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVICE "fmx-jobs-test"

int main(int argc, char **argv)
{
    char port[MPI_MAX_PORT_NAME] = "";
    int rank, size, merged_size, accept, value, sum = 0, want = 0, rc = MPI_ERR_NAME;
    MPI_Comm inter, merged;

    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2 ||
        (strcmp(argv[1], "accept") && strcmp(argv[1], "connect") && strcmp(argv[1], "publish"))) {
        if (rank == 0)
            printf("usage: mpi_jobs accept|connect [SECONDS]|publish\n");
        MPI_Finalize();
        return 2;
    }
    if (!strcmp(argv[1], "publish")) {
        if (rank == 0) {
            MPI_Open_port(MPI_INFO_NULL, port);
            MPI_Publish_name(SERVICE, MPI_INFO_NULL, port);
            printf("jobs: published %s\n", SERVICE);
        }
        MPI_Finalize();
        return 0;
    }
    accept = !strcmp(argv[1], "accept");
    if (accept) {
        if (rank == 0) {
            MPI_Open_port(MPI_INFO_NULL, port);
            MPI_Publish_name(SERVICE, MPI_INFO_NULL, port);
        }
        MPI_Comm_accept(port, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter);
    } else {
        if (rank == 0) {
            int secs = argc > 2 ? atoi(argv[2]) : 20;

            MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
            for (int i = 0; i < secs * 20 && rc != MPI_SUCCESS; i++)
                if ((rc = MPI_Lookup_name(SERVICE, MPI_INFO_NULL, port)) != MPI_SUCCESS)
                    usleep(50000);
            MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
            if (rc != MPI_SUCCESS) {
                printf("jobs: connect rank 0: %s was not published within %d s\n", SERVICE, secs);
                fflush(stdout);
                MPI_Abort(MPI_COMM_WORLD, 3);
            }
        }
        MPI_Comm_connect(port, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter);
    }
    MPI_Intercomm_merge(inter, accept ? 0 : 1, &merged);
    MPI_Comm_size(merged, &merged_size);
    /* every rank of both jobs adds 1000 * (1 + its side) + its rank */
    value = 1000 * (1 + !accept) + rank;
    MPI_Allreduce(&value, &sum, 1, MPI_INT, MPI_SUM, merged);
    {
        int remote;

        MPI_Comm_remote_size(inter, &remote);
        for (int r = 0; r < size; r++)
            want += 1000 * (1 + !accept) + r;
        for (int r = 0; r < remote; r++)
            want += 1000 * (1 + accept) + r;
    }
    printf("jobs: %s rank %d: %d ranks, sum %d, expected %d\n", argv[1], rank, merged_size, sum,
           want);
    MPI_Comm_free(&merged);
    MPI_Comm_disconnect(&inter);
    if (accept && rank == 0) {
        MPI_Unpublish_name(SERVICE, MPI_INFO_NULL, port);
        MPI_Close_port(port);
    }
    MPI_Finalize();
    return sum == want ? 0 : 1;
}
