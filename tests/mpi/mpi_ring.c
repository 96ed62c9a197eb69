/* A token goes around the ring of ranks several times; each rank adds its rank to it. After
 * LAPS laps rank 0 checks the sum it computed independently. */
#include <mpi.h>
#include <stdio.h>

#define LAPS 10

int main(int argc, char **argv)
{
    int rank, size;
    long token = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int lap = 0; lap < LAPS; lap++) {
        if (rank == 0) {
            MPI_Send(&token, 1, MPI_LONG, (rank + 1) % size, 0, MPI_COMM_WORLD);
            MPI_Recv(&token, 1, MPI_LONG, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(&token, 1, MPI_LONG, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            token += rank;
            MPI_Send(&token, 1, MPI_LONG, (rank + 1) % size, 0, MPI_COMM_WORLD);
        }
    }
    if (rank == 0) {
        long want = (long)LAPS * size * (size - 1) / 2;
        printf("ring of %d ranks, %d laps: token %ld, expected %ld\n", size, LAPS, token, want);
        if (token != want)
            MPI_Abort(MPI_COMM_WORLD, 3);
    }
    MPI_Finalize();
    return 0;
}
