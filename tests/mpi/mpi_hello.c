/* Every rank checks MPI_COMM_WORLD's size against the job size pmixrun was given (argv[1])
 * and prints its rank and host; the test counts the lines. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int rank, size, want = argc > 1 ? atoi(argv[1]) : -1;
    char host[256] = "";

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof(host) - 1);
    if (want >= 0 && size != want) {
        fprintf(stderr, "rank %d: world size %d, expected %d\n", rank, size, want);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    printf("hello from rank %d of %d on %s\n", rank, size, host);
    MPI_Finalize();
    return 0;
}
