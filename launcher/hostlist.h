/* Slurm's compressed forms, read: a host list such as "node[1-4,7],gpu-a[01-02]" (ranges with
 * their leading zeros kept, several bracket groups in one name expanding to every combination,
 * commas inside brackets separating ranges) and a count list such as "2(x3),1" (a count
 * repeated). Knows nothing of Slurm's environment or of the job map. */
#ifndef FMX_HOSTLIST_H
#define FMX_HOSTLIST_H

#include "fmx_common.h"

#include <stddef.h>
#include <stdint.h>

/* At most this many names (or counts) from one list: a range such as [1-99999999] is an
 * error, not a gigabyte of names. */
#define FMX_HOSTLIST_MAX 65536

/* Expands spec into *names (n of them, in order; free with fmx_hostlist_free). 0, or -EINVAL /
 * -E2BIG / -ENOMEM with err naming the part of spec that cannot be read and why. */
int fmx_hostlist_expand(const char *spec, char ***names, size_t *n, fmx_error_t *err);
void fmx_hostlist_free(char **names, size_t n);

/* Expands "2(x3),1" into *counts (n of them: 2,2,2,1; free()). Same errors. */
int fmx_counts_expand(const char *spec, uint32_t **counts, size_t *n, fmx_error_t *err);

#endif
