/* Which members a member meets in fences over the whole group, for the front ends that set up
 * or check those paths ahead of the first fence. */
#include "internal.h"

uint32_t fmx_engine_neighbours(fmx_engine_t *e, uint32_t *out, uint32_t max)
{
    uint32_t n = e->members, me = e->self, count = 0;

    for (uint32_t k = 1; k < n; k <<= 1) {
        /* at distance k either way (ring, bruck, dissemination), and the recursive-doubling
         * partner */
        uint32_t peers[3] = {(me + k) % n, (me + n - k % n) % n, me ^ k};

        for (int i = 0; i < 3; i++) {
            uint32_t p = peers[i], seen = 0;

            if (p >= n || p == me || e->lost[p])
                continue;
            for (uint32_t j = 0; j < count && j < max && !seen; j++)
                seen = out[j] == p;
            if (!seen) {
                if (count < max)
                    out[count] = p;
                count++;
            }
        }
    }
    return count;
}

void fmx_engine_connect_ahead(fmx_engine_t *e)
{
    uint32_t peers[3 * 32], n;

    if (!e->tp->ops->connect)
        return;
    n = fmx_engine_neighbours(e, peers, sizeof(peers) / sizeof(*peers));
    for (uint32_t i = 0; i < n && i < sizeof(peers) / sizeof(*peers); i++)
        e->tp->ops->connect(e->tp, peers[i]);
}
