/* Algorithm names and the choice of an algorithm for a fence. The choice must come out the
 * same on every participant, so it uses only what they share: member count, whether data is
 * collected, the caller's common size hint and the environment (FMX_FENCE_ALGO,
 * FMX_BARRIER_ALGO). A mismatch is still caught: frames carry the algorithm. */
#include "internal.h"

#include <string.h>

static const char *const names[FMX_ALGO_COUNT] = {
    [FMX_ALGO_AUTO] = "auto",   [FMX_ALGO_TREE] = "tree", [FMX_ALGO_RD] = "rd",
    [FMX_ALGO_BRUCK] = "bruck", [FMX_ALGO_RING] = "ring", [FMX_ALGO_DISSEM] = "dissemination",
    [FMX_ALGO_HIER] = "hier",
};

const char *fmx_algo_name(int algo)
{
    return algo >= 0 && algo < FMX_ALGO_COUNT ? names[algo] : "unknown";
}

int fmx_algo_parse(const char *name)
{
    for (int i = 0; i < FMX_ALGO_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    if (strcmp(name, "recursive-doubling") == 0)
        return FMX_ALGO_RD;
    if (strcmp(name, "dissem") == 0)
        return FMX_ALGO_DISSEM;
    return -EINVAL;
}

const struct fmx_algo_ops *fmx_algo_ops(int algo)
{
    switch (algo) {
    case FMX_ALGO_TREE:
        return &fmx_alg_tree;
    case FMX_ALGO_RD:
        return &fmx_alg_rd;
    case FMX_ALGO_BRUCK:
        return &fmx_alg_bruck;
    case FMX_ALGO_RING:
        return &fmx_alg_ring;
    case FMX_ALGO_DISSEM:
        return &fmx_alg_dissem;
    case FMX_ALGO_HIER:
        return &fmx_alg_hier;
    default:
        return NULL;
    }
}

/* Above this total a ring's one-neighbour traffic beats the log-step algorithms' large
 * messages; below it latency (log2 P steps) dominates. Measured (bench/engine.sh, 16 members,
 * one 2-core host): at 1 MB bruck and rd lead ring by 30-40% on tcp and shm; at 10 MB ring
 * leads bruck by 30% on tcp and 6% on shm; at 64 MB by 24-15%. */
#define RING_THRESHOLD (4u << 20)

int fmx_algo_choose(fmx_engine_t *e, uint32_t P, int collect, size_t size_hint, int requested)
{
    int algo = requested;

    if (algo == FMX_ALGO_AUTO)
        algo = collect ? e->env_fence_algo : e->env_barrier_algo;
    /* The hierarchical algorithm runs only when asked for: on the hosts it could be measured on
     * (network namespaces of one machine, bench/hier.sh) it was 1.3-2.4x slower than the best
     * flat one, whose steps already cross between hosts once when members are placed in blocks,
     * while its leaders carry every byte of their host alone. */
    if (algo == FMX_ALGO_AUTO) {
        if (!collect)
            algo = FMX_ALGO_DISSEM;
        else if (size_hint >= RING_THRESHOLD)
            algo = FMX_ALGO_RING;
        else if ((P & (P - 1)) == 0)
            algo = FMX_ALGO_RD;
        else
            algo = FMX_ALGO_BRUCK;
    }
    if (algo == FMX_ALGO_DISSEM && collect)
        algo = FMX_ALGO_BRUCK; /* the same pattern, carrying data */
    fmx_debug("engine", "fence over %u members, %s, hint %zu bytes: %s", P,
              collect ? "collecting" : "no data", size_hint, fmx_algo_name(algo));
    return algo;
}
