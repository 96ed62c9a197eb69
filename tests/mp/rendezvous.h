/* Address exchange for multi-process tests: each process writes its fabric address as hex to
 * DIR/addr.RANK (atomically, by rename) and waits, with a deadline, until all are there. */
#ifndef FMX_TEST_RENDEZVOUS_H
#define FMX_TEST_RENDEZVOUS_H

#include "fmx_ofi.h"

#include <stddef.h>
#include <stdint.h>

/* On success addrs[i] (malloc'd) and lens[i] hold member i's address; free with rdv_free. */
int rdv_exchange(const char *dir, uint32_t rank, uint32_t size, const void *addr, size_t len,
                 int timeout_ms, void ***addrs, size_t **lens);
void rdv_free(uint32_t size, void **addrs, size_t *lens);
/* Member `rank` of `size` joins: publishes tp's address in dir, waits for every other member's
 * and adds them all as tp's peers. 0, or a negative errno. */
int rdv_join(fmx_transport_t *tp, const char *dir, uint32_t rank, uint32_t size, int timeout_ms);

#endif
