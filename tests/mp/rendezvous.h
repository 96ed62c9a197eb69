/* Address exchange for multi-process tests: each process writes its fabric address as hex to
 * DIR/addr.RANK (atomically, by rename) and waits, with a deadline, until all are there. */
#ifndef FMX_TEST_RENDEZVOUS_H
#define FMX_TEST_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

/* On success addrs[i] (malloc'd) and lens[i] hold member i's address; free with rdv_free. */
int rdv_exchange(const char *dir, uint32_t rank, uint32_t size, const void *addr, size_t len,
                 int timeout_ms, void ***addrs, size_t **lens);
void rdv_free(uint32_t size, void **addrs, size_t *lens);

#endif
