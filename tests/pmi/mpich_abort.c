/* Rank 1 calls MPI_Abort(MPI_COMM_WORLD, 7) while the others wait in a barrier: the job must
 * end with status 7 (MPICH's PMI_Abort on the PMI-1 wire). */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    int rank;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 1) {
        fprintf(stderr, "rank 1 aborts on purpose\n");
        MPI_Abort(MPI_COMM_WORLD, 7);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return 0;
}
