/* MPI's naming and connection across ranks of one job, as an application written for mpirun
 * uses them: rank 0 opens a port, publishes it under a service name and accepts; the last rank
 * looks the name up (waiting until it is published) and connects; they exchange a number over
 * the new intercommunicator and disconnect; rank 0 unpublishes. Other ranks only take part in
 * the closing barrier. Prints "connect: rank R got N, expected N" on both sides; exits non-zero
 * on any error. */
#include <mpi.h>

#include <stdio.h>
#include <string.h>

#define SERVICE "fmx-connect-test"

int main(int argc, char **argv)
{
    char port[MPI_MAX_PORT_NAME] = "";
    int rank, size, value = 0, want = 0;
    MPI_Comm inter;

    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        printf("connect: needs two ranks\n");
        MPI_Finalize();
        return 1;
    }
    if (rank == 0) {
        MPI_Open_port(MPI_INFO_NULL, port);
        MPI_Publish_name(SERVICE, MPI_INFO_NULL, port);
        MPI_Barrier(MPI_COMM_WORLD); /* published before anyone looks */
        MPI_Comm_accept(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &inter);
        value = 4242;
        MPI_Send(&value, 1, MPI_INT, 0, 1, inter);
        MPI_Recv(&value, 1, MPI_INT, 0, 2, inter, MPI_STATUS_IGNORE);
        want = 4243;
    } else if (rank == size - 1) {
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Lookup_name(SERVICE, MPI_INFO_NULL, port);
        MPI_Comm_connect(port, MPI_INFO_NULL, 0, MPI_COMM_SELF, &inter);
        MPI_Recv(&value, 1, MPI_INT, 0, 1, inter, MPI_STATUS_IGNORE);
        want = 4242;
        printf("connect: rank %d got %d, expected %d\n", rank, value, want);
        value++;
        MPI_Send(&value, 1, MPI_INT, 0, 2, inter);
        value = want;
    } else {
        MPI_Barrier(MPI_COMM_WORLD);
    }
    if (rank == 0 || rank == size - 1) {
        if (rank == 0)
            printf("connect: rank %d got %d, expected %d\n", rank, value, want);
        MPI_Comm_disconnect(&inter);
    }
    if (rank == 0) {
        MPI_Unpublish_name(SERVICE, MPI_INFO_NULL, port);
        MPI_Close_port(port);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return value == want || (rank != 0 && rank != size - 1) ? 0 : 1;
}
