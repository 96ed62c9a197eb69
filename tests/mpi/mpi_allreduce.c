/* MPI_Allreduce of (rank + 1) * i over a vector; every rank verifies every element against the
 * closed form and rank 0 reports. */
#include <mpi.h>
#include <stdio.h>

#define LEN 1000

int main(int argc, char **argv)
{
    int rank, size, bad = 0, anybad;
    static long in[LEN], out[LEN];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 0; i < LEN; i++)
        in[i] = (long)(rank + 1) * i;
    MPI_Allreduce(in, out, LEN, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    for (int i = 0; i < LEN; i++)
        bad += out[i] != (long)size * (size + 1) / 2 * i;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("allreduce over %d ranks: %d wrong elements, sum[999] = %ld\n", size, anybad,
               out[LEN - 1]);
    MPI_Finalize();
    return anybad ? 4 : 0;
}
