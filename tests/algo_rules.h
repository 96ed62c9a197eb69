/* The algorithm a fence must run, by the rules documented in engine/select.c, written out again
 * here so that a test fails when the engine ignores a request or its rules change unnoticed.
 * Header-only; shared by the unit tests and the multi-process peer. */
#ifndef FMX_TEST_ALGO_RULES_H
#define FMX_TEST_ALGO_RULES_H

#include "fmx_engine.h"

#include <stdlib.h>

/* A requested algorithm runs as asked (dissemination carries no data, so a collecting fence runs
 * Bruck's pattern); auto takes FMX_FENCE_ALGO for a collecting fence when set, else
 * dissemination without data, ring from a 4 MiB total hint up, recursive doubling for a power of
 * two, else Bruck (never the hierarchical one: it runs only when asked for). */
static inline int expected_algo(int requested, uint32_t P, int collect, size_t hint)
{
    const char *env = getenv("FMX_FENCE_ALGO");

    if (requested == FMX_ALGO_AUTO && collect && env && *env)
        requested = fmx_algo_parse(env);
    if (requested == FMX_ALGO_AUTO) {
        if (!collect)
            return FMX_ALGO_DISSEM;
        if (hint >= 4u << 20)
            return FMX_ALGO_RING;
        return (P & (P - 1)) == 0 ? FMX_ALGO_RD : FMX_ALGO_BRUCK;
    }
    return requested == FMX_ALGO_DISSEM && collect ? FMX_ALGO_BRUCK : requested;
}

#endif
