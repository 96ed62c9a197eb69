/* A PMIx client for the soak benchmark: `fence_loop N` runs N fences without data over the
 * whole job (PMIx_Fence), checking each; rank 0 prints how many and how fast. Exits 1 at the
 * first fence that fails. */
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    pmix_proc_t me;
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    struct timespec a, b;
    pmix_status_t rc = PMIx_Init(&me, NULL, 0);

    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "fence_loop: PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (unsigned long i = 0; i < n; i++) {
        if ((rc = PMIx_Fence(NULL, 0, NULL, 0)) != PMIX_SUCCESS) {
            fprintf(stderr, "fence_loop: rank %u: fence %lu of %lu: %s\n", me.rank, i + 1, n,
                    PMIx_Error_string(rc));
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (me.rank == 0) {
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        printf("fence_loop: %lu fences in %.1f s (%.0f per second)\n", n, s, (double)n / s);
    }
    PMIx_Finalize(NULL, 0);
    return 0;
}
