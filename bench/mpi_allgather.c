/* The peers' side of the engine benchmark: Open MPI's MPI_Allgatherv of S bytes in all (S/P
 * from each rank) and MPI_Barrier, timed exactly as fence_bench times the engine: per
 * repetition a barrier, then the operation, the slowest rank's time; the median over the
 * repetitions. Run by mpirun with the BTL chosen on its command line (bench/engine.sh).
 *   mpi_allgather LABEL SIZES REPS     (SIZES: comma-separated totals in bytes, 0 = barrier)
 * Prints CSV rows: label,kind,P,S_bytes,reps,min_us,median_us,p99_us */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One size: every rank checks the bytes it received (rank r fills its share with r + i). */
static int run(const char *label, long total, int reps, int rank, int size)
{
    long each = total / size;
    unsigned char *mine = malloc(each ? (size_t)each : 1);
    unsigned char *all = malloc(total ? (size_t)(each * size) : 1);
    int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
    double *t = malloc(sizeof(double) * (size_t)reps);

    if (!mine || !all || !counts || !displs || !t)
        return 1;
    for (long i = 0; i < each; i++)
        mine[i] = (unsigned char)(rank + i);
    for (int r = 0; r < size; r++) {
        counts[r] = (int)each;
        displs[r] = (int)(each * r);
    }
    for (int i = 0; i < reps; i++) {
        double t0, mine_t, slowest;

        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        if (total)
            MPI_Allgatherv(mine, (int)each, MPI_BYTE, all, counts, displs, MPI_BYTE,
                           MPI_COMM_WORLD);
        else
            MPI_Barrier(MPI_COMM_WORLD);
        mine_t = MPI_Wtime() - t0;
        MPI_Reduce(&mine_t, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        t[i] = slowest * 1e6;
    }
    if (total && each && all[each * size - 1] != (unsigned char)(size - 1 + each - 1)) {
        fprintf(stderr, "mpi_allgather: rank %d: wrong last byte\n", rank);
        return 1;
    }
    if (rank == 0) {
        qsort(t, (size_t)reps, sizeof(*t), cmp_double);
        printf("%s,%s,%d,%ld,%d,%.1f,%.1f,%.1f\n", label, total ? "allgatherv" : "barrier", size,
               each * size, reps, t[0], t[reps / 2], t[(reps * 99) / 100]);
        fflush(stdout);
    }
    free(mine);
    free(all);
    free(counts);
    free(displs);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    int rank, size, rc = 0;
    char *sizes, *save = NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 4 || atoi(argv[3]) <= 0) {
        if (rank == 0)
            fprintf(stderr, "usage: mpi_allgather LABEL SIZES REPS\n");
        MPI_Finalize();
        return 2;
    }
    sizes = strdup(argv[2]);
    for (char *s = strtok_r(sizes, ",", &save); s && !rc; s = strtok_r(NULL, ",", &save))
        rc = run(argv[1], atol(s), atoi(argv[3]), rank, size);
    free(sizes);
    MPI_Finalize();
    return rc;
}
